"""MuseTalk v1 and v1.5: inference on whisper50, and v1.5's training dataloader.

Source: TMElyralab/MuseTalk @ 0a89dec45a0192b824e3cf4daf96c239440c5ed8 (v1.5 inference
musetalk/utils/audio_processor.py:37-94; training musetalk/data/dataset.py:163-196 and
musetalk/utils/utils.py:177-204, added in 1ab53a6); v1 from the first version of
musetalk/whisper/audio2feature.py (``get_sliced_feature``, ``feature2chunks``).
"""

from __future__ import annotations

import math

import numpy as np

from museviz.grid import TOKENS_PER_SECOND
from museviz.rules import CLAMP, ZERO, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, make_schedule, musetalk_v1_centres, own_frames, windows

SOURCE = "TMElyralab/MuseTalk @ 0a89dec4"
TOKEN_WINDOW = 10  # whisper50 tokens per frame: 200 ms
V1_LEFT = 4  # tokens before the centre: [c - 4, c + 6)
TRAINING_FPS = 25  # hparams.fps in MuseTalk training
TRAINING_PAD = 4  # zero tokens each side of the training features
SLICE_FRAMES = 750  # frames in the training code's 30 s audio slice
SLICE_LATE_START = 700  # a drive start this late (s + 50 >= 750) takes the 4 s .. 34 s slice
LATE_SLICE_SHIFT = 100  # frames the start is moved back by for that slice (4 s)


def _explain_v1(t: Timeline, s: Schedule, k: int) -> list[str]:
    c = int(k * TOKENS_PER_SECOND / s.fps_used)
    lines = [f"center_idx = int({k} * 50 / {s.fps_used:g}) = {c}", f"tokens [{c} - 4, {c} + 6) = [{c - 4}, {c + 6})", reads(s, k)]
    if s.rule.startswith("latentsync") and s.source_frame[k] >= 0:
        lines.insert(0, f"25 fps re-encode: frame {k} shows source frame {s.source_frame[k]} (t = {s.picture_times_s[k]:.3f} s)")
    return lines


def _explain_v15(t: Timeline, s: Schedule, k: int) -> list[str]:
    fps_int = int(s.fps_used)
    step = TOKENS_PER_SECOND / fps_int
    pad = math.ceil(step)
    start = math.floor(k * step)
    return [
        f"F = int({t.fps:g}) = {fps_int};  m = 50 / {fps_int} = {step:.4f};  P = ceil(m) = {pad}",
        f"padded window [floor({k} * {step:.4f}), +10) = [{start}, {start + TOKEN_WINDOW})",
        f"= tokens [{start} - 2P, +10) = [{start - 2 * pad}, {start - 2 * pad + TOKEN_WINDOW})",
        reads(s, k),
    ]


def _explain_train(t: Timeline, s: Schedule, k: int) -> list[str]:
    start = int(s.raw[k, 0])
    return [f"tokens [2 * {k} - 4, +10) = [{start}, {start + TOKEN_WINDOW})", reads(s, k)]


@rule(
    "musetalk-v1", "whisper50", "inference", "c = int(i * 50 / fps); tokens [c - 4, c + 6), clamped to [0, W - 1]", _explain_v1,
    System("MuseTalk v1", "Whisper tiny encoder, 5 states (W, 5, 384)", "the clip's fps", "loop: 1 + first i with int(i * 50 / fps) > W (W // 2 + 2 at 25 fps)",
           "tokens [c - 4, c + 6), c = int(i * 50 / fps)", "clamp to [0, W - 1]", "chunk per frame; more chunks than frames", SOURCE),
)
def musetalk_v1(t: Timeline) -> Schedule:
    """MuseTalk v1 inference: ``c = int(i * 50 / fps)``; tokens ``[c - 4, c + 6)``.

    Indices are clamped to ``[0, W - 1]`` (edge tokens repeated). The loop appends chunk
    ``i`` and stops once ``int(i * (50. / fps)) > W``: ``W // 2 + 2`` chunks at 25 fps.
    """
    return v1_loop("musetalk-v1", t, t.fps, own_frames(t))


def v1_loop(name: str, t: Timeline, fps: float, frames: np.ndarray, picture_times_s: np.ndarray | None = None) -> Schedule:
    """The v1 loop shared by MuseTalk v1, LatentSync and EchoMimic (see ``musetalk_v1``);
    chunk ``k`` is paired with ``frames[k]`` (-1 past its end)."""
    n_tok = t.n_features("whisper50")
    if n_tok == 0:
        return failed(name, "whisper50", fps, "no whisper50 tokens: the audio is shorter than 20 ms", TOKEN_WINDOW, t)
    centres = musetalk_v1_centres(n_tok, fps)
    n_chunks = len(centres)
    source = np.full(n_chunks, -1, dtype=np.int64)
    shown = min(n_chunks, len(frames))
    source[:shown] = frames[:shown]
    pictures = None if picture_times_s is None else picture_times_s[:n_chunks]
    return make_schedule(name, "whisper50", fps, n_tok, windows(centres - V1_LEFT, TOKEN_WINDOW), CLAMP, source, t, picture_times_s=pictures)


@rule(
    "musetalk-v1.5",
    "whisper50",
    "inference",
    "F = int(fps); m = 50 / F; P = ceil(m); pad 2P zeros left, 6P right; tokens [floor(i m) - 2P, + 10)",
    _explain_v15,
    System("MuseTalk v1.5", "HF Whisper tiny, 5 states (last after LayerNorm)", "int(fps): 29.97 becomes 29", "floor(D * int(fps))",
           "tokens [floor(i m) - 2P, +10), m = 50 / int(fps), P = ceil(m)", "zeros (2P left, 6P right); exits when the right padding runs out (50 fps and up)",
           "chunk per frame", SOURCE),
)
def musetalk_v15(t: Timeline) -> Schedule:
    """MuseTalk v1.5 inference: ``F = int(fps)``; ``m = 50 / F``; ``P = ceil(m)``.

    The features are cut to ``L = floor(D * 50)``, padded with ``2P`` zero tokens on the
    left and ``6P`` on the right (a ``zeros_like`` of a slice, so at most ``L`` each);
    frame ``i`` reads padded ``[floor(i m), floor(i m) + 10)``, i.e. tokens
    ``[floor(i m) - 2P, + 10)``. ``floor(D * F)`` frames; a window that runs past the
    right padding fails ``assert audio_clip.shape[1] == 10`` and the process exits there.
    """
    fps_int = int(t.fps)
    if fps_int < 1:
        return failed("musetalk-v1.5", "whisper50", t.fps, f"int(fps) = int({t.fps:g}) = 0: v1.5 divides by it", TOKEN_WINDOW, t)
    step = TOKENS_PER_SECOND / fps_int
    pad_unit = math.ceil(step)
    n_valid = math.floor(t.audio_duration_s * TOKENS_PER_SECOND)
    left, right = min(2 * pad_unit, n_valid), min(6 * pad_unit, n_valid)
    n_frames = math.floor(t.audio_duration_s * fps_int)
    starts = np.floor(np.arange(n_frames) * step).astype(np.int64)
    overflow = np.flatnonzero(starts + TOKEN_WINDOW > left + n_valid + right)
    exit_frame = int(overflow[0]) if len(overflow) else None
    raw = windows(starts[:exit_frame] - left, TOKEN_WINDOW)
    error = None
    if exit_frame is not None:
        first = int(starts[exit_frame])
        error = (
            f"exits at frame {exit_frame}: padded window [{first}, {first + TOKEN_WINDOW}) runs past "
            f"the {left + n_valid + right} padded tokens ({right} zero tokens of right padding)"
        )
    return make_schedule("musetalk-v1.5", "whisper50", float(fps_int), n_valid, raw, ZERO, own_frames(t, len(raw)), t, error=error, exit_frame=exit_frame)


@rule(
    "musetalk-v1.5-train", "whisper50", "training", "25 fps assumed; 4 zero tokens each side; frame k reads tokens [2k - 4, 2k + 6)", _explain_train,
    System("MuseTalk v1.5 training", "HF Whisper tiny, 5 states, a 30 s slice", "25 fps assumed", "one per clip frame",
           "tokens [2k - 4, 2k + 6)", "zeros (4 each side); short window skipped", "1 (stage 1) or 16 (stage 2) frames per sample", SOURCE),
)
def musetalk_v15_train(t: Timeline) -> Schedule:
    """MuseTalk v1.5 training: 25 fps hard-coded, 4 zero tokens padded on each side.

    Frame ``k`` reads tokens ``[2k - 4, 2k + 6)``; a window running past the padding is
    short and its sample is skipped. (The 30 s slice the dataloader really reads is
    ``training_slice_tokens``; past 30 s it is the wrong one.)
    """
    n_tok = t.n_features("whisper50")
    starts = np.arange(t.n_frames, dtype=np.int64) * (int(TOKENS_PER_SECOND) // TRAINING_FPS) - TRAINING_PAD
    dropped = starts + TOKEN_WINDOW > n_tok + TRAINING_PAD
    return make_schedule("musetalk-v1.5-train", "whisper50", float(TRAINING_FPS), n_tok, windows(starts, TOKEN_WINDOW), ZERO, own_frames(t), t, dropped=dropped)


def training_slice_start(start: int) -> tuple[int, int]:
    """``get_audio_file``'s 30 s slice for a drive start frame: (the start it goes on with,
    the slice's first frame in the file).

    ``while s >= 750: audio_input = audio[16000 * 30:]; s -= 750`` throws its slice away, so
    a start of 750 or more is wrapped back into the first 30 s; then a start with
    ``s + 50 >= 750`` moves back 100 frames and reads the 4 s .. 34 s slice, else 0 .. 30 s.
    """
    s = start
    while s >= SLICE_FRAMES:
        s -= SLICE_FRAMES
    if s + 50 >= SLICE_FRAMES:
        return s - LATE_SLICE_SHIFT, LATE_SLICE_SHIFT
    return s, 0


def training_slice_tokens(start: int) -> int:
    """The file token the stage-1 window of drive frame ``start`` begins at: the slice's
    ``[2s - 4, +10)`` counted from the slice's first token (``2 * start - 4`` when right)."""
    s, slice_start = training_slice_start(start)
    return 2 * (s + slice_start) - TRAINING_PAD
