"""FLOAT: wav2vec2 CNN frames at exactly twice the video rate; each frame attends +-2 frames.

Source: deepbrainai-research/float @ 97cfdd51f6fba43b465802116bc53cd02e4261d1
(models/float/FLOAT.py l.89-143, models/wav2vec2.py:181-194, models/float/FMT.py:226).
"""

from __future__ import annotations

import math

import numpy as np

from museviz.grid import SAMPLE_RATE
from museviz.rules import CLAMP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, generated

SOURCE = "deepbrainai-research/float @ 97cfdd51"
FLOAT_FPS = 25
CHUNK_FRAMES = 50  # wav2vec_sec 2 * fps 25
REACH = 2  # attention_window: frame i attends i - 2 .. i + 2


def float_frames(n_samples: int) -> int:
    """``T = math.ceil(N * 25 / 16000)``: exact (the product is taken first)."""
    return math.ceil(n_samples * FLOAT_FPS / SAMPLE_RATE)


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_frames = float_frames(t.n_samples)
    chunk = k // CHUNK_FRAMES
    return [
        f"T = ceil({t.n_samples} * 25 / 16000) = {n_frames}; audio replicate-padded to 640 T: C = 2T - 1, frame j reads CNN frame 2j",
        f"chunk {chunk} (frames {CHUNK_FRAMES * chunk}..{CHUNK_FRAMES * chunk + CHUNK_FRAMES - 1}) after 10 previous: frame {k} attends frames {k - REACH}..{k + REACH} in it",
        reads(s, k),
    ]


@rule(
    "float", "wav2vec2", "inference", "T = ceil(N * 25 / 16000); frame j reads CNN frame 2j; attends frames [i - 2, i + 2] within its 50-frame chunk", _explain,
    System("FLOAT", "wav2vec2-base-960h, 12 layers -> 512; CNN resampled to T (exactly frame 2j)", "25 fps", "T = ceil(N * 25 / 16000) (exact)",
           "framewise condition; attention over frames [i - 2 .. i + 2]", "zeros before frame 0 (no previous chunk); clipped at each chunk's end; the last chunk replicates its last feature",
           "50-frame chunks plus the 10 previous frames", SOURCE),
)
def float_(t: Timeline) -> Schedule:
    """FLOAT: ``T = math.ceil(N * 25 / 16000)`` (exact); the audio is replicate-padded to
    ``640 T`` samples, so ``C = 2T - 1`` and ``align_corners`` puts frame ``j`` exactly on
    CNN frame ``2j``. The audio enters framewise; frame ``i`` self-attends frames
    ``i - 2 .. i + 2`` inside its sequence of 10 previous + 50 frames: before frame 0 the
    previous frames are zeros, past its chunk's last frame nothing is attended (drawn as a
    repeat of that frame), and the last chunk repeats the last frame's feature.
    """
    n_frames = float_frames(t.n_samples)
    if n_frames == 0:
        return failed("float", "wav2vec2", FLOAT_FPS, "no audio: T = 0 frames", 2 * REACH + 1, t, resampled=True)
    frame = np.arange(n_frames)[:, None]
    rows = frame + np.arange(-REACH, REACH + 1)
    chunk_end = np.minimum(frame // CHUNK_FRAMES * CHUNK_FRAMES + CHUNK_FRAMES - 1, n_frames - 1)
    raw = 2.0 * rows
    indices = np.where(rows < 0, np.nan, 2.0 * np.minimum(rows, chunk_end))
    return generated("float", "wav2vec2", FLOAT_FPS, t.n_features("wav2vec2"), raw, CLAMP, t, indices=indices)
