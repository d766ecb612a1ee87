"""Whisper encoder features at 50 Hz, the stream of MuseTalk and LatentSync.

The log-mel has one frame per 10 ms (``N // 160`` frames, the STFT's last frame
dropped) and is normalised over the whole file. The encoder's stride-2 convolution
halves the rate, so token ``k`` is centred at ``k * 20`` ms. Audio is encoded in
independent 30 s segments: mel slice ``[s, s + 3000)``, zero-padded to 3000 frames,
encoded to 1500 tokens of which the first ``len(slice) // 2`` are kept, so
``W = N // 320``. Every hidden state is kept, as MuseTalk does: the embedding (after the
convolutions and positional embedding) and each block's output, before ``ln_post``.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
import zipfile
from dataclasses import dataclass

import numpy as np
import torch
import whisper
from whisper.audio import HOP_LENGTH, N_FFT, N_FRAMES
from whisper.model import AudioEncoder, ModelDimensions

from museviz.config import CHECKPOINT_ENV, DEFAULT_MODEL, offline
from museviz.errors import MusevizError
from museviz.features import Whisper50, release_pages
from museviz.grid import MEL_FRAMES_PER_TOKEN, SOURCE_ENCODER, SOURCE_FALLBACK, WHISPER_HOP_LENGTH, n_tokens

assert HOP_LENGTH == WHISPER_HOP_LENGTH, "openai-whisper changed its hop length"
SEGMENT_MEL_FRAMES = N_FRAMES  # 3000 mel frames: one 30 s encoder input
SEGMENTS_PER_BATCH = 1  # encoder inputs per forward pass: one 30 s segment's attention is 54 MB (tiny); batches of 2 or 4 were no faster on CPU and held 60-140 MB more of a 10 min clip
DOWNLOAD_PROBE_TIMEOUT_S = 3.0
STFT_FRAMES_AT_ONCE = 3000  # 30 s of audio


class EncoderModel(torch.nn.Module):
    """openai-whisper's ``Whisper`` without its text decoder: the ``dims`` and ``encoder``
    whisper50 reads. The decoder is most of a checkpoint (29 M of tiny's 39 M parameters,
    118 MB in float32) and museviz never runs it."""

    def __init__(self, dims: ModelDimensions):
        super().__init__()
        self.dims = dims
        self.encoder = AudioEncoder(dims.n_mels, dims.n_audio_ctx, dims.n_audio_state, dims.n_audio_head, dims.n_audio_layer)


@dataclass(frozen=True)
class Encoder:
    """A loaded Whisper encoder, or ``model=None`` with the reason weights are missing."""

    model: EncoderModel | None
    label: str | None
    warning: str | None = None


def log_mel(audio_16k: np.ndarray, n_mels: int = 80) -> torch.Tensor:
    """openai-whisper's log-mel of the whole file, normalised once: (n_mels, N // 160).

    ``whisper.log_mel_spectrogram``'s steps, equal to the last bit (tested), with less
    memory: the power spectrum is taken in parts (``_power_spectrum``) and the steps after
    it run in place. Whisper's function held 190 MB of a 10 minute clip's STFT and
    magnitudes at once, then a new array for each step.
    """
    log_spec = whisper.audio.mel_filters("cpu", n_mels) @ _power_spectrum(audio_16k)
    log_spec.clamp_(min=1e-10).log10_()
    torch.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
    return log_spec.add_(4.0).div_(4.0)


def _power_spectrum(audio_16k: np.ndarray) -> torch.Tensor:
    """(N_FFT // 2 + 1, N // 160): the squared magnitudes of the STFT whisper takes (its
    last frame dropped, as whisper does), ``STFT_FRAMES_AT_ONCE`` frames at a time from the
    same reflect-padded audio."""
    audio = torch.from_numpy(np.ascontiguousarray(audio_16k, dtype=np.float32))
    padded = torch.nn.functional.pad(audio[None, None], (N_FFT // 2, N_FFT // 2), mode="reflect")[0, 0]  # as torch.stft(center=True)
    window = torch.hann_window(N_FFT)
    n_frames = len(audio) // HOP_LENGTH
    power = torch.empty(n_frames, N_FFT // 2 + 1).T  # frequency-major in memory, as torch.stft leaves it: the mel product then takes whisper's path
    for first in range(0, n_frames, STFT_FRAMES_AT_ONCE):
        last = min(n_frames, first + STFT_FRAMES_AT_ONCE)
        stft = torch.stft(padded[first * HOP_LENGTH : (last - 1) * HOP_LENGTH + N_FFT], N_FFT, HOP_LENGTH, window=window, center=False, return_complex=True)
        power[:, first:last] = stft.abs() ** 2
    return power


def whisper50(audio_16k: np.ndarray, encoder: Encoder, out: np.ndarray | None = None) -> Whisper50:
    """Encode 16 kHz mono audio to whisper50 features with ``encoder`` (see module docstring).

    Parameters
    ----------
    audio_16k : np.ndarray, shape (N,)
    encoder : Encoder, from ``load_encoder``
    out : np.ndarray, shape ``whisper50_shape(N, encoder)``, float32, optional
        Where the features are written, a new array by default. The features process
        passes a view of its memory-mapped handover file, so that they never sit whole in
        its memory (see ``encode_hidden_states``).

    Returns
    -------
    Whisper50 with features of shape (N // 320, 1 + n_blocks, d), or the
    ``logmel-pool`` fallback of shape (N // 320, 1, 80) when ``encoder.model`` is None.
    """
    features = np.empty(whisper50_shape(len(audio_16k), encoder), np.float32) if out is None else out
    if len(features) == 0:
        return Whisper50(features, _source(encoder), encoder.label, encoder.warning)
    mel = log_mel(audio_16k, encoder.model.dims.n_mels if encoder.model is not None else 80)
    if encoder.model is None:
        features[:] = pool_log_mel(mel.numpy())
        return Whisper50(features, SOURCE_FALLBACK, None, encoder.warning)
    encode_hidden_states(encoder.model, mel, features)
    return Whisper50(features, SOURCE_ENCODER, encoder.label)


def whisper50_shape(n_samples: int, encoder: Encoder) -> tuple[int, int, int]:
    """(W, layers, dim) of the whisper50 features of ``n_samples`` samples: (N // 320,
    1 + n_blocks, d), or (N // 320, 1, n_mels) for the fallback."""
    if encoder.model is None:
        return n_tokens(n_samples), 1, 80
    return n_tokens(n_samples), 1 + encoder.model.dims.n_audio_layer, encoder.model.dims.n_audio_state


def pool_log_mel(mel: np.ndarray) -> np.ndarray:
    """The fallback stream: log-mel (n_mels, 2W + r) averaged in pairs -> (W, 1, n_mels)."""
    n_tok = mel.shape[1] // MEL_FRAMES_PER_TOKEN
    pairs = mel[:, : n_tok * MEL_FRAMES_PER_TOKEN].reshape(mel.shape[0], n_tok, MEL_FRAMES_PER_TOKEN)
    return pairs.mean(axis=2).T[:, None, :].astype(np.float32)


def encode_hidden_states(model: EncoderModel, mel: torch.Tensor, out: np.ndarray) -> None:
    """Every encoder hidden state of ``mel`` (n_mels, T) in independent 30 s segments,
    written into ``out`` (T // 2, 1 + n_blocks, d) float32 a batch at a time.

    Runs ``model.encoder`` itself (hooks read the embedding entering the first block and
    each block's output), ``SEGMENTS_PER_BATCH`` segments per pass. Each state goes straight into
    ``out``: no batch's states are stacked and no list of batches is concatenated, which
    held a 10 min clip's 220 MB of features twice. A memory-mapped ``out`` lets go of
    each batch's pages once written, so the file's pages do not pile up in the process.
    """
    starts = range(0, mel.shape[1], SEGMENT_MEL_FRAMES)
    for first in range(0, len(starts), SEGMENTS_PER_BATCH):
        batch_starts = starts[first : first + SEGMENTS_PER_BATCH]
        batch = torch.stack([whisper.pad_or_trim(mel[:, s : s + SEGMENT_MEL_FRAMES], SEGMENT_MEL_FRAMES) for s in batch_starts])
        for layer, states in enumerate(_hidden_states(model, batch)):
            for i, s in enumerate(batch_starts):
                kept = min(SEGMENT_MEL_FRAMES, mel.shape[1] - s) // MEL_FRAMES_PER_TOKEN
                out[s // MEL_FRAMES_PER_TOKEN : s // MEL_FRAMES_PER_TOKEN + kept, layer] = states[i, :kept].numpy()
        release_pages(out)


def _hidden_states(model: EncoderModel, batch: torch.Tensor) -> list[torch.Tensor]:
    """1 + n_blocks tensors (B, 1500, d): the first block's input and every block's output."""
    captured: list[torch.Tensor] = []
    weight = next(model.parameters())
    blocks = model.encoder.blocks
    hooks = [blocks[0].register_forward_pre_hook(lambda _m, args: captured.append(args[0]))]
    hooks += [b.register_forward_hook(lambda _m, _a, out: captured.append(out)) for b in blocks]
    try:
        with torch.inference_mode():
            model.encoder(batch.to(weight.device, dtype=weight.dtype))
    finally:
        for hook in hooks:
            hook.remove()
    return captured


_lock = threading.Lock()
_encoders: dict[tuple[str | None, str], Encoder] = {}


def load_encoder(checkpoint: str | os.PathLike | None = None, model_name: str = DEFAULT_MODEL) -> Encoder:
    """The Whisper encoder, loaded once per process, found in this order:

    1. ``checkpoint``: a file in openai-whisper's format (the interfaces fill it from
       ``--whisper-checkpoint`` or ``$MUSEVIZ_WHISPER_CHECKPOINT``);
    2. openai-whisper's cache (``~/.cache/whisper``) for ``model_name``;
    3. a download of ``model_name`` when the network allows (never with ``MUSEVIZ_OFFLINE=1``);
    4. none: ``Encoder(model=None)`` with a warning, and whisper50 falls back to ``logmel-pool``.

    Raises
    ------
    MusevizError
        When a checkpoint is named but is not a readable Whisper checkpoint.
    """
    checkpoint = os.fspath(checkpoint) if checkpoint else None
    key = (checkpoint, model_name)
    with _lock:
        if key not in _encoders:
            _encoders[key] = _load(checkpoint, model_name)
        return _encoders[key]


def _source(encoder: Encoder) -> str:
    return SOURCE_ENCODER if encoder.model is not None else SOURCE_FALLBACK


def _load(checkpoint: str | None, model_name: str) -> Encoder:
    if checkpoint:
        if not os.path.isfile(checkpoint):
            raise MusevizError(f"Whisper checkpoint {checkpoint} does not exist: give the path of a .pt file in openai-whisper's format")
        try:
            return Encoder(read_encoder(checkpoint), os.path.basename(checkpoint))
        except Exception as exc:
            raise MusevizError(f"{os.path.basename(checkpoint)} is not a Whisper checkpoint ({type(exc).__name__}): give a .pt file in openai-whisper's format") from None
    if model_name not in whisper.available_models():
        raise MusevizError(f"unknown Whisper model {model_name!r}: choose one of {', '.join(whisper.available_models())}")
    if _in_cache(model_name) or _download_possible(model_name):
        try:
            return Encoder(read_encoder(whisper._download(whisper._MODELS[model_name], _cache_dir(), False)), model_name)
        except Exception as exc:
            reason = f"loading it failed ({type(exc).__name__})"
    else:
        reason = "it is not in openai-whisper's cache and cannot be downloaded from here"
    warning = (
        f"No Whisper weights: {model_name!r} is unavailable because {reason}. whisper50 shows the "
        f"Whisper log-mel averaged in pairs ({SOURCE_FALLBACK}) on the same 50 Hz grid, not encoder features. "
        f"Give a checkpoint (--whisper-checkpoint or {CHECKPOINT_ENV}) or run once with network access."
    )
    return Encoder(None, None, warning)


def read_encoder(checkpoint_file: str) -> EncoderModel:
    """The encoder of a checkpoint in openai-whisper's format, on the CPU, as
    ``whisper.load_model(checkpoint_file).encoder`` has it (the same float32 weights), without
    reading the decoder: the file is mapped and only the encoder's tensors are copied out.
    For tiny in float32 the process grows by 40 MB (70 MB at its peak while loading) instead
    of 180 (300 at its peak: the whole checkpoint read, then a whole model built to copy it
    into). A file of torch's legacy format cannot be mapped and is read whole, as
    openai-whisper reads it.
    """
    checkpoint = torch.load(checkpoint_file, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(checkpoint_file))
    model = EncoderModel(ModelDimensions(**checkpoint["dims"]))
    prefix = "encoder."
    model.encoder.load_state_dict({k.removeprefix(prefix): v for k, v in checkpoint["model_state_dict"].items() if k.startswith(prefix)})
    return model


def _cache_dir() -> str:
    default = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.getenv("XDG_CACHE_HOME", default), "whisper")


def _in_cache(model_name: str) -> bool:
    url = whisper._MODELS[model_name]
    return os.path.isfile(os.path.join(_cache_dir(), os.path.basename(url)))


def _download_possible(model_name: str) -> bool:
    """A quick reachability probe, so that an offline machine falls back at once."""
    if offline():
        return False
    host = urllib.parse.urlparse(whisper._MODELS[model_name]).hostname
    try:
        socket.create_connection((host, 443), timeout=DOWNLOAD_PROBE_TIMEOUT_S).close()
    except OSError:
        return False
    return True
