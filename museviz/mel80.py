"""Wav2Lip's 80 Hz mel spectrogram, the stream of Wav2Lip and of MuseTalk's training SyncNet.

Frame ``m`` of the result is centred on sample ``m * HOP_LENGTH``, i.e. at 12.5 m ms.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from museviz.grid import MEL80_HOP_LENGTH as HOP_LENGTH
from museviz.grid import SAMPLE_RATE, n_mel_frames

N_FFT = 800  # samples: 50 ms window
N_MELS = 80
FMIN_HZ = 55
FMAX_HZ = 7600
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20
MIN_LEVEL_DB = -100
MAX_ABS_VALUE = 4.0  # the spectrogram is scaled to [-4, 4]
SLANEY_HZ_PER_MEL = 200 / 3  # the mel scale's linear part, below 1 kHz
SLANEY_BREAK_HZ = 1000.0
SLANEY_LOG_STEP = np.log(6.4) / 27  # its log part: 27 mels per factor 6.4 above 1 kHz
BLOCK_FRAMES = 1024  # STFT frames transformed at once: 12.8 s of audio, about 17 MB of float64 work arrays


def mel80(audio_16k: np.ndarray) -> np.ndarray:
    """Wav2Lip's ``audio.melspectrogram`` of 16 kHz mono audio.

    Pre-emphasis ``lfilter([1, -0.97], [1], wav)``; centred STFT (reflect padding, as
    librosa 0.7 that Wav2Lip pins), n_fft 800, hop 200, Hann window; magnitude; Slaney mel
    basis 55-7600 Hz; ``S = 20 log10(max(1e-5, mel)) - 20``;
    ``S = clip(8 (S + 100) / 100 - 4, -4, 4)``.

    Computed in float64 ``BLOCK_FRAMES`` frames at a time, from the audio up: only the
    float32 result grows with the clip (15 MB for 10 minutes), where whole-clip float64
    work arrays (the emphasised and the padded signal, the mel and its three rescalings)
    took 230 MB more at their peak. Every value is computed as it was over the whole clip.

    Parameters
    ----------
    audio_16k : np.ndarray, shape (N,)

    Returns
    -------
    np.ndarray, shape (80, 1 + N // 200), float32
    """
    out = np.empty((N_MELS, n_mel_frames(len(audio_16k))), np.float32)
    for start in range(0, out.shape[1], BLOCK_FRAMES):
        stop = min(start + BLOCK_FRAMES, out.shape[1])
        signal = _padded_emphasised(audio_16k, start * HOP_LENGTH, (stop - 1) * HOP_LENGTH + N_FFT)
        frames = np.lib.stride_tricks.sliding_window_view(signal, N_FFT)[::HOP_LENGTH]
        out[:, start:stop] = _scaled_db(_mel_basis() @ np.abs(np.fft.rfft(frames * _window(), axis=1)).T)
    return out


def _padded_emphasised(wav: np.ndarray, first: int, stop: int) -> np.ndarray:
    """Samples ``[first, stop)`` of the pre-emphasised ``wav`` padded by ``N_FFT // 2`` on
    both sides (reflected; zeros when it is too short to reflect), in float64.

    Pre-emphasis ``lfilter([1, -0.97], [1], wav)`` is a two-tap FIR,
    ``y[n] = x[n] - 0.97 x[n - 1]``, so any stretch of it needs only the sample before.
    """
    n, pad = len(wav), N_FFT // 2
    at = np.arange(first - pad, stop - pad)
    if n > pad:
        at = np.abs(at)
        at = np.where(at < n, at, 2 * (n - 1) - at)
    inside = (at >= 0) & (at < n)
    current, previous = np.zeros(len(at)), np.zeros(len(at))
    current[inside] = wav[at[inside]]
    previous[inside & (at > 0)] = wav[at[inside & (at > 0)] - 1]
    return current - PREEMPHASIS * previous


def _scaled_db(mel: np.ndarray) -> np.ndarray:
    """``clip(8 (20 log10(max(1e-5, mel)) - 20 + 100) / 100 - 4, -4, 4)``: Wav2Lip's
    normalised decibels, in [-4, 4]."""
    level_db = 20.0 * np.log10(np.maximum(1e-5, mel)) - REF_LEVEL_DB
    scaled = 2 * MAX_ABS_VALUE * (level_db - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    return np.clip(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(N_FFT + 1)[:-1]


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    """(80, 1 + N_FFT // 2) float32: triangles evenly spaced on the Slaney mel scale from
    ``FMIN_HZ`` to ``FMAX_HZ``, each of area one over its band (Slaney's normalisation),
    the basis ``librosa.filters.mel`` gives with its defaults (tests compare the two)."""
    edges_hz = _slaney_hz(np.linspace(_slaney_mel(FMIN_HZ), _slaney_mel(FMAX_HZ), N_MELS + 2))
    bin_hz = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    widths = np.diff(edges_hz)
    below = edges_hz[:, None] - bin_hz[None, :]
    rising = -below[:-2] / widths[:-1, None]
    falling = below[2:] / widths[1:, None]
    triangles = np.maximum(0, np.minimum(rising, falling))
    return (triangles * (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]).astype(np.float32)


def _slaney_mel(hz):
    """Hz to Slaney's mel: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / SLANEY_HZ_PER_MEL
    log = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL + np.log(np.maximum(hz, SLANEY_BREAK_HZ) / SLANEY_BREAK_HZ) / SLANEY_LOG_STEP
    return np.where(hz >= SLANEY_BREAK_HZ, log, linear)


def _slaney_hz(mel: np.ndarray) -> np.ndarray:
    """Slaney's mel to Hz (the inverse of ``_slaney_mel``)."""
    break_mel = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL
    return np.where(mel >= break_mel, SLANEY_BREAK_HZ * np.exp(SLANEY_LOG_STEP * (mel - break_mel)), SLANEY_HZ_PER_MEL * mel)
