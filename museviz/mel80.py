"""Wav2Lip's 80 Hz mel spectrogram, the stream of Wav2Lip and of MuseTalk's training SyncNet.

Frame ``m`` of the result is centred on sample ``m * HOP_LENGTH``, i.e. at 12.5 m ms.
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np

from museviz.grid import MEL80_HOP_LENGTH as HOP_LENGTH
from museviz.grid import SAMPLE_RATE

N_FFT = 800  # samples: 50 ms window
N_MELS = 80
FMIN_HZ = 55
FMAX_HZ = 7600
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20
MIN_LEVEL_DB = -100
MAX_ABS_VALUE = 4.0  # the spectrogram is scaled to [-4, 4]
BLOCK_FRAMES = 4096  # STFT frames transformed at once: 51 s of audio, about 40 MB of work arrays


def mel80(audio_16k: np.ndarray) -> np.ndarray:
    """Wav2Lip's ``audio.melspectrogram`` of 16 kHz mono audio.

    Pre-emphasis ``lfilter([1, -0.97], [1], wav)``; centred STFT (reflect padding, as
    librosa 0.7 that Wav2Lip pins), n_fft 800, hop 200, Hann window; magnitude; Slaney mel
    basis 55-7600 Hz; ``S = 20 log10(max(1e-5, mel)) - 20``;
    ``S = clip(8 (S + 100) / 100 - 4, -4, 4)``.

    Parameters
    ----------
    audio_16k : np.ndarray, shape (N,)

    Returns
    -------
    np.ndarray, shape (80, 1 + N // 200), float32
    """
    emphasised = _preemphasis(audio_16k)
    mel = _mel_magnitude(emphasised)
    level_db = 20.0 * np.log10(np.maximum(1e-5, mel)) - REF_LEVEL_DB
    scaled = 2 * MAX_ABS_VALUE * (level_db - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    return np.clip(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE).astype(np.float32)


def _preemphasis(wav: np.ndarray) -> np.ndarray:
    """``lfilter([1, -0.97], [1], wav)``, a two-tap FIR: ``y[n] = x[n] - 0.97 x[n - 1]``, in float64."""
    out = wav.astype(np.float64)  # a copy: the product below is taken before ``out`` changes
    out[1:] -= PREEMPHASIS * out[:-1]
    return out


def _mel_magnitude(signal: np.ndarray) -> np.ndarray:
    """mel basis @ |STFT|: (80, 1 + N // HOP_LENGTH), centred reflect-padded frames.

    Frames are transformed ``BLOCK_FRAMES`` at a time, so a long clip never holds its
    whole complex spectrogram.
    """
    pad = N_FFT // 2
    mode = "reflect" if len(signal) > pad else "constant"
    padded = np.pad(signal, pad, mode=mode)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]
    out = np.empty((N_MELS, len(frames)))
    for start in range(0, len(frames), BLOCK_FRAMES):
        block = frames[start : start + BLOCK_FRAMES]
        out[:, start : start + len(block)] = _mel_basis() @ np.abs(np.fft.rfft(block * _window(), axis=1)).T
    return out


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(N_FFT + 1)[:-1]


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN_HZ, fmax=FMAX_HZ)
