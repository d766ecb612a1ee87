"""MEMO: wav2vec2 CNN frames resampled to 30 fps as in Hallo, a +-2 frame window.

Source: memoavatar/memo @ a5aee30120d7d2fc4e0831ca61cebdbce595324b
(memo/utils/audio_utils.py ``preprocess_audio`` l.108-140, inference.py l.189-244,
memo/utils/vision_utils.py:32-37; training scripts/prepare_data.py l.133-151 and
memo/datasets/video_dataset.py l.50-88).
"""

from __future__ import annotations

import numpy as np

from museviz.grid import SAMPLE_RATE, n_cnn_frames
from museviz.rules import CLAMP, SKIP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import align_corners, ceil_float, failed, generated, make_schedule, own_frames
from museviz.systems.hallo import CLIP_FRAMES, REACH, WIDTH

SOURCE = "memoavatar/memo @ a5aee301"
MEMO_FPS = 30
SAMPLES_PER_FRAME = SAMPLE_RATE // MEMO_FPS  # 533, not 533.33: the padding per missing frame
PAST_FRAMES = 16  # num_past_frames
TRAIN_MARGIN = 2


def memo_sizes(n_samples: int) -> tuple[int, int, int]:
    """(T, T padded, C padded): ``ceil(N / 16000 * 30)`` in float order, padded up to a
    multiple of 16 with 533 zero samples per missing frame, and the CNN frames of that."""
    n_frames = ceil_float(n_samples, MEMO_FPS)
    n_padded = n_frames if n_frames % CLIP_FRAMES == 0 else n_frames + CLIP_FRAMES - n_frames % CLIP_FRAMES
    return n_frames, n_padded, n_cnn_frames(n_samples + (n_padded - n_frames) * SAMPLES_PER_FRAME)


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_frames, n_padded, n_cnn = memo_sizes(t.n_samples)
    rows = np.clip(np.arange(k - REACH, k + REACH + 1), 0, n_padded - 1).tolist()
    return [
        f"T = ceil({t.n_samples} / 16000 * 30) = {n_frames}, padded with {(n_padded - n_frames) * SAMPLES_PER_FRAME} samples to {n_padded}: C = {n_cnn}",
        f"frames [{k} - 2 .. {k} + 2] clamped to [0, {n_padded - 1}] = {rows}; frame j reads CNN position j * {n_cnn - 1} / {n_padded - 1}",
        reads(s, k),
    ]


@rule(
    "memo", "wav2vec2", "inference", "T = ceil(N / 16000 * 30) padded to 16k (533 samples a frame); CNN resampled to T (align_corners); frames [i - 2, i + 2] clamped", _explain,
    System("MEMO", "wav2vec2-base-960h, 12 layers; CNN resampled to T (align_corners)", "30 fps", "T = ceil(N / 16000 * 30), padded to a multiple of 16; no trim",
           "frames [i - 2 .. i + 2]", "clamp to [0, T_padded - 1]", "16-frame clips, 16 past frames; the video is cut to the audio when muxed", SOURCE),
)
def memo(t: Timeline) -> Schedule:
    """MEMO: Hallo's rule at 30 fps. ``T = math.ceil(N / 16000 * 30)``; padded to a
    multiple of 16 with ``(16 - T % 16) * (16000 // 30)`` zeros (533 samples a frame, not
    533.33), the CNN frames resampled to the padded ``T`` with ``align_corners=True``;
    frame ``i`` reads frames ``i - 2 .. i + 2`` clamped to ``[0, T - 1]``. ``T // 16``
    clips; ``audio_length`` is taken after padding, so nothing is trimmed (the muxer later
    cuts the video to the audio's duration).
    """
    n_frames, n_padded, n_cnn = memo_sizes(t.n_samples)
    if n_frames == 0:
        return failed("memo", "wav2vec2", MEMO_FPS, "no audio: T = 0 frames", WIDTH, t, resampled=True)
    rows = np.arange(n_padded)[:, None] + np.arange(-REACH, REACH + 1)
    raw = align_corners(rows, n_padded, n_cnn)
    indices = align_corners(np.clip(rows, 0, n_padded - 1), n_padded, n_cnn)
    return generated("memo", "wav2vec2", MEMO_FPS, t.n_features("wav2vec2"), raw, CLAMP, t, indices=indices)


def _explain_train(t: Timeline, s: Schedule, k: int) -> list[str]:
    return [
        f"seq_len = {t.n_frames} decoded frames: frame j reads CNN position j * (C - 1) / ({t.n_frames} - 1)",
        f"frames [{k} - 2 .. {k} + 2], no clamp; starts drawn from [16, {t.n_frames - CLIP_FRAMES - TRAIN_MARGIN - 1}]",
        reads(s, k),
    ]


@rule(
    "memo-train", "wav2vec2", "training", "CNN resampled to the decoded frame count; frames [k - 2, k + 2], no clamp; starts from frame 16", _explain_train,
    System("MEMO training", "wav2vec2-base-960h, 12 layers, resampled to the video's frame count", "the clip's frames, whatever their rate",
           "one per decoded frame (seq_len = len(VideoReader))", "frames [k - 2 .. k + 2]", "no clamp: starts drawn from [16, frames - 19]", "16 frames, 16 past frames", SOURCE),
)
def memo_train(t: Timeline) -> Schedule:
    """MEMO training: the embeddings are made with ``seq_len = len(VideoReader)``, the
    decoded frame count, so the audio is stretched onto the video's own frames whatever
    their rate; frame ``k`` reads frames ``k - 2 .. k + 2`` with no clamp, from starts in
    ``[16, frames - 16 - 2 - 1]``: frames outside ``[16, frames - 4]`` are never trained
    on. (With ``drop_rate`` 0.05 the left context of a sample's first 2 frames is
    overwritten by its first frame.)
    """
    n_cnn = t.n_features("wav2vec2")
    rows = np.arange(t.n_frames)[:, None] + np.arange(-REACH, REACH + 1)
    raw = align_corners(rows, t.n_frames, n_cnn)
    frame = np.arange(t.n_frames)
    last_start = t.n_frames - CLIP_FRAMES - TRAIN_MARGIN - 1
    sampled = (frame >= PAST_FRAMES) & (frame <= last_start + CLIP_FRAMES - 1) & (last_start >= PAST_FRAMES)
    return make_schedule("memo-train", "wav2vec2", t.fps, n_cnn, raw, SKIP, own_frames(t), t, dropped=~sampled)
