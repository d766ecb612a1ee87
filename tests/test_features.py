"""mel80 against a plain librosa implementation; whisper50 against a direct encoder pass."""

import sys
import tracemalloc

import librosa
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import whisper
from whisper.model import ModelDimensions
from scipy.signal import lfilter
from test_report import _resident_mb

from museviz.features import WHISPER50_FILE, extract_features, extract_features_into, read_features
from museviz.grid import SOURCE_ENCODER, SOURCE_FALLBACK, n_mel_frames, n_tokens
from museviz import mel80 as mel80_module
from museviz.mel80 import _mel_basis, mel80
from museviz import whisper50 as whisper50_module
from museviz.whisper50 import Encoder, _hidden_states, load_encoder, read_encoder, whisper50, whisper50_shape


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise bursts under a syllable-rate envelope, at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * 16000)) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    tone = np.sin(2 * np.pi * (180 + 40 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return (0.3 * envelope * (tone + 0.3 * rng.standard_normal(len(t)))).astype(np.float32)


def librosa_wav2lip_mel(wav: np.ndarray) -> np.ndarray:
    """The recipe of ALIGNMENT.md written with librosa, as Wav2Lip's audio.py does."""
    emphasised = lfilter([1, -0.97], [1], wav)
    spec = np.abs(librosa.stft(y=emphasised, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect"))
    mel = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600) @ spec
    level = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    return np.clip(8 * (level + 100) / 100 - 4, -4, 4)


@pytest.mark.parametrize("seconds", [0.5, 3.21])
def test_mel80_equals_librosa_recipe_within_1e3(seconds):
    wav = speechlike(seconds)
    ours, reference = mel80(wav), librosa_wav2lip_mel(wav)
    assert ours.shape == reference.shape == (80, n_mel_frames(len(wav)))
    assert ours.shape[1] == 1 + len(wav) // 200
    assert np.max(np.abs(ours - reference)) < 1e-3


@pytest.mark.parametrize("n_samples", [0, 1, 399, 400, 401, 1000, 7 * 200 - 1, 7 * 200, 7 * 200 + 1, 16000 + 123])
def test_mel80_in_blocks_equals_mel80_in_one_block_at_the_reflected_edges(n_samples, monkeypatch):
    wav = speechlike(n_samples / 16000, seed=5)
    whole = mel80(wav)
    monkeypatch.setattr(mel80_module, "BLOCK_FRAMES", 7)
    assert np.array_equal(mel80(wav), whole)


def test_mel80_work_arrays_do_not_grow_with_the_clip(monkeypatch):
    wav = speechlike(60.0)
    monkeypatch.setattr(mel80_module, "BLOCK_FRAMES", 100)
    tracemalloc.start()
    result = mel80(wav)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert peak_mb < result.nbytes / 2**20 + 2 < wav.nbytes * 2 / 2**20  # 1.5 MB of result; the audio in float64 would be 7.3 MB


@pytest.mark.parametrize("n_samples", [320, 481, 1600, 479_999, 480_160, 961_000])
@pytest.mark.parametrize("frames_at_once", [1, 7, 3000])
def test_log_mel_in_parts_equals_whispers_log_mel_spectrogram_to_the_last_bit(n_samples, frames_at_once, monkeypatch):
    wav = speechlike(n_samples / 16000, seed=11)
    monkeypatch.setattr(whisper50_module, "STFT_FRAMES_AT_ONCE", frames_at_once)
    for n_mels in (80, 128):
        assert torch.equal(whisper50_module.log_mel(wav, n_mels), whisper.log_mel_spectrogram(torch.from_numpy(wav.astype(np.float32)), n_mels))


def test_mel_basis_is_librosas_slaney_basis():
    reference = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    assert _mel_basis().dtype == reference.dtype
    np.testing.assert_allclose(_mel_basis(), reference, rtol=0, atol=1e-8)


def direct_hidden_states(model, mel_segment: torch.Tensor) -> list[torch.Tensor]:
    """openai-whisper's AudioEncoder.forward written out, keeping every hidden state."""
    enc = model.encoder
    x = F.gelu(enc.conv1(mel_segment[None]))
    x = F.gelu(enc.conv2(x)).permute(0, 2, 1)
    x = x + enc.positional_embedding
    states = [x]
    for block in enc.blocks:
        x = block(x)
        states.append(x)
    return states


def test_whisper50_equals_direct_encoder_pass_across_the_30s_boundary(whisper_checkpoint):
    wav = speechlike(31.3, seed=1)
    encoder = load_encoder(whisper_checkpoint)
    ours = whisper50(wav, encoder)
    assert ours.source == SOURCE_ENCODER
    assert ours.features.shape == (len(wav) // 320, 5, 384) == (n_tokens(len(wav)), 5, 384)

    mel = whisper.log_mel_spectrogram(torch.from_numpy(wav))
    assert mel.shape[1] == len(wav) // 160
    expected = []
    with torch.inference_mode():
        for start in (0, 3000):
            piece = mel[:, start : start + 3000]
            padded = whisper.pad_or_trim(piece, 3000)
            states = direct_hidden_states(encoder.model, padded)
            assert torch.allclose(encoder.model.encoder.ln_post(states[-1]), encoder.model.encoder(padded[None]), atol=1e-5)
            expected.append(torch.stack(states, dim=2)[0, : piece.shape[1] // 2].numpy())
    expected = np.concatenate(expected)
    assert np.max(np.abs(ours.features - expected)) < 1e-4


def batches_concatenated(model, wav: np.ndarray, per_batch: int) -> np.ndarray:
    """whisper50 as it was computed before it was written into place: each batch's states
    stacked, the kept tokens of every segment concatenated."""
    mel = whisper.log_mel_spectrogram(torch.from_numpy(wav))
    starts = range(0, mel.shape[1], 3000)
    parts = []
    for first in range(0, len(starts), per_batch):
        batch = torch.stack([whisper.pad_or_trim(mel[:, s : s + 3000], 3000) for s in starts[first : first + per_batch]])
        states = torch.stack(_hidden_states(model, batch), dim=2).numpy()
        parts += [states[i, : min(3000, mel.shape[1] - s) // 2] for i, s in enumerate(starts[first : first + per_batch])]
    return np.concatenate(parts)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_whisper50_is_written_into_a_mapped_file_batch_by_batch_with_no_copy_held(whisper_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(whisper50_module, "SEGMENTS_PER_BATCH", 1)  # two batches of one segment
    encoder = load_encoder(whisper_checkpoint)
    wav = speechlike(31.3, seed=3)
    w, layers, dim = whisper50_shape(len(wav), encoder)
    path = tmp_path / "w.npy"
    stored = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(layers, w, dim))
    tracemalloc.start()
    features = whisper50(wav, encoder, out=stored.transpose(1, 0, 2)).features
    numpy_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert numpy_peak_mb < 1 < stored.nbytes / 2**20  # 11.5 MB of features, and no array of their size made on the way
    assert _resident_mb(path) < 1  # each batch's pages let go once written
    assert np.array_equal(features, batches_concatenated(encoder.model, wav, 1))


def test_features_handed_over_as_files_equal_the_features_computed_in_place(whisper_checkpoint, tmp_path):
    wav = speechlike(31.3, seed=4)
    described = extract_features_into(str(tmp_path), wav, whisper_checkpoint, "tiny")
    mel, handed = read_features(str(tmp_path), described)
    in_place_mel, in_place = extract_features(wav, whisper_checkpoint, "tiny")
    assert np.array_equal(mel, in_place_mel) and np.array_equal(handed.features, in_place.features)
    assert (handed.source, handed.model, handed.warning) == (in_place.source, in_place.model, in_place.warning)
    assert np.load(tmp_path / WHISPER50_FILE, mmap_mode="r").shape == (5, len(wav) // 320, 384)


def test_whisper_model_is_loaded_once_per_process(whisper_checkpoint):
    assert load_encoder(whisper_checkpoint) is load_encoder(whisper_checkpoint)


def test_only_the_encoder_is_loaded_and_it_encodes_exactly_as_the_whole_model(whisper_checkpoint):
    model = load_encoder(whisper_checkpoint).model
    assert not hasattr(model, "decoder")
    assert all(name.startswith("encoder.") for name, _ in model.named_parameters())
    whole = whisper.load_model(whisper_checkpoint, device="cpu")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in whole.encoder.parameters())
    wav = speechlike(31.3, seed=2)
    assert np.array_equal(whisper50(wav, Encoder(model, "ours")).features, whisper50(wav, Encoder(whole, "whole")).features)


def test_a_checkpoint_in_torchs_legacy_format_is_read_whole(whisper_checkpoint, tmp_path):
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(whisper_checkpoint, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    ours, theirs = read_encoder(str(legacy)).state_dict(), read_encoder(whisper_checkpoint).state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_a_model_name_is_loaded_from_the_file_openai_whisper_resolves_it_to(whisper_checkpoint, monkeypatch):
    asked = []
    monkeypatch.setattr(whisper50_module, "_encoders", {})
    monkeypatch.setattr(whisper50_module, "_in_cache", lambda name: True)
    monkeypatch.setattr(whisper, "_download", lambda url, root, in_memory: asked.append((url, root, in_memory)) or whisper_checkpoint)
    encoder = load_encoder(None, "tiny")
    assert encoder.label == "tiny" and encoder.warning is None
    assert encoder.model.dims == ModelDimensions(**torch.load(whisper_checkpoint, weights_only=True)["dims"])
    assert asked == [(whisper._MODELS["tiny"], whisper50_module._cache_dir(), False)]


def test_without_weights_whisper50_falls_back_to_pooled_logmel_and_says_so():
    encoder = load_encoder(None, "tiny")
    assert encoder.model is None
    assert "No Whisper weights" in encoder.warning
    wav = speechlike(2.0)
    features = whisper50(wav, encoder)
    assert features.source == SOURCE_FALLBACK
    assert features.features.shape == (len(wav) // 320, 1, 80)
    mel = whisper.log_mel_spectrogram(torch.from_numpy(wav)).numpy()
    assert np.allclose(features.features[7, 0], mel[:, 14:16].mean(axis=1), atol=1e-6)


def test_60s_of_audio_is_encoded_as_two_segments_one_at_a_time(whisper_checkpoint):
    encoder = load_encoder(whisper_checkpoint)
    batches = []
    hook = encoder.model.encoder.register_forward_pre_hook(lambda _m, args: batches.append(tuple(args[0].shape)))
    try:
        features = whisper50(speechlike(60.0), encoder)
    finally:
        hook.remove()
    assert batches == [(1, 80, 3000), (1, 80, 3000)]
    assert features.features.shape == (3000, 5, 384)
