"""What the figures share: sizes, colours, the question-and-answer header, the rules to
draw and sentences about them, the time axes."""

from __future__ import annotations

import functools
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import ScaledTranslation, Transform
from PIL import Image

from museviz.palette import LEVEL_COLORS
from museviz.rules import MEL80, RULES, WHISPER50, Schedule, Timeline

DPI = 100  # PNG pixels per figure inch
PNG_COMPRESSION = 3  # zlib level: files within 5 % of level 6, written in half the time
DEFAULT_PLOT_RULES = ("exact", "exact-mel80", "musetalk-v1", "latentsync", "musetalk-v1.5", "wav2lip")
REFERENCE = {WHISPER50: "exact", MEL80: "exact-mel80"}  # what the other rules of a stream are compared with
STREAMS = (WHISPER50, MEL80)
FEATURE_NAMES = {WHISPER50: "token", MEL80: "mel frame"}
MAX_FRAME_BOXES = 240  # frames in view above which the frame strip draws no boxes
MAX_FRAME_LINES = 400  # frame boundaries drawn over the features; more frames: every n-th one
SPARSE_FRAME_LINES = 80  # up to this many frame boundaries are drawn bolder
MAX_TIMELINE_FRAMES = 24  # frames per teaching view, so each window stays a readable bar
MAX_EXTRA_ROWS = 6  # chunks past the last frame listed per rule in the edge view
MIN_GRID_PX = 4.0  # feature cells narrower than this on screen get no grid lines
MIN_LABEL_PX = 30.0  # frame boxes narrower than this are labelled only if the view is about them
LABEL_CHAR_PX = 5.5  # px per character of a 7.5 pt frame label
LABEL_CHAR_IN = 0.075  # inches per character of a bold 9.5 pt rule name
MIN_INDEX_PX = 34.0  # feature index labels along a lanes axis at least this far apart
INDEX_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 10**9)
ROW_IN = 0.19  # inches per window row
FRAME_ROW_IN = 0.42  # inches per window row in the one-frame view
FRAME_STRIP_IN = 0.5  # inches: height of the video frame strip in the one-frame view
AXIS_GAP_IN = 0.5  # inches between stacked axes in the one-frame view (for the index ticks)
FRAME_BOTTOM_IN = 1.45  # inches below the one-frame view's axes: time labels and a legend of up to 4 rows
HEADER_IN = 0.62  # inches for the question and a one-line answer
ANSWER_LINE_IN = 0.19  # inches per further line of the answer
ANSWER_CHARS_PER_IN = 11.5  # characters of the 10 pt answer per inch of figure width
RAMP_FRAMES = 2  # a drift that grows by more frames than this over the clip gets its rate written on it
RAMP_FIT = 0.9  # R² above which a drift counts as a straight ramp
SMOOTHING_S = 0.2  # s: running mean of drift curves, longer than the 20 ms / 12.5 ms snapping beat
LINE_WIDTHS = (1.5, 1.4)  # pt: the last rule's line width, and how much wider each earlier one is
MAX_NESTING_PT = 9.0  # pt: with many rules the stripes get thinner, so the widest line stays this wide
LEGEND_INSIDE = 10  # legend entries a mapping panel holds inside its axes; more go below the panel
LEGEND_ROW_IN = 0.3  # inches per row of a legend below a panel (labels run to two lines)
DRIFT_LEGEND_ROWS = 24  # legend entries per column beside the drift plot
FORMULA_HEAD_IN = 0.2  # inches: a rule's header line in the formula text
FORMULA_LINE_IN = 0.148  # inches per formula line (8.5 pt, line spacing 1.25)
FORMULA_GAP_IN = 0.1  # inches between rules in the formula text
FORMULA_WRAP = 80  # characters per formula line
AUDIO_END_COLOR = LEVEL_COLORS["error"]
NO_AUDIO_SHADE = "#e4e4e4"
_END_STYLES = {"audio end": dict(color=AUDIO_END_COLOR, lw=1.5), "video end": dict(color="black", lw=1.2, ls="--")}
FRAME_FILL = ("#f6f6f6", "#e2e2e2")  # alternate frame boxes
FRAME_HIGHLIGHT = "#ffe08a"  # the frames a view is about
TITLE_SIZE = 13.0  # pt
ANSWER_SIZE = 10.0
LABEL_SIZE = 9.5
SMALL_SIZE = 8.0
TINY_SIZE = 7.0
MONO = "DejaVu Sans Mono"
_LEGEND = {
    "read": lambda: Patch(facecolor="0.35", edgecolor="white", label="read from the audio"),
    "clamped": lambda: Patch(facecolor="0.88", edgecolor="0.35", hatch="////", label="clamped: edge feature repeated"),
    "zero": lambda: Patch(facecolor="white", edgecolor="0.35", hatch="...", label="zero feature padded in"),
    "skipped": lambda: Patch(facecolor="0.8", edgecolor="0.35", hatch="xx", label="short window: sample skipped"),
    "pinned": lambda: Patch(facecolor="none", edgecolor="black", linewidth=2.2, label="pinned: last window moved back to the end"),
    "no frame": lambda: Patch(facecolor="none", edgecolor="black", linestyle="--", label="chunk past the last frame (no picture)"),
    "no audio": lambda: Patch(facecolor=NO_AUDIO_SHADE, label="no audio (before 0 s, past the end)"),
    "picture": lambda: Line2D([], [], marker="o", ls="none", mfc="white", mec="black", mew=1.3, markersize=6, label="when the frame is shown"),
    "missing": lambda: Line2D([], [], marker="X", ls="none", color="0.3", markersize=8, label="✕ no chunk for this frame"),
    "audio end": lambda: Line2D([], [], color=AUDIO_END_COLOR, lw=1.5, label="audio ends"),
    "video end": lambda: Line2D([], [], color="black", lw=1.2, ls="--", label="video ends"),
}


def _check_frame(timeline: Timeline, frame_idx: int) -> None:
    if not 0 <= frame_idx < timeline.n_frames:
        raise ValueError(f"frame {frame_idx} does not exist: the clip has frames 0 to {timeline.n_frames - 1}")


def _pick(timeline: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None) -> dict[str, Schedule]:
    """The schedules to draw, in order; a rule missing from ``schedules`` is computed."""
    names = DEFAULT_PLOT_RULES if rules is None else tuple(rules)
    unknown = [n for n in names if n not in RULES and n not in schedules]
    if unknown:
        raise ValueError(f"unknown rule {', '.join(unknown)}: known rules are {', '.join(RULES)}")
    return {name: schedules[name] if name in schedules else RULES[name].schedule(timeline) for name in names}


def _is_reference(name: str) -> bool:
    return name in RULES and RULES[name].kind == "reference"


def _finite_drift_s(s: Schedule) -> np.ndarray:
    """Drift of the chunks that have a picture and are not skipped."""
    if not s.n_chunks:
        return np.zeros(0)
    drift = s.drift_s[~s.dropped]
    return drift[np.isfinite(drift)]


def _max_abs_ms(s: Schedule) -> float:
    drift = _finite_drift_s(s)
    return float(np.abs(drift).max()) * 1000 if len(drift) else 0.0


def _fmt_s(seconds: float) -> str:
    """Signed, in ms below a second: ``+94 ms``, ``+1.95 s``."""
    return f"{seconds:+.2f} s" if abs(seconds) >= 1 else f"{seconds * 1000:+.0f} ms"


def _drift_answer(picked: dict[str, Schedule]) -> str:
    """Each rule's largest gap between its audio window and its picture, largest first."""
    parts = []
    for name, s in sorted(picked.items(), key=lambda item: -_max_abs_ms(item[1])):
        drift = _finite_drift_s(s)
        if not len(drift):
            parts.append(f"{name} ✕ {'fails' if s.error else 'no chunks'}")
            continue
        extreme = float(drift[np.argmax(np.abs(drift))])
        parts.append(f"{name} {_fmt_s(extreme)}" + (f" (✕ exits at frame {s.exit_frame})" if s.exit_frame is not None else ""))
    return "Largest gap between window centre and picture (+ = the frame reads later audio, so generated lips lead the sound): " + ", ".join(parts)


def _mapping_notes(t: Timeline, s: Schedule) -> list[str]:
    """What a line does not show by itself: extra chunks, a missing tail, pins, exits."""
    if not s.n_chunks:
        return [f"✕ {s.error}" if s.error else "no chunks"]
    notes = []
    extra = int((s.source_frame < 0).sum())
    if extra:
        notes.append(f"{extra} chunk{'s' if extra > 1 else ''} past the last frame ○")
    if s.pinned.any():
        notes.append("last window pinned ▼")
    if s.exit_frame is not None:
        notes.append(f"✕ exits at frame {s.exit_frame}")
    else:
        missing = t.n_frames - 1 - int(s.source_frame.max())
        if missing > 0:
            notes.append(f"no chunk for the last {missing} frames" if missing > 1 else "no chunk for the last frame")
    dropped = int(s.dropped.sum())
    if dropped:
        notes.append(f"{dropped} short window{'s' if dropped > 1 else ''} skipped")
    return notes


def _legend_label(t: Timeline, name: str, s: Schedule) -> str:
    notes = _mapping_notes(t, s)
    return name + (f"\n  {'; '.join(notes)}" if notes else "")


def _framed(width_in: float, height_in: float, question: str, answer: str) -> tuple[Figure, SubFigure]:
    """A constrained-layout figure with the question and its answer on top, and its body."""
    header_in = _header_height(answer, width_in)
    fig = Figure(figsize=(width_in, height_in + header_in - HEADER_IN), layout="constrained")
    head, body = fig.subfigures(2, 1, height_ratios=(header_in, height_in - HEADER_IN))
    _header(head, question, answer, width_in)
    return fig, body


def _answer_lines(answer: str, width_in: float) -> list[str]:
    return [piece for line in answer.split("\n") for piece in textwrap.wrap(line, int(width_in * ANSWER_CHARS_PER_IN))]


def _header_height(answer: str, width_in: float) -> float:
    return HEADER_IN + ANSWER_LINE_IN * (len(_answer_lines(answer, width_in)) - 1)


def _header(target, question: str, answer: str, width_in: float) -> tuple[Text, Text]:
    """The question in bold at the top left of ``target``, the answer below it; returns both.

    ``target`` is a whole figure laid out by hand (placed in inches from its top, so they
    stay there when the figure's height changes) or the header subfigure of ``_framed``
    (placed in fractions of it).
    """
    lines = "\n".join(_answer_lines(answer, width_in))
    if not isinstance(target, Figure):
        height_in = _header_height(answer, width_in)
        return (
            target.text(0.008, 1 - 0.1 / height_in, question, fontsize=TITLE_SIZE, fontweight="bold", va="top", ha="left"),
            target.text(0.008, 1 - 0.4 / height_in, lines, fontsize=ANSWER_SIZE, va="top", ha="left", linespacing=1.3),
        )
    return (
        target.text(0, 1, question, transform=_from_top_left(target, 0.12, 0.1), fontsize=TITLE_SIZE, fontweight="bold", va="top", ha="left"),
        target.text(0, 1, lines, transform=_from_top_left(target, 0.12, 0.4), fontsize=ANSWER_SIZE, va="top", ha="left", linespacing=1.3),
    )


def _from_top_left(fig: Figure, x_in: float, below_in: float) -> Transform:
    """A transform that puts (0, 1) ``x_in`` inches right of the figure's top left corner
    and ``below_in`` inches below it, wherever the figure's size takes that corner."""
    return fig.transFigure + ScaledTranslation(x_in, -below_in, fig.dpi_scale_trans)


def _fps_words(t: Timeline) -> str:
    """``29.97 fps``, or ``19.9 fps on average`` when frame intervals vary."""
    return f"{t.fps:g} fps" + (" on average (variable frame rate)" if t.vfr else "")


def _video_end_s(t: Timeline) -> float:
    return _first_time_s(t) + t.video_duration_s


def _first_time_s(t: Timeline) -> float:
    return float(t.frame_times_s[0]) if t.n_frames else 0.0


def _frame_index_of(t: Timeline):
    """Functions time -> frame index and back, linear beyond the first and last frames."""
    if t.n_frames >= 2:
        times, idx = t.frame_times_s, np.arange(t.n_frames, dtype=float)
    else:
        start = _first_time_s(t)
        times, idx = np.array([start, start + 1 / max(t.fps, 1e-9)]), np.array([0.0, 1.0])
    return _lerp(times, idx), _lerp(idx, times)


def _lerp(xp: np.ndarray, fp: np.ndarray):
    """Piecewise-linear ``xp -> fp`` (``xp`` increasing), extended by the end slopes."""
    lo = (fp[1] - fp[0]) / (xp[1] - xp[0]) if xp[1] > xp[0] else 0.0
    hi = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2]) if xp[-1] > xp[-2] else 0.0

    def f(x):
        x = np.asarray(x, dtype=float)
        y = np.interp(x, xp, fp)
        y = np.where(x < xp[0], fp[0] + (x - xp[0]) * lo, y)
        return np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * hi, y)

    return f


def _frame_index_axis(ax, t: Timeline) -> None:
    """A top axis with the frame index over a time axis."""
    top = ax.secondary_xaxis("top", functions=_frame_index_of(t))
    top.set_xlabel("video frame index", fontsize=LABEL_SIZE)
    top.xaxis.set_major_locator(MaxNLocator(integer=True))
    top.tick_params(labelsize=SMALL_SIZE + 0.5)


def _end_lines(ax, t: Timeline) -> None:
    """Where the audio and the video end."""
    for kind, x in _ends(t).items():
        ax.axvline(x, zorder=4, **_END_STYLES[kind])


def _ends_in_view(t: Timeline, xlim: tuple[float, float]) -> set[str]:
    """The ends (``"audio end"``, ``"video end"``) inside ``xlim``, for a legend."""
    return {kind for kind, x in _ends(t).items() if xlim[0] <= x <= xlim[1]}


def _ends(t: Timeline) -> dict[str, float]:
    return {"audio end": t.audio_duration_s, "video end": _video_end_s(t)}


@functools.lru_cache(maxsize=4096)
def _text_width_in(text: str, size: float, weight: str = "normal") -> float:
    """How wide ``text`` is drawn in the figures' font at ``size`` pt, in inches (the
    widest line of several), for figures laid out by hand."""
    renderer = RendererAgg(1, 1, DPI)
    prop = FontProperties(size=size, weight=weight)
    return max(renderer.get_text_width_height_descent(line, prop, ismath=False)[0] for line in text.split("\n")) / DPI


def figure_png(fig: Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as a PNG at ``DPI`` dots per inch (creating the folder); returns the path.

    Drawn once: ``savefig`` draws a figure with a layout engine twice (a pass to lay it
    out, then the picture), which is most of the time a figure takes.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(figure_rgb(fig)).save(out, format="png", compress_level=PNG_COMPRESSION)
    return out


def figure_rgb(fig: Figure) -> np.ndarray:
    """``fig`` drawn at ``DPI`` dots per inch: (height, width, 3) uint8 RGB."""
    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[:, :, :3])
