"""Hallo and Hallo2: wav2vec2 CNN frames resampled to 25 fps, a +-2 frame window.

Sources: fudan-generative-vision/hallo @ 8fd7c572a3d43c2a9c1a5473219ce4fc1b6e3ed2
(hallo/datasets/audio_processor.py:108-115, hallo/models/wav2vec.py:75-77 and 196-209,
scripts/inference.py:95-114 and 285-343; training hallo/datasets/talk_video.py and
configs/train/stage2.yaml); fudan-generative-vision/hallo2 @
58a9aa6c9f66817a6e084f3874cfc01ac24fed3e (configs/inference/long.yaml ``use_cut``,
hallo/datasets/audio_processor.py:113-120, scripts/inference_long.py:104-123 and 370-463).
"""

from __future__ import annotations

import math

import numpy as np

from museviz.grid import SAMPLE_RATE, n_cnn_frames
from museviz.rules import CLAMP, SKIP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import align_corners, ceil_float, failed, generated, make_schedule, own_frames

SOURCE = "fudan-generative-vision/hallo @ 8fd7c572"
HALLO_FPS = 25
SAMPLES_PER_FRAME = SAMPLE_RATE // HALLO_FPS  # 640: the padding per missing frame
CLIP_FRAMES = 16  # n_sample_frames: frames per generated clip
REACH = 2  # frames each side: audio_emb[i - 2 .. i + 2]
WIDTH = 2 * REACH + 1
SEGMENT_MS = 60_000  # Hallo2 cuts the audio into 60 s pydub segments
SEGMENT_SAMPLES = SEGMENT_MS * SAMPLE_RATE // 1000
TRAIN_FRAMES = 14  # n_sample_frames in training
TRAIN_MOTION_FRAMES = 2  # n_motion_frames: the first start drawn
TRAIN_MARGIN = 2  # audio_margin


def padded_length(n_frames: int, already: int = 0) -> int:
    """Frames after padding the audio up to the next multiple of 16 (``already`` frames
    come before it, as in Hallo2's last segment)."""
    return n_frames + (CLIP_FRAMES - (n_frames + already) % CLIP_FRAMES)


def hallo_sizes(n_samples: int) -> tuple[int, int, int]:
    """(T, T padded, C padded): Hallo's frame count ``ceil(N / 16000 * 25)`` in its float
    order, the count after padding 640 zero samples per missing frame up to a multiple of
    16, and the CNN frames of the padded audio."""
    n_frames = ceil_float(n_samples, HALLO_FPS)
    n_padded = n_frames if n_frames % CLIP_FRAMES == 0 else padded_length(n_frames)
    return n_frames, n_padded, n_cnn_frames(n_samples + (n_padded - n_frames) * SAMPLES_PER_FRAME)


def _rows(n_frames: int) -> np.ndarray:
    return np.arange(n_frames)[:, None] + np.arange(-REACH, REACH + 1)


def _explain_hallo(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_frames, n_padded, n_cnn = hallo_sizes(t.n_samples)
    rows = np.clip(np.arange(k - REACH, k + REACH + 1), 0, n_padded - 1).tolist()
    return [
        f"T = ceil({t.n_samples} / 16000 * 25) = {n_frames}, padded to {n_padded} frames: C = {n_cnn} CNN frames",
        f"frames [{k} - 2 .. {k} + 2] clamped to [0, {n_padded - 1}] = {rows}",
        f"frame j reads CNN position j * {n_cnn - 1} / {n_padded - 1}",
        reads(s, k),
    ]


@rule(
    "hallo", "wav2vec2", "inference", "T = ceil(N / 16000 * 25) padded to 16k; CNN resampled to T (align_corners); frames [i - 2, i + 2] clamped", _explain_hallo,
    System("Hallo", "wav2vec2-base-960h, 12 layers; CNN frames resampled to T before the transformer", "25 fps",
           "T = ceil(N / 16000 * 25) (float order: one too many for 925 of 15000 lengths)", "frames [i - 2 .. i + 2]: 5 x 40 ms",
           "clamp to [0, T_padded - 1]; padded silence before the clamp", "16-frame clips, audio padded to a multiple of 16 (640 samples a frame)", SOURCE),
)
def hallo(t: Timeline) -> Schedule:
    """Hallo: ``T = math.ceil(N / 16000 * 25)`` frames (float order: ``N = 4480`` gives 8,
    not 7); if ``T % 16`` the waveform is padded with ``(16 - T % 16) * 640`` zeros and
    ``T`` with as many frames. wav2vec2's CNN frames of the padded audio (``C``) are
    resampled to ``T`` with ``align_corners=True``: frame ``j`` reads CNN position
    ``j (C - 1) / (T - 1)``. Frame ``i`` reads frames ``max(min(i + j, T - 1), 0)`` for
    ``j`` in -2..2, so the last real frames read padded silence before the clamp. The
    output is the first ``T`` (unpadded) frames, at 25 fps.
    """
    n_frames, n_padded, n_cnn = hallo_sizes(t.n_samples)
    if n_frames == 0:
        return failed("hallo", "wav2vec2", HALLO_FPS, "no audio: T = 0 frames", WIDTH, t, resampled=True)
    rows = _rows(n_frames)
    raw = align_corners(rows, n_padded, n_cnn)
    indices = align_corners(np.clip(rows, 0, n_padded - 1), n_padded, n_cnn)
    return generated("hallo", "wav2vec2", HALLO_FPS, t.n_features("wav2vec2"), raw, CLAMP, t, indices=indices)


def hallo2_segments(n_samples: int) -> list[tuple[int, int, int]]:
    """Hallo2's 60 s segments: (samples, frames, frames after padding) of each.

    pydub measures the audio in whole ms (``round(1000 * (N / 16000))``) and cuts at
    ``[60000 k, 60000 (k + 1))`` ms, so the last segment holds ``16 * ms - 960000 (K - 1)``
    samples (a few cut, or zeros added). Each segment gets ``ceil(n / 16000 * 25)`` frames;
    only the last is padded, by ``16 - (all frames) % 16`` frames, and only when its *own*
    count is not a multiple of 16.
    """
    length_ms = round(1000 * (n_samples / SAMPLE_RATE))
    n_segments = math.ceil(length_ms / SEGMENT_MS)
    sizes = [SEGMENT_SAMPLES] * (n_segments - 1) + ([length_ms * SAMPLE_RATE // 1000 - SEGMENT_SAMPLES * (n_segments - 1)] if n_segments else [])
    segments, before = [], 0
    for k, n in enumerate(sizes):
        n_frames = ceil_float(n, HALLO_FPS)
        last = k == len(sizes) - 1
        n_padded = padded_length(n_frames, before) if last and n_frames % CLIP_FRAMES else n_frames
        segments.append((n, n_frames, n_padded))
        before += n_frames
    return segments


def _hallo2_positions(segments: list[tuple[int, int, int]]) -> tuple[np.ndarray, float, float]:
    """Every frame's CNN position on the clip's grid, and the slopes of the first and last
    segments (to carry the rows outside the clip along)."""
    positions, slopes = [], []
    for k, (n, n_frames, n_padded) in enumerate(segments):
        n_cnn = n_cnn_frames(n + (n_padded - n_frames) * SAMPLES_PER_FRAME)
        first_cnn = k * SEGMENT_SAMPLES // 320
        positions.append(first_cnn + align_corners(np.arange(n_padded), n_padded, n_cnn))
        slopes.append((n_cnn - 1) / (n_padded - 1) if n_padded > 1 else 0.0)
    return np.concatenate(positions), slopes[0], slopes[-1]


def hallo2_frames(segments: list[tuple[int, int, int]]) -> int:
    """Frames Hallo2 writes: ``T // 16`` clips of 16 over every padded segment, cut to the
    unpadded count."""
    n_all = sum(n_padded for _, _, n_padded in segments)
    return min(CLIP_FRAMES * (n_all // CLIP_FRAMES), sum(n_frames for _, n_frames, _ in segments))


def _explain_hallo2(t: Timeline, s: Schedule, k: int) -> list[str]:
    segments = hallo2_segments(t.n_samples)
    counts = " + ".join(f"{n_padded}" for _, _, n_padded in segments)
    segment = min(k // 1500, len(segments) - 1)
    return [
        f"{len(segments)} segment(s) of 60 s, each encoded alone: frames {counts}; {hallo2_frames(segments)} written",
        f"frame {k} is in segment {segment}; frames [{k} - 2 .. {k} + 2] over the concatenation, clamped",
        reads(s, k),
    ]


@rule(
    "hallo2", "wav2vec2", "inference", "as hallo, per 60 s segment (each encoded alone, only the last padded); T // 16 clips", _explain_hallo2,
    System("Hallo2", "wav2vec2-base-960h, 12 layers, on each 60 s pydub segment alone", "25 fps",
           "per segment ceil(n / 16000 * 25), summed; 16 * (T // 16) written", "frames [i - 2 .. i + 2] across segment boundaries",
           "clamp; the tail is lost when the last segment's own count is a multiple of 16", "16-frame clips, floor(T / 16)", "fudan-generative-vision/hallo2 @ 58a9aa6c"),
)
def hallo2(t: Timeline) -> Schedule:
    """Hallo2 (``use_cut: true``): the audio is cut into 60 s pydub segments, each
    separated and encoded by wav2vec2 on its own, so the encoder's context restarts every
    60 s; each segment is resampled to its own ``ceil(n / 16000 * 25)`` frames as in Hallo
    (``hallo2_segments``). The embeddings are concatenated, so the +-2 windows cross
    segment boundaries; ``T // 16`` clips are made (up to 15 final frames lost when the
    padding misfires) and the output is cut to the unpadded count.
    """
    segments = hallo2_segments(t.n_samples)
    if not segments:
        return failed("hallo2", "wav2vec2", HALLO_FPS, "no audio: no 60 s segment", WIDTH, t, resampled=True)
    positions, first_slope, last_slope = _hallo2_positions(segments)
    n_out = hallo2_frames(segments)
    rows = _rows(n_out)
    inside = np.clip(rows, 0, len(positions) - 1)
    indices = positions[inside]
    slope = np.where(rows < 0, first_slope, last_slope)
    raw = indices + (rows - inside) * slope
    return generated("hallo2", "wav2vec2", HALLO_FPS, t.n_features("wav2vec2"), raw, CLAMP, t, indices=indices)


def _explain_train(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_frames = ceil_float(t.n_samples, HALLO_FPS)
    return [
        f"T = ceil({t.n_samples} / 16000 * 25) = {n_frames}, no padding; frame j reads CNN position j * (C - 1) / (T - 1)",
        f"frames [{k} - 2 .. {k} + 2], no clamp; starts drawn from [2, {t.n_frames - TRAIN_FRAMES - TRAIN_MARGIN - 1}]",
        reads(s, k),
    ]


@rule(
    "hallo-train", "wav2vec2", "training", "25 fps assumed; T = ceil(N / 16000 * 25), no padding; frames [k - 2, k + 2], no clamp; 14-frame clips", _explain_train,
    System("Hallo and Hallo2 training", "wav2vec2-base-960h, 12 layers, resampled to T", "25 fps assumed (inferred)", "one per clip frame",
           "frames [k - 2 .. k + 2]", "no clamp: starts drawn from [2, frames - 17]", "14-frame clips, 2 motion frames", SOURCE),
)
def hallo_train(t: Timeline) -> Schedule:
    """Hallo training: embeddings of the whole file with ``clip_length = -1`` (no padding,
    ``T = ceil(N / 16000 * 25)``); a sample of 14 frames starts at
    ``randint(2, frames - 14 - 2 - 1)`` and frame ``k`` reads frames ``k - 2 .. k + 2``
    with no clamp, so frames outside ``[2, frames - 4]`` are never trained on, and a window
    past the embedding's end would raise (the video is assumed to be 25 fps, as long as its
    audio). Hallo2 trains the same way.
    """
    n_frames = ceil_float(t.n_samples, HALLO_FPS)
    n_cnn = t.n_features("wav2vec2")
    rows = _rows(t.n_frames)
    raw = align_corners(rows, n_frames, n_cnn)
    frame = np.arange(t.n_frames)
    last_start = t.n_frames - TRAIN_FRAMES - TRAIN_MARGIN - 1
    sampled = (frame >= TRAIN_MOTION_FRAMES) & (frame <= last_start + TRAIN_FRAMES - 1) & (last_start >= TRAIN_MOTION_FRAMES)
    readable = (rows >= 0).all(axis=1) & (rows <= n_frames - 1).all(axis=1)
    indices = np.where((rows >= 0) & (rows <= n_frames - 1), raw, np.nan)
    return make_schedule("hallo-train", "wav2vec2", HALLO_FPS, n_cnn, raw, SKIP, own_frames(t), t, indices=indices, dropped=~(sampled & readable))
