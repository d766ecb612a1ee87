"""Each lip-sync system's frame -> feature rule, as data: the types and the registry.

A rule is a function from a ``Timeline`` (what a pipeline sees of a clip) to a
``Schedule`` (which features each chunk reads). Chunk ``k`` is the window the system pairs
with its ``k``-th output frame; chunk counts follow each system's own loop, so extra and
missing chunks show. Windows are stored twice: ``raw``, the positions the formula asks for,
and ``indices``, what the system really reads after its edge policy.

A window lives on the grid the system really reads (``museviz.grid.GRIDS``): integer
indices for most systems (``-1`` where a zero feature is padded in), or fractional
positions for the systems that resample their features to the video rate (NaN where a zero
feature is padded in), so the time each frame hears is exact either way.

The rules themselves live in ``museviz.systems``, one module per system family; importing
this module registers them all in ``RULES``. Adding a system is adding one file there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from museviz.grid import GRIDS, SAMPLE_RATE, Grid

if TYPE_CHECKING:
    from museviz.media import Media

WHISPER50 = "whisper50"
MEL80 = "mel80"
STREAM_RATES = {name: GRIDS[name].rate_hz for name in (WHISPER50, MEL80)}  # features per second

CLAMP = "clamp"  # indices outside the features are replaced by the nearest edge index
ZERO = "zero"  # indices outside the features read zero features
PIN = "pin"  # the last window is moved back to end at the last feature
SKIP = "skip"  # a window reaching outside the features is short, and its sample is skipped (or the loop stops)
EDGES = (CLAMP, ZERO, PIN, SKIP)


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

    def n_features(self, grid: str) -> int:
        """How many features the clip's audio gives on ``grid`` (a name in ``GRIDS``):
        ``W = N // 320`` tokens, ``M = 1 + N // 200`` mel frames, ..."""
        return GRIDS[grid].count(self.n_samples)


@dataclass(frozen=True, eq=False)
class Schedule:
    """The windows one rule gives a clip.

    Arrays have one row per chunk: ``raw`` and ``indices`` (n_chunks, width), int32 on the
    grid's integer indices (``indices`` -1: a zero feature), or float64 fractional positions
    for a rule that resamples its features (``indices`` NaN: a zero feature);
    ``source_frame`` (n_chunks,) the decoded frame paired with the chunk (-1: none);
    ``picture_times_s`` (n_chunks,) when the chunk's picture is shown, on the audio clock
    (NaN: no picture); ``pinned`` and ``dropped`` (n_chunks,) bool. ``grid`` names the grid
    the system reads and ``stream`` the extracted stream museviz draws it over. ``n_valid`` is
    how many features the rule may read (positions past ``n_valid - 1`` are past the audio);
    ``edge`` is its main edge policy (``CLAMP``, ``ZERO``, ``PIN`` or ``SKIP``); ``span`` is how
    many grid features each window entry stands for (16 where a system stacks 16 rows into one
    feature and the entry is the stack's centre; 1 otherwise). ``error`` and
    ``exit_frame`` say where the system fails on the clip; ``definition`` is the rule that
    made the schedule.
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
    grid: str = WHISPER50
    span: float = 1.0
    definition: Rule | None = field(default=None, repr=False)

    @property
    def n_chunks(self) -> int:
        return len(self.raw)

    @property
    def resampled(self) -> bool:
        """The windows are fractional positions (the rule resamples its features)."""
        return self.raw.dtype.kind == "f"

    @property
    def grid_info(self) -> Grid:
        return GRIDS[self.grid]

    @cached_property
    def centre_s(self) -> np.ndarray:
        """Each window's centre in audio seconds: position ``p`` of the grid is centred at ``offset + p / rate``."""
        if not self.n_chunks:
            return np.zeros(0)
        return self.grid_info.offset_s + self.raw.mean(axis=1) / self.grid_info.rate_hz

    @property
    def drift_s(self) -> np.ndarray:
        """Window centre minus the time its picture is shown (NaN: no picture)."""
        return self.centre_s - self.picture_times_s

    @cached_property
    def extent(self) -> np.ndarray:
        """(n_chunks, 2) float64: the first and last grid positions each window covers (its
        formula positions, each entry ``span`` features wide)."""
        if not self.n_chunks:
            return np.zeros((0, 2))
        reach = (self.span - 1) / 2
        return np.stack([self.raw.min(axis=1) - reach, self.raw.max(axis=1) + reach], axis=1).astype(np.float64)

    def window_s(self, k: int, within_audio: bool = False) -> tuple[float, float]:
        """Where chunk ``k``'s window starts and ends in audio seconds; ``within_audio``:
        only the part over the audio."""
        start, end = self._seconds(self.extent[k], within_audio)
        return float(start), float(end)

    def windows_s(self, within_audio: bool = False) -> np.ndarray:
        """(n_chunks, 2): ``window_s`` of every chunk."""
        return self._seconds(self.extent, within_audio)

    def _seconds(self, extent: np.ndarray, within_audio: bool) -> np.ndarray:
        """Grid positions (first, last) as the audio seconds their features span."""
        if within_audio:
            extent = np.clip(extent, 0.0, self.n_valid - 1.0)
        g = self.grid_info
        return g.offset_s + (extent + [-0.5, 0.5]) / g.rate_hz

    def window_text(self, k: int) -> str:
        """``tokens 20..29``, ``mel 16..31``, or ``wav2vec2 12.4..20.3`` on another grid: the
        first and last features the window covers."""
        unit = {WHISPER50: "tokens", MEL80: "mel"}[self.grid] if self.grid == self.stream else self.grid
        lo, hi = self.extent[k]
        return f"{unit} {format_position(lo, 1)}..{format_position(hi, 1)}"

    @cached_property
    def outside(self) -> np.ndarray:
        """(n_chunks, width) bool: entries the formula puts (partly) before or past the audio."""
        reach = (self.span - 1) / 2
        return (self.raw - reach < 0) | (self.raw + reach > self.n_valid - 1)

    @cached_property
    def zeroed(self) -> np.ndarray:
        """(n_chunks, width) bool: positions that read a zero feature."""
        return np.isnan(self.indices) if self.resampled else self.indices < 0

    @cached_property
    def past_audio(self) -> np.ndarray:
        """(n_chunks,) bool: windows that reach past the end of the audio."""
        return (self.raw + (self.span - 1) / 2 > self.n_valid - 1).any(axis=1) if self.n_chunks else np.zeros(0, bool)

    @cached_property
    def moved(self) -> np.ndarray:
        """(n_chunks, width) bool: positions the edge policy moved (an edge feature read instead)."""
        return (self.indices != self.raw) & ~self.zeroed

    @cached_property
    def clamped(self) -> np.ndarray:
        """(n_chunks,) bool: windows where edge features are repeated."""
        return self.moved.any(axis=1) if self.n_chunks else np.zeros(0, bool)

    @cached_property
    def zero_padded(self) -> np.ndarray:
        """(n_chunks,) bool: windows that read zero features."""
        return (self.zeroed.any(axis=1) & ~self.dropped) if self.n_chunks else np.zeros(0, bool)


Explain = Callable[[Timeline, Schedule, int], list[str]]


@dataclass(frozen=True)
class System:
    """A row of the systems table: what a system reads and how, in a few words each, and
    the code the rule was read from (``repo @ commit``)."""

    name: str
    features: str
    rate: str
    frames: str
    window: str
    edges: str
    chunking: str
    source: str


@dataclass(frozen=True)
class Rule:
    """A system's rule: its name, the grid it reads, and the formula it applies.

    ``schedule(timeline)`` gives the clip's windows, with ``definition`` set to this rule;
    ``explain(t, s, k)`` writes the formula out with chunk ``k``'s numbers, one line per step.
    """

    name: str
    grid: str
    kind: str  # "inference", "training" or "reference"
    formula: str
    apply: Callable[[Timeline], Schedule] = field(repr=False)
    explain: Explain = field(repr=False)
    system: System | None = None

    @property
    def stream(self) -> str:
        """The extracted stream its windows are drawn over."""
        return GRIDS[self.grid].stream

    def schedule(self, timeline: Timeline) -> Schedule:
        return dataclasses.replace(self.apply(timeline), definition=self)


RULES: dict[str, Rule] = {}


def rule(name: str, grid: str, kind: str, formula: str, explain: Explain, system: System | None = None):
    """Register ``fn`` as the schedule of a rule on ``grid`` (a name in ``GRIDS``)."""

    def register(fn: Callable[[Timeline], Schedule]) -> Callable[[Timeline], Schedule]:
        RULES[name] = Rule(name, grid, kind, formula, fn, explain, system)
        return fn

    return register


def chunk_for_frame(s: Schedule, frame_idx: int) -> int | None:
    """The first chunk paired with decoded frame ``frame_idx``, or None (no chunk is)."""
    hits = np.flatnonzero(s.source_frame == frame_idx)
    return int(hits[0]) if len(hits) else None


def schedule_all(timeline: Timeline, names: list[str] | None = None) -> dict[str, Schedule]:
    """Every rule's schedule of ``timeline`` (or only ``names``), keyed by rule name."""
    return {name: RULES[name].schedule(timeline) for name in (names or RULES)}


def format_position(p: float, decimals: int = 3) -> str:
    """A window position: an index as it is, a fractional position to ``decimals`` places."""
    return f"{p:.{decimals}f}".rstrip("0").rstrip(".") if p != int(p) else str(int(p))


def reads(s: Schedule, k: int) -> str:
    """How chunk ``k``'s window ends up: what it reads and what happens at the edges."""
    idx = s.indices[k]
    if s.resampled:
        values = ["0" if np.isnan(p) else format_position(p) for p in idx]
        shown = "[" + ", ".join(values) + "]"
    else:
        values = idx.tolist()
        shown = f"[{values[0]} .. {values[-1]}]" if values == list(range(values[0], values[0] + len(values))) else str(values)
    notes = [
        note
        for flag, note in (
            (s.clamped[k], f"clamped to [0, {s.n_valid - 1}]: edge features repeated" if not s.resampled else "edge features repeated"),
            (s.zero_padded[k], "0 = zero feature padded in" if s.resampled else "-1 = zero token padded in"),
            (s.pinned[k], f"pinned to end at the last mel frame, {s.n_valid - 1}"),
            (s.past_audio[k], "reaches past the end of the audio"),
            (s.dropped[k], "window is short: this training sample is skipped"),
        )
        if flag
    ]
    where = "" if s.grid == s.stream else f" on {s.grid}"
    return f"reads {shown}{where}" + (f" ({'; '.join(notes)})" if notes else "")


# Registers every system's rules (they import the names above, so this comes last).
import museviz.systems  # noqa: E402, F401
