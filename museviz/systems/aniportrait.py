"""AniPortrait: audio to mesh (and pose) at 30 fps, one wav2vec2 state per frame.

Source: Zejun-Yang/AniPortrait @ 7f6593fd971c95b65f603c15ef8ce2c3fc7f5404
(src/utils/audio_util.py ``prepare_audio_feature`` l.24, src/audio_models/torch_utils.py:16-19,
src/audio_models/pose_model.py:35-38, scripts/audio2vid.py l.177-197).
"""

from __future__ import annotations

import numpy as np

from museviz.rules import CLAMP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import align_corners, ceil_float, failed, generated

SOURCE = "Zejun-Yang/AniPortrait @ 7f6593fd"
ANIPORTRAIT_FPS = 30
POSE_CHUNK_SAMPLES = 80_000  # audio2pose works on 5 s chunks
POSE_CHUNK_FRAMES = 150  # of 150 frames


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_frames = ceil_float(t.n_samples, ANIPORTRAIT_FPS)
    n_cnn = t.n_features("wav2vec2")
    return [
        f"T = ceil({t.n_samples} / 16000 * 30) = {n_frames}; C = {n_cnn} CNN frames resampled to T (align_corners)",
        f"frame {k} reads state {k} alone: CNN position {k} * {n_cnn - 1} / {n_frames - 1}",
        reads(s, k),
    ]


@rule(
    "aniportrait", "wav2vec2", "inference", "T = ceil(N / 16000 * 30); CNN resampled to T (align_corners); frame i reads state i", _explain,
    System("AniPortrait", "wav2vec2-base-960h last state; CNN resampled to T (align_corners)", "30 fps", "T = ceil(N / 16000 * 30) (float order)",
           "state i alone (the transformer sees the whole clip)", "none needed; the pose raises on 5 s of audio or less, and when T % 150 == 0",
           "audio2pose in 150-frame (5 s) chunks, the last merged into the one before", SOURCE),
)
def aniportrait(t: Timeline) -> Schedule:
    """AniPortrait: ``T = math.ceil(N / 16000 * 30)``; wav2vec2's CNN frames are resampled
    to ``T`` (``align_corners=True``) and frame ``i`` (mesh and pose alike) reads state ``i``
    only: CNN position ``i (C - 1) / (T - 1)``. The pose model splits the audio into 5 s
    chunks and merges the last into ``audio_chunks[-2]``: with one chunk (5 s or less) that
    raises IndexError before any frame; when ``T % 150 == 0`` the pose is 150 frames short
    and ``project_points`` raises at frame ``T - 150``.
    """
    n_frames = ceil_float(t.n_samples, ANIPORTRAIT_FPS)
    n_cnn = t.n_features("wav2vec2")
    if t.n_samples <= POSE_CHUNK_SAMPLES:
        return failed("aniportrait", "wav2vec2", ANIPORTRAIT_FPS, f"raises at frame 0: {t.n_samples} samples are one 5 s pose chunk, and audio_chunks[-2] does not exist",
                      1, t, resampled=True, exit_frame=0)
    positions = align_corners(np.arange(n_frames)[:, None], n_frames, n_cnn)
    error = exit_frame = None
    if n_frames % POSE_CHUNK_FRAMES == 0:
        exit_frame = n_frames - POSE_CHUNK_FRAMES
        error = f"raises at frame {exit_frame}: T = {n_frames} is a multiple of 150, so the pose is 150 frames short and project_points runs out"
        positions = positions[:exit_frame]
    return generated("aniportrait", "wav2vec2", ANIPORTRAIT_FPS, n_cnn, positions, CLAMP, t, error=error, exit_frame=exit_frame)
