"""Both feature streams of a clip's audio, as one call a thread or a process can run, and
what it returns (torch-free: the process that receives features does not import torch)."""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

import numpy as np

MEL80_FILE = "mel80.npy"
WHISPER50_FILE = "whisper50.npy"


@dataclass(frozen=True, eq=False)
class Whisper50:
    """whisper50 features ``(W, layers, dim)`` float32 and where they came from.

    ``source`` is ``"whisper-encoder"`` or, without weights, ``"logmel-pool"``: the log-mel
    averaged in pairs, shape ``(W, 1, n_mels)``, on the same 50 Hz grid. ``warning`` says
    so in a sentence when it applies.
    """

    features: np.ndarray
    source: str
    model: str | None
    warning: str | None = None


Features = tuple[np.ndarray, Whisper50]  # mel80 (80, M) float32 and whisper50


def preload_encoder(whisper_checkpoint: str | None, whisper_model: str) -> None:
    """Import torch and load the Whisper encoder into this process's cache, ahead of
    ``extract_features`` (a process started for the features does it while the clip is read)."""
    from museviz.whisper50 import load_encoder

    load_encoder(whisper_checkpoint, whisper_model)  # kept in this process's cache; not returned (a model would be pickled)


def extract_features(audio_16k: np.ndarray, whisper_checkpoint: str | None, whisper_model: str, torch_threads: int | None = None) -> Features:
    """mel80 and whisper50 of 16 kHz mono audio (loads torch and the Whisper encoder on
    first use in this process). ``torch_threads`` sets torch's threads in this process
    (None: torch's default, one per core)."""
    from museviz.mel80 import mel80
    from museviz.whisper50 import load_encoder, whisper50

    _set_torch_threads(torch_threads)
    encoder = load_encoder(whisper_checkpoint, whisper_model)
    return mel80(audio_16k), whisper50(audio_16k, encoder)


def extract_features_into(folder: str, audio_16k: np.ndarray, whisper_checkpoint: str | None, whisper_model: str, torch_threads: int | None = None) -> dict:
    """``extract_features`` for another process: the arrays written into ``folder``
    (``MEL80_FILE``, ``WHISPER50_FILE``), whisper50's source, model and warning returned.
    A process hands them over as files rather than as a pickle, which the receiver would
    hold twice while it unpickles (220 MB of features for 10 minutes). whisper50 is
    encoded straight into its file, layer by layer, so this process never holds it whole
    either; mel80 is written before it is encoded."""
    from museviz.mel80 import mel80
    from museviz.whisper50 import load_encoder, whisper50, whisper50_shape

    _set_torch_threads(torch_threads)
    np.save(os.path.join(folder, MEL80_FILE), mel80(audio_16k))
    encoder = load_encoder(whisper_checkpoint, whisper_model)
    n_tok, layers, dim = whisper50_shape(len(audio_16k), encoder)
    stored = np.lib.format.open_memmap(os.path.join(folder, WHISPER50_FILE), mode="w+", dtype=np.float32, shape=(layers, n_tok, dim))
    whisper = whisper50(audio_16k, encoder, out=stored.transpose(1, 0, 2))
    stored.flush()
    return {"source": whisper.source, "model": whisper.model, "warning": whisper.warning}


def _set_torch_threads(torch_threads: int | None) -> None:
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)


def read_features(folder: str, described: dict) -> Features:
    """The features ``extract_features_into`` wrote into ``folder`` and described.

    whisper50 is mapped from its file, not read: stored layer by layer, a view of it as
    (W, layers, dim) brings into memory only the layers that are read (the overlay and
    features.png read one: 46 MB of a 10 minute clip's 220)."""
    mel = np.load(os.path.join(folder, MEL80_FILE))
    layers = np.load(os.path.join(folder, WHISPER50_FILE), mmap_mode="r")
    return mel, Whisper50(layers.transpose(1, 0, 2), **described)


def release_pages(array: np.ndarray) -> None:
    """Let go of the pages this process has read of the file ``array`` is mapped from (as
    ``read_features`` maps whisper50): they leave its memory and stay in the page cache,
    read again from there if needed. Nothing for an array that is not mapped, or where the
    system cannot be told."""
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is not None and hasattr(mmap, "MADV_DONTNEED"):
        base.madvise(mmap.MADV_DONTNEED)
