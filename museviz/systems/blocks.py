"""What the systems share: building a schedule, pairing output frames with the clip's
frames, and the loops and resamplings several families copy from each other.

Each piece is named after the code it restates: ``musetalk_v1_centres`` is MuseTalk v1's
``feature2chunks`` loop (EchoMimic and LatentSync carry the same code), ``align_corners``
is Hallo's ``linear_interpolation`` of wav2vec2 CNN frames (MEMO, AniPortrait and FLOAT
carry it), ``half_pixel`` is PyTorch's ``F.interpolate`` with ``align_corners=False``
(V-Express, GeneFace++, JoyVASA), ``att_windows`` is AD-NeRF's ``get_audio_features``
(RAD-NeRF, ER-NeRF, SyncTalk).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from museviz.grid import GRIDS, SAMPLE_RATE
from museviz.rules import CLAMP, Schedule, Timeline

TIME_EPSILON_S = 1e-9  # float frame times: 29 / 25 s comes out as 1.1599999..., a token early once floored
ATT_FEATURES = 8  # AD-NeRF's att=2 window: per-frame features [i - 4, i + 4)
ATT_LEFT = 4


def windows(starts, width: int) -> np.ndarray:
    """(n, width) int64: row ``k`` is ``starts[k] + [0, width)``."""
    return np.asarray(starts, dtype=np.int64)[:, None] + np.arange(width, dtype=np.int64)


def own_frames(t: Timeline, n_chunks: int | None = None) -> np.ndarray:
    """Chunk ``k`` goes with decoded frame ``k`` (-1 beyond the last frame)."""
    n = t.n_frames if n_chunks is None else n_chunks
    frames = np.arange(n, dtype=np.int64)
    frames[frames >= t.n_frames] = -1
    return frames


def round_half_up(x):
    """Round halves up, as ffmpeg's AV_ROUND_NEAR_INF does for these positive times (numpy
    rounds them to even); ``TIME_EPSILON_S`` absorbs float sums of ticks."""
    return np.floor(np.asarray(x) + 0.5 + TIME_EPSILON_S).astype(np.int64)


def reencoded_frames(t: Timeline, rate: float, n_chunks: int) -> np.ndarray:
    """The decoded frame that slot ``k`` of the clip re-encoded at ``rate`` fps shows, for
    ``k < n_chunks`` (-1 past the re-encoded video's end).

    Slot ``k`` shows the last source frame whose time, counted from the first frame,
    rounds (half away from zero, as ffmpeg's ``fps`` filter does) to ``k`` or earlier: the
    convention LatentSync's own re-encode set, used for every system that works at a rate
    of its own, so duplicated and dropped frames show as local drift.
    """
    n_out = int(round_half_up(t.video_duration_s * rate))
    slots = round_half_up((t.frame_times_s - t.frame_times_s[0]) * rate) if t.n_frames else np.zeros(0, np.int64)
    source = np.searchsorted(slots, np.arange(n_out), side="right") - 1
    paired = np.full(n_chunks, -1, np.int64)
    shown = min(n_chunks, n_out)
    paired[:shown] = source[:shown]
    return paired


def first_index(stop: Callable[[int], bool], estimate: float) -> int:
    """The smallest ``i >= 0`` with ``stop(i)``, searched upward from just below ``estimate``.

    Each system's loop tests a float expression per frame; walking it from a nearby start
    reproduces its exact rounding without iterating over the whole clip.
    """
    i = max(int(estimate) - 4, 0)
    while i > 0 and stop(i - 1):
        i -= 1
    while not stop(i):
        i += 1
    return i


def ceil_exact(numerator: int, denominator: int) -> int:
    """``ceil(numerator / denominator)`` in integers: what a float expression should give."""
    return -(-numerator // denominator)


def musetalk_v1_centres(n_features: int, fps: float, rate: float = 50.0) -> np.ndarray:
    """MuseTalk v1's ``feature2chunks``: chunk ``i`` is centred at ``int(i * 50 / fps)``;
    the loop appends chunk ``i`` and only then stops once ``int(i * (50. / fps)) > W``, so
    there are ``1 + min{i : int(i * 50 / fps) > W}`` chunks (``W // 2 + 2`` at 25 fps)."""
    step = rate / fps
    n_chunks = first_index(lambda i: int(i * step) > n_features, n_features / step) + 1
    return (np.arange(n_chunks) * rate / fps).astype(np.int64)


def align_corners(rows, n_rows: int, n_native: int) -> np.ndarray:
    """Hallo's ``linear_interpolation`` (``F.interpolate(size=T, align_corners=True)``):
    row ``j`` of ``T`` reads native position ``j (C - 1) / (T - 1)`` (0 when ``T`` is 1).

    ``rows`` may lie outside ``[0, T)``: they are carried along the same line, which is
    where the formula would put them before the edge policy.
    """
    rows = np.asarray(rows, dtype=np.float64)
    if n_rows <= 1:
        return np.zeros_like(rows)
    return rows * (n_native - 1) / (n_rows - 1)


def half_pixel(rows, n_rows: int, n_native: int) -> tuple[np.ndarray, np.ndarray]:
    """``F.interpolate(size=R, mode='linear')`` with ``align_corners=False``: row ``r``
    samples ``(r + 0.5) C / R - 0.5``. Returns (the formula's position, the position read):
    PyTorch clamps a negative source to 0, and past ``C - 1`` both neighbours are ``C - 1``."""
    raw = (np.asarray(rows, dtype=np.float64) + 0.5) * n_native / n_rows - 0.5
    return raw, np.clip(raw, 0.0, n_native - 1)


def att_windows(n_features: int, n_frames: int, width: int = ATT_FEATURES, left: int = ATT_LEFT) -> tuple[np.ndarray, int | None]:
    """AD-NeRF's ``get_audio_features(att_mode=2)``: frame ``i`` reads per-frame features
    ``[i - left, i - left + width)`` (``[i - 4, i + 4)``), zeros outside; returns (the
    (n_frames, width) feature indices, the first frame whose window comes out short, or None).

    The zeros are ``zeros_like(auds[:pad])``, at most as many rows as the slice holds, so
    with fewer features than ``width - left`` some windows are short, and the network that
    takes them (``AudioAttNet``'s ``Linear(8, 8)``) cannot.
    """
    starts = np.arange(n_frames, dtype=np.int64) - left
    short = None
    if n_features < width - left:
        short = next((i for i in range(n_frames) if _att_length(n_features, i, width, left) != width), None)
    return windows(starts, width), short


def _att_length(n_features: int, index: int, width: int, left: int) -> int:
    """How many rows ``get_audio_features`` returns for ``index`` (see ``att_windows``)."""
    first, end = index - left, index - left + width
    pad_left, pad_right = max(-first, 0), max(end - n_features, 0)
    length = min(end, n_features) - max(first, 0)
    length += min(pad_left, length)
    return length + min(pad_right, length)


def make_schedule(
    name: str,
    grid: str,
    fps_used: float,
    n_valid: int,
    raw: np.ndarray,
    edge: str,
    source_frame: np.ndarray,
    t: Timeline,
    *,
    indices: np.ndarray | None = None,
    picture_times_s: np.ndarray | None = None,
    error: str | None = None,
    exit_frame: int | None = None,
    pinned: np.ndarray | None = None,
    dropped: np.ndarray | None = None,
    span: float = 1.0,
) -> Schedule:
    """A ``Schedule``; ``indices`` default to ``raw`` under ``edge`` (clamped into
    ``[0, n_valid - 1]``, or a zero feature outside it), ``picture_times_s`` to the times
    of the paired decoded frames; ``span`` grid features per window entry."""
    if indices is None:
        outside = (raw < 0) | (raw > n_valid - 1)
        if edge == CLAMP:
            indices = np.clip(raw, 0, max(n_valid - 1, 0))
        elif raw.dtype.kind == "f":
            indices = np.where(outside, np.nan, raw)
        else:
            indices = np.where(outside, -1, raw)
    raw, indices = _compact(raw), _compact(indices)
    if indices.shape == raw.shape and np.array_equal(indices, raw, equal_nan=True):
        indices = raw  # most windows never reach an edge: one array for both
    raw.flags.writeable = indices.flags.writeable = False  # shared: read only
    if picture_times_s is None:
        picture_times_s = np.full(len(raw), np.nan)
        has_frame = source_frame >= 0
        picture_times_s[has_frame] = t.frame_times_s[source_frame[has_frame]]
    n = len(raw)
    return Schedule(
        rule=name,
        stream=GRIDS[grid].stream,
        fps_used=fps_used,
        n_valid=n_valid,
        edge=edge,
        raw=raw,
        indices=indices,
        source_frame=source_frame,
        picture_times_s=picture_times_s,
        pinned=pinned if pinned is not None else np.zeros(n, bool),
        dropped=dropped if dropped is not None else np.zeros(n, bool),
        error=error,
        exit_frame=exit_frame,
        grid=grid,
        span=span,
    )


def _compact(windows: np.ndarray) -> np.ndarray:
    """Integer windows as int32 (grid indices stay far below 2**31): every rule's schedules
    of a 10 minute clip held 80 MB of int64."""
    return windows.astype(np.int32) if windows.dtype.kind == "i" else windows


def generated(name: str, grid: str, rate: float, n_valid: int, raw: np.ndarray, edge: str, t: Timeline, **kw) -> Schedule:
    """A system that makes its own video at ``rate`` fps: chunk ``k`` is its frame ``k``,
    shown at ``k / rate`` s, paired with the clip's frames as a re-encode at ``rate`` would."""
    n = len(raw)
    kw.setdefault("picture_times_s", np.arange(n) / rate)
    return make_schedule(name, grid, rate, n_valid, raw, edge, reencoded_frames(t, rate, n), t, **kw)


def failed(name: str, grid: str, fps: float, error: str, width: int, t: Timeline, resampled: bool = False, exit_frame: int | None = None,
           span: float = 1.0) -> Schedule:
    """A system that makes nothing of this clip: no chunks, and why."""
    empty = np.zeros((0, width), np.float64 if resampled else np.int64)
    none = np.zeros(0, np.int64)
    return make_schedule(name, grid, fps, 0, empty, CLAMP, none, t, indices=empty, error=error, exit_frame=exit_frame, span=span)


def seconds(n_samples: int) -> float:
    """``N / 16000`` as the systems compute it (a float)."""
    return n_samples / SAMPLE_RATE


def ceil_float(n_samples: int, fps: float) -> int:
    """``math.ceil(N / 16000 * fps)``, in that float order (Hallo, MEMO, AniPortrait)."""
    return math.ceil(n_samples / SAMPLE_RATE * fps)
