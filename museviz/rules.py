"""Each lip-sync system's frame -> feature rule, as data.

A rule is a function from a ``Timeline`` (what a pipeline sees of a clip) to a
``Schedule`` (which feature indices each chunk reads). Chunk ``k`` is the window the
system pairs with its ``k``-th output frame; chunk counts follow each system's own loop,
so extra and missing chunks show. Windows are stored twice: ``raw``, the indices the
formula asks for, and ``indices``, what the system really reads after its edge policy
(``-1`` where a zero token or frame is padded in).

Adding a system is one decorated function here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

import numpy as np

from museviz.grid import MEL80_PER_SECOND as MEL_PER_SECOND
from museviz.grid import SAMPLE_RATE, TOKENS_PER_SECOND, n_mel_frames, n_tokens

if TYPE_CHECKING:
    from museviz.media import Media

WHISPER50 = "whisper50"
MEL80 = "mel80"
STREAM_RATES = {WHISPER50: TOKENS_PER_SECOND, MEL80: MEL_PER_SECOND}  # features per second

TOKEN_WINDOW = 10  # whisper50 tokens per frame: 200 ms
MEL_WINDOW = 16  # mel80 frames per video frame in Wav2Lip: 200 ms
SYNCNET_MEL_WINDOW = 52  # mel80 frames per MuseTalk SyncNet sample of 16 video frames
SYNCNET_VIDEO_FRAMES = 16
TRAINING_FPS = 25  # hparams.fps in Wav2Lip and MuseTalk training
LATENTSYNC_FPS = 25  # LatentSync re-encodes every video to 25 fps first
TIME_EPSILON_S = 1e-9  # float frame times: 29 / 25 s comes out as 1.1599999..., a token early once floored

CLAMP = "clamp"  # indices outside the features are replaced by the nearest edge index
ZERO = "zero"  # indices outside the features read zero tokens
PIN = "pin"  # the last window is moved back to end at the last feature
SKIP = "skip"  # a window reaching outside the features is short, and its sample is skipped


@dataclass(frozen=True, eq=False)
class Timeline:
    """What a rule sees of a clip.

    ``frame_times_s`` (n_frames,) are the real presentation times; ``fps`` is the rate the
    pipeline believes (the container's average rate unless overridden); ``n_samples`` the
    16 kHz audio length.
    """

    frame_times_s: np.ndarray
    fps: float
    video_duration_s: float
    n_samples: int
    vfr: bool = False  # the frame times vary beyond timestamp rounding (see museviz.media)

    @classmethod
    def of_media(cls, media: Media, fps: float | None = None) -> Timeline:
        """A probed clip as a pipeline sees it, believing ``fps`` (default: the container's rate)."""
        video = media.video
        return cls(video.frame_times_s, fps or video.fps, video.duration_s, len(media.audio_16k), video.vfr)

    @classmethod
    def constant_rate(cls, fps: float, duration_s: float, audio_s: float | None = None) -> Timeline:
        """``round(duration_s * fps)`` frames at exactly ``i / fps``, with ``audio_s``
        (default: as long as the video) of audio: a clip described by numbers alone."""
        n_frames = max(round(duration_s * fps), 1)
        video_s = n_frames / fps
        return cls(np.arange(n_frames) / fps, fps, video_s, round((video_s if audio_s is None else audio_s) * SAMPLE_RATE))

    @property
    def n_frames(self) -> int:
        """Decoded frames."""
        return len(self.frame_times_s)

    @property
    def audio_duration_s(self) -> float:
        """``D = N / 16000``."""
        return self.n_samples / SAMPLE_RATE

    def n_features(self, stream: str) -> int:
        """``W = N // 320`` tokens or ``M = 1 + N // 200`` mel frames."""
        return n_tokens(self.n_samples) if stream == WHISPER50 else n_mel_frames(self.n_samples)


@dataclass(frozen=True, eq=False)
class Schedule:
    """The windows one rule gives a clip.

    Arrays have one row per chunk: ``raw`` and ``indices`` (n_chunks, width) int64;
    ``source_frame`` (n_chunks,) the decoded frame shown with the chunk (-1: none);
    ``pinned`` and ``dropped`` (n_chunks,) bool. ``n_valid`` is how many features the rule
    may read (indices ``>= n_valid`` are past the audio); ``edge`` is how it treats the
    edges (``CLAMP``, ``ZERO``, ``PIN`` or ``SKIP``).
    """

    rule: str
    stream: str
    fps_used: float
    n_valid: int
    edge: str
    raw: np.ndarray
    indices: np.ndarray
    source_frame: np.ndarray
    picture_times_s: np.ndarray
    pinned: np.ndarray
    dropped: np.ndarray
    error: str | None = None
    exit_frame: int | None = None

    @property
    def n_chunks(self) -> int:
        return len(self.raw)

    @property
    def centre_s(self) -> np.ndarray:
        """Each window's centre in audio seconds: feature ``j`` is centred at ``j / rate``."""
        return self.raw.mean(axis=1) / STREAM_RATES[self.stream] if self.n_chunks else np.zeros(0)

    @property
    def drift_s(self) -> np.ndarray:
        """Window centre minus the real time of the picture shown with it (NaN: no picture)."""
        return self.centre_s - self.picture_times_s

    @property
    def outside(self) -> np.ndarray:
        """(n_chunks, width) bool: positions the formula puts before or past the audio."""
        return (self.raw < 0) | (self.raw >= self.n_valid)

    @property
    def past_audio(self) -> np.ndarray:
        """(n_chunks,) bool: windows that reach past the end of the audio."""
        return (self.raw >= self.n_valid).any(axis=1) if self.n_chunks else np.zeros(0, bool)

    @property
    def clamped(self) -> np.ndarray:
        """(n_chunks,) bool: windows where edge features are repeated."""
        return self._reaching_out(CLAMP)

    @property
    def zero_padded(self) -> np.ndarray:
        """(n_chunks,) bool: windows that read zero tokens."""
        return self._reaching_out(ZERO) & ~self.dropped

    def _reaching_out(self, edge: str) -> np.ndarray:
        if self.edge != edge or not self.n_chunks:
            return np.zeros(self.n_chunks, bool)
        return self.outside.any(axis=1)


Explain = Callable[[Timeline, Schedule, int], list[str]]


@dataclass(frozen=True)
class Rule:
    """A system's rule: its name, the stream it reads, and the formula it applies."""

    name: str
    stream: str
    kind: str  # "inference", "training" or "reference"
    formula: str
    schedule: Callable[[Timeline], Schedule] = field(repr=False)
    explain: Explain = field(repr=False)


RULES: dict[str, Rule] = {}


def rule(name: str, stream: str, kind: str, formula: str, explain: Explain):
    """Register ``fn`` as the schedule of a rule; ``explain(t, s, k)`` writes the formula
    out with chunk ``k``'s numbers, one line per step."""

    def register(fn: Callable[[Timeline], Schedule]) -> Callable[[Timeline], Schedule]:
        RULES[name] = Rule(name, stream, kind, formula, fn, explain)
        return fn

    return register


def chunk_for_frame(s: Schedule, frame_idx: int) -> int | None:
    """The first chunk shown with decoded frame ``frame_idx``, or None (no chunk shows it)."""
    hits = np.flatnonzero(s.source_frame == frame_idx)
    return int(hits[0]) if len(hits) else None


def _reads(s: Schedule, k: int) -> str:
    """How chunk ``k``'s window ends up: what it reads and what happens at the edges."""
    idx = s.indices[k].tolist()
    shown = f"[{idx[0]} .. {idx[-1]}]" if idx == list(range(idx[0], idx[0] + len(idx))) else str(idx)
    notes = [
        note
        for flag, note in (
            (s.clamped[k], f"clamped to [0, {s.n_valid - 1}]: edge features repeated"),
            (s.zero_padded[k], "-1 = zero token padded in"),
            (s.pinned[k], f"pinned to end at the last mel frame, {s.n_valid - 1}"),
            (s.past_audio[k], "reaches past the end of the audio"),
            (s.dropped[k], "window is short: this training sample is skipped"),
        )
        if flag
    ]
    return f"reads {shown}" + (f" ({'; '.join(notes)})" if notes else "")


def _explain_v1(t: Timeline, s: Schedule, k: int) -> list[str]:
    c = int(k * TOKENS_PER_SECOND / s.fps_used)
    lines = [f"center_idx = int({k} * 50 / {s.fps_used:g}) = {c}", f"tokens [{c} - 4, {c} + 6) = [{c - 4}, {c + 6})", _reads(s, k)]
    if s.rule == "latentsync" and s.source_frame[k] >= 0:
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
        _reads(s, k),
    ]


def _explain_wav2lip(t: Timeline, s: Schedule, k: int) -> list[str]:
    if s.pinned[k]:
        m = s.n_valid
        return [f"int({k} * 80 / {s.fps_used:g}) + 16 > M = {m}: last chunk pinned", f"mel [M - 16, M) = [{m - MEL_WINDOW}, {m})", _reads(s, k)]
    start = int(k * (MEL_PER_SECOND / s.fps_used))
    return [f"mel_idx = int({k} * 80 / {s.fps_used:g}) = {start}", f"mel [{start}, {start} + 16) = [{start}, {start + MEL_WINDOW})", _reads(s, k)]


def _explain_exact(t: Timeline, s: Schedule, k: int) -> list[str]:
    rate = int(STREAM_RATES[s.stream])
    width = s.raw.shape[1]
    back = (width - 2) // 2
    t_s = t.frame_times_s[k]
    start = int(s.raw[k, 0])
    unit = "tokens" if s.stream == WHISPER50 else "mel"
    return [
        f"t_{k} = {t_s:.4f} s (the frame's real presentation time)",
        f"start = floor({rate} * {t_s:.4f} - {back}) = {start}",
        f"{unit} [{start}, {start + width}): centre {(start + (width - 1) / 2) / rate:.4f} s",
        _reads(s, k),
    ]


def _explain_training(t: Timeline, s: Schedule, k: int) -> list[str]:
    start = int(s.raw[k, 0])
    width = s.raw.shape[1]
    formula = {
        "musetalk-v1.5-train": f"tokens [2 * {k} - 4, +10) = [{start}, {start + width})",
        "wav2lip-train": f"mel [int(80 * ({k} - 1) / 25), +16) = [{start}, {start + width})",
        "syncnet-train": f"frames {k}..{k + SYNCNET_VIDEO_FRAMES - 1}: mel [int(80 * {k} / 25), +52) = [{start}, {start + width})",
    }[s.rule]
    return [formula, _reads(s, k)]


def schedule_all(timeline: Timeline, names: list[str] | None = None) -> dict[str, Schedule]:
    """Every rule's schedule of ``timeline`` (or only ``names``), keyed by rule name."""
    return {name: RULES[name].schedule(timeline) for name in (names or RULES)}


@rule("musetalk-v1", WHISPER50, "inference", "c = int(i * 50 / fps); tokens [c - 4, c + 6), clamped to [0, W - 1]", _explain_v1)
def musetalk_v1(t: Timeline) -> Schedule:
    """MuseTalk v1 inference: ``c = int(i * 50 / fps)``; tokens ``[c - 4, c + 6)``.

    Indices are clamped to ``[0, W - 1]`` (edge tokens repeated). The loop appends chunk
    ``i`` and stops once ``int(i * (50. / fps)) > W``: ``W // 2 + 2`` chunks at 25 fps.
    """
    return _musetalk_v1_loop("musetalk-v1", t, t.fps, _own_frames(t))


@rule("latentsync", WHISPER50, "inference", "video forced to 25 fps; then c = int(i * 50 / 25); tokens [c - 4, c + 6), clamped", _explain_v1)
def latentsync(t: Timeline) -> Schedule:
    """LatentSync: MuseTalk v1's rule after re-encoding the video at 25 fps.

    Output frame ``k`` of the 25 fps video shows the last source frame whose time, counted
    from the first frame, rounds (half away from zero, as ffmpeg's ``fps`` filter does) to
    slot ``k`` or earlier, so the picture paired with chunk ``k`` is that frame: duplicates
    and drops show as local drift.
    """
    n_out = _round_half_up(t.video_duration_s * LATENTSYNC_FPS)
    slots = _round_half_up((t.frame_times_s - t.frame_times_s[0]) * LATENTSYNC_FPS) if t.n_frames else np.zeros(0)
    source = np.searchsorted(slots, np.arange(n_out), side="right") - 1
    return _musetalk_v1_loop("latentsync", t, float(LATENTSYNC_FPS), source)


@rule(
    "musetalk-v1.5",
    WHISPER50,
    "inference",
    "F = int(fps); m = 50 / F; P = ceil(m); pad 2P zeros left, 6P right; tokens [floor(i m) - 2P, + 10)",
    _explain_v15,
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
        return _failed("musetalk-v1.5", WHISPER50, t.fps, f"int(fps) = int({t.fps:g}) = 0: v1.5 divides by it")
    step = TOKENS_PER_SECOND / fps_int
    pad_unit = math.ceil(step)
    n_valid = math.floor(t.audio_duration_s * TOKENS_PER_SECOND)
    left, right = min(2 * pad_unit, n_valid), min(6 * pad_unit, n_valid)
    n_frames = math.floor(t.audio_duration_s * fps_int)
    starts = np.floor(np.arange(n_frames) * step).astype(np.int64)
    overflow = np.flatnonzero(starts + TOKEN_WINDOW > left + n_valid + right)
    exit_frame = int(overflow[0]) if len(overflow) else None
    raw = _windows(starts[:exit_frame] - left, TOKEN_WINDOW)
    error = None
    if exit_frame is not None:
        first = int(starts[exit_frame])
        error = (
            f"exits at frame {exit_frame}: padded window [{first}, {first + TOKEN_WINDOW}) runs past "
            f"the {left + n_valid + right} padded tokens ({right} zero tokens of right padding)"
        )
    return _schedule("musetalk-v1.5", WHISPER50, float(fps_int), n_valid, raw, ZERO, _own_frames(t, len(raw)), t, error, exit_frame)


@rule("wav2lip", MEL80, "inference", "s = int(i * 80 / fps); mel [s, s + 16); last chunk pinned to [M - 16, M)", _explain_wav2lip)
def wav2lip(t: Timeline) -> Schedule:
    """Wav2Lip inference: ``s = int(i * (80. / fps))``; mel frames ``[s, s + 16)``.

    When ``s + 16 > M`` one last chunk ``[M - 16, M)`` is appended and the loop stops,
    so the output has about ``25 D - 3`` frames at 25 fps.
    """
    n_mel = t.n_features(MEL80)
    if n_mel < MEL_WINDOW:
        return _failed("wav2lip", MEL80, t.fps, f"audio has {n_mel} mel frames, fewer than the {MEL_WINDOW} of one window")
    step = MEL_PER_SECOND / t.fps
    n_full = _first_index(lambda i: int(i * step) + MEL_WINDOW > n_mel, n_mel / step)
    starts = np.append((np.arange(n_full) * step).astype(np.int64), n_mel - MEL_WINDOW)
    pinned = np.zeros(n_full + 1, bool)
    pinned[-1] = True
    return _schedule("wav2lip", MEL80, t.fps, n_mel, _windows(starts, MEL_WINDOW), PIN, _own_frames(t, n_full + 1), t, pinned=pinned)


@rule("exact", WHISPER50, "reference", "tokens [s, s + 10) with s = floor(50 t_i - 4): centred on the frame's real time t_i; zeros outside", _explain_exact)
def exact(t: Timeline) -> Schedule:
    """museviz's reference on whisper50: 10 tokens centred on the frame's real time.

    Token ``k`` is centred at ``k / 50`` s, so the window ``[s, s + 10)`` is centred at
    ``(s + 4.5) / 50``; ``s = floor(50 t_i - 4)`` puts that within 10 ms of ``t_i``.
    One chunk per decoded frame, whatever the frame rate (VFR-safe); zeros outside the audio.
    """
    return _centred("exact", WHISPER50, TOKEN_WINDOW, t)


@rule("exact-mel80", MEL80, "reference", "mel [s, s + 16) with s = floor(80 t_i - 7): centred on the frame's real time t_i; zeros outside", _explain_exact)
def exact_mel80(t: Timeline) -> Schedule:
    """museviz's reference on mel80: 16 mel frames centred on the frame's real time.

    Mel frame ``m`` is centred at ``m / 80`` s; ``[s, s + 16)`` is centred at
    ``(s + 7.5) / 80``, and ``s = floor(80 t_i - 7)`` puts that within 6.25 ms of ``t_i``.
    """
    return _centred("exact-mel80", MEL80, MEL_WINDOW, t)


@rule("musetalk-v1.5-train", WHISPER50, "training", "25 fps assumed; 4 zero tokens each side; frame k reads tokens [2k - 4, 2k + 6)", _explain_training)
def musetalk_v15_train(t: Timeline) -> Schedule:
    """MuseTalk v1.5 training: 25 fps hard-coded, 4 zero tokens padded on each side.

    Frame ``k`` reads tokens ``[2k - 4, 2k + 6)``; a window running past the padding is
    short and its sample is skipped.
    """
    pad = 4
    n_tok = t.n_features(WHISPER50)
    starts = np.arange(t.n_frames, dtype=np.int64) * (TOKENS_PER_SECOND // TRAINING_FPS) - pad
    dropped = starts + TOKEN_WINDOW > n_tok + pad
    return _schedule(
        "musetalk-v1.5-train", WHISPER50, float(TRAINING_FPS), n_tok, _windows(starts, TOKEN_WINDOW), ZERO, _own_frames(t), t, dropped=dropped
    )


@rule("wav2lip-train", MEL80, "training", "25 fps assumed; frame k reads mel [int(80 (k - 1) / 25), + 16); skipped if short", _explain_training)
def wav2lip_train(t: Timeline) -> Schedule:
    """Wav2Lip generator training: frame ``k`` reads ``[int(80 (k - 1) / fps), + 16)``.

    One frame earlier than inference. A window that is short (past the end, or a negative
    start that Python slicing turns into an empty slice) makes the sample be skipped.
    """
    n_mel = t.n_features(MEL80)
    starts = (MEL_PER_SECOND * (np.arange(t.n_frames) - 1) / TRAINING_FPS).astype(np.int64)
    dropped = (starts < 0) | (starts + MEL_WINDOW > n_mel)
    return _schedule("wav2lip-train", MEL80, float(TRAINING_FPS), n_mel, _windows(starts, MEL_WINDOW), SKIP, _own_frames(t), t, dropped=dropped)


@rule("syncnet-train", MEL80, "training", "25 fps assumed; sample of frames f..f+15 reads mel [int(80 f / 25), + 52); skipped if short", _explain_training)
def syncnet_train(t: Timeline) -> Schedule:
    """MuseTalk's SyncNet training: frames ``f..f+15`` read mel ``[int(80 f / fps), + 52)``.

    One chunk per possible start frame ``f`` (the 16 frames must exist); a short window is
    skipped ("invalid mel spectrogram shape ..., expected 52").
    """
    n_mel = t.n_features(MEL80)
    n_samples = max(t.n_frames - SYNCNET_VIDEO_FRAMES + 1, 0)
    starts = (MEL_PER_SECOND * np.arange(n_samples) / TRAINING_FPS).astype(np.int64)
    dropped = starts + SYNCNET_MEL_WINDOW > n_mel
    return _schedule(
        "syncnet-train", MEL80, float(TRAINING_FPS), n_mel, _windows(starts, SYNCNET_MEL_WINDOW), SKIP, _own_frames(t, n_samples), t, dropped=dropped
    )


def _musetalk_v1_loop(name: str, t: Timeline, fps: float, frames: np.ndarray) -> Schedule:
    """The v1 loop shared by MuseTalk v1 and LatentSync (see ``musetalk_v1``)."""
    n_tok = t.n_features(WHISPER50)
    if n_tok == 0:
        return _failed(name, WHISPER50, fps, "no whisper50 tokens: the audio is shorter than 20 ms")
    step = TOKENS_PER_SECOND / fps
    n_chunks = _first_index(lambda i: int(i * step) > n_tok, n_tok / step) + 1
    centres = (np.arange(n_chunks) * TOKENS_PER_SECOND / fps).astype(np.int64)
    source = np.full(n_chunks, -1, dtype=np.int64)
    shown = min(n_chunks, len(frames))
    source[:shown] = frames[:shown]
    return _schedule(name, WHISPER50, fps, n_tok, _windows(centres - 4, TOKEN_WINDOW), CLAMP, source, t)


def _centred(name: str, stream: str, width: int, t: Timeline) -> Schedule:
    rate = STREAM_RATES[stream]
    starts = np.floor((t.frame_times_s + TIME_EPSILON_S) * rate - (width - 2) / 2).astype(np.int64)
    return _schedule(name, stream, t.fps, t.n_features(stream), _windows(starts, width), ZERO, _own_frames(t), t)


def _round_half_up(x):
    """Round halves up, as ffmpeg's AV_ROUND_NEAR_INF does for these positive times (numpy
    rounds them to even); ``TIME_EPSILON_S`` absorbs float sums of ticks."""
    return np.floor(np.asarray(x) + 0.5 + TIME_EPSILON_S).astype(np.int64)


def _first_index(stop: Callable[[int], bool], estimate: float) -> int:
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


def _windows(starts: np.ndarray, width: int) -> np.ndarray:
    return np.asarray(starts, dtype=np.int64)[:, None] + np.arange(width, dtype=np.int64)


def _own_frames(t: Timeline, n_chunks: int | None = None) -> np.ndarray:
    """Chunk ``k`` goes with decoded frame ``k`` (-1 beyond the last frame)."""
    n = t.n_frames if n_chunks is None else n_chunks
    frames = np.arange(n, dtype=np.int64)
    frames[frames >= t.n_frames] = -1
    return frames


def _schedule(
    name: str,
    stream: str,
    fps_used: float,
    n_valid: int,
    raw: np.ndarray,
    edge: str,
    source_frame: np.ndarray,
    t: Timeline,
    error: str | None = None,
    exit_frame: int | None = None,
    pinned: np.ndarray | None = None,
    dropped: np.ndarray | None = None,
) -> Schedule:
    if edge == CLAMP:
        indices = np.clip(raw, 0, max(n_valid - 1, 0))
    else:
        indices = np.where((raw < 0) | (raw >= n_valid), -1, raw)
    picture = np.full(len(raw), np.nan)
    has_frame = source_frame >= 0
    picture[has_frame] = t.frame_times_s[source_frame[has_frame]]
    n = len(raw)
    return Schedule(
        rule=name,
        stream=stream,
        fps_used=fps_used,
        n_valid=n_valid,
        edge=edge,
        raw=raw,
        indices=indices,
        source_frame=source_frame,
        picture_times_s=picture,
        pinned=pinned if pinned is not None else np.zeros(n, bool),
        dropped=dropped if dropped is not None else np.zeros(n, bool),
        error=error,
        exit_frame=exit_frame,
    )


def _failed(name: str, stream: str, fps: float, error: str) -> Schedule:
    empty = np.zeros((0, TOKEN_WINDOW if stream == WHISPER50 else MEL_WINDOW), np.int64)
    none = np.zeros(0, np.int64)
    return Schedule(name, stream, fps, 0, ZERO, empty, empty, none, np.zeros(0), none.astype(bool), none.astype(bool), error=error)
