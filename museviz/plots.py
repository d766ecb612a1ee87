"""Pictures of a clip's alignment: where each frame reads the audio under each rule.

Every function takes plain data (a ``Timeline`` and the rules' ``Schedule``s, or feature
arrays) and returns a ``matplotlib.figure.Figure`` built without pyplot, so figures can be
made from several threads of a web server at once. Each rule has one colour everywhere
(``museviz.palette``). Times are on the audio clock: 0 s is the first audio sample, and
feature ``j`` of a stream at ``rate`` features per second is centred at ``j / rate``.

- ``mapping_figure``: frame index against the feature index each rule reads.
- ``edges_figure``: the first and last windows of each rule, with the edge policies.
- ``features_figure``: mel80 and whisper50 on one time axis, with frame boundaries.
- ``drift_figure``: each window's centre minus the real time of its picture, over the clip.
- ``frame_figure``: one frame's windows, with each formula written out with its numbers.
- ``timeline_figure``: the teaching view, frames as boxes over both feature grids.
- ``sync_figure``: the measured audio-visual offset: its curve, its track, both signals.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from museviz.grid import SOURCE_FALLBACK
from museviz.palette import LEVEL_COLORS, rule_color
from museviz.rules import CLAMP, MEL80, PIN, RULES, SKIP, STREAM_RATES, WHISPER50, ZERO, Schedule, Timeline, chunk_for_frame
from museviz.sync import KEEP_MAX_OFFSET_FRAMES, KEEP_MIN_CONFIDENCE, MAX_LAG_FRAMES, NATURAL_LEAD_S, SyncResult

if TYPE_CHECKING:
    from museviz.analysis import Analysis

DPI = 100  # PNG pixels per figure inch
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
FRAME_FILL = ("#f6f6f6", "#e2e2e2")  # alternate frame boxes
FRAME_HIGHLIGHT = "#ffe08a"  # the frames a view is about
TITLE_SIZE = 13.0  # pt
ANSWER_SIZE = 10.0
LABEL_SIZE = 9.5
SMALL_SIZE = 8.0
TINY_SIZE = 7.0
MONO = "DejaVu Sans Mono"

_EDGE_WORDS = {
    CLAMP: "outside the audio: the edge feature is repeated",
    ZERO: "outside the audio: zeros",
    PIN: "the last window is pinned to the end",
    SKIP: "a short window skips its sample",
}

# How a window cell or row is drawn (``kind`` -> legend entry); the rule's colour fills in.
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


@dataclass(frozen=True)
class _Row:
    """One row of a lane: chunk ``chunk`` of a schedule, or a frame that gets no chunk
    (``chunk`` None, ✕ drawn at ``at_s`` or at the left edge when None)."""

    chunk: int | None
    label: str
    note: str = ""
    at_s: float | None = None
    detail: str = ""  # a longer explanation, for the one-frame view's text


@dataclass(frozen=True)
class _Column:
    """One column of a lanes view: its title, the frames it is about, each rule's rows."""

    title: str | None
    frames: range
    rows: dict[str, list[_Row]]


# -- the figures ----------------------------------------------------------------------


def mapping_figure(timeline: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None = None) -> Figure:
    """Frame index against the feature index each rule reads, whisper50 and mel80 side by side.

    The top row is each window's centre (feature index) per frame, over the reference's
    window as a grey band; the bottom row is the same minus the reference, in features
    and milliseconds, so drift shows even on a long clip. Chunks past the last frame are
    hollow circles, a pinned last window a triangle, an exit a cross.
    """
    picked = _pick(timeline, schedules, rules)
    streams = [st for st in STREAMS if any(s.stream == st for s in picked.values())] or [WHISPER50]
    entries = max(sum(s.stream == st for s in picked.values()) for st in streams) + 3  # the reference band, audio end, last frame
    below_in = 0.0 if entries <= LEGEND_INSIDE else LEGEND_ROW_IN * math.ceil(entries / 2)
    fig, body = _framed(6.6 * len(streams) + 0.4, 8.0 + below_in, "Which audio does each video frame read?", _drift_answer(picked))
    grid = body.add_gridspec(2, len(streams), height_ratios=(3, 1.6))
    for col, stream in enumerate(streams):
        top = body.add_subplot(grid[0, col])
        bottom = body.add_subplot(grid[1, col], sharex=top)
        _mapping_panel(top, bottom, timeline, {n: s for n, s in picked.items() if s.stream == stream}, stream)
    return fig


def edges_figure(timeline: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None = None, n_edge: int = 4) -> Figure:
    """The first and last ``n_edge`` windows of each rule, drawn over both feature grids.

    Cells read from the audio are filled with the rule's colour; clamped (repeated) cells
    are hatched, zero-padded ones dotted, a pinned window has a thick outline and a chunk
    past the last frame a dashed one; grey is where there is no audio. A cross marks
    frames that get no chunk (the output is too short, or the system exits).
    """
    if n_edge < 1:
        raise ValueError(f"n_edge = {n_edge}: show at least one window at each edge")
    picked = _pick(timeline, schedules, rules)
    n = timeline.n_frames
    columns = [
        _Column(f"start: frames 0–{min(n_edge, n) - 1}", range(0, min(n_edge, n)), {k: _edge_rows(timeline, s, False, n_edge) for k, s in picked.items()}),
        _Column(f"end: frames {max(n - n_edge, 0)}–{n - 1}", range(max(n - n_edge, 0), n), {k: _edge_rows(timeline, s, True, n_edge) for k, s in picked.items()}),
    ]
    fig, body = _framed(15.0, _lanes_height(picked, columns, headers=True), "What happens at the edges of the clip?", _edges_answer(timeline, picked))
    used = _draw_lanes(_gridded(body, picked, columns, True), timeline, picked, columns, "edge", axes_width_in=5.6)
    _lanes_legend(body, used)
    return fig


def features_figure(
    timeline: Timeline, mel80: np.ndarray, whisper50: np.ndarray, source: str, model: str | None = None, layer: int = -1
) -> Figure:
    """The mel80 spectrogram (80, M) and whisper50 features (W, layers, dim) on one time axis.

    ``source`` (``SOURCE_ENCODER`` or ``SOURCE_FALLBACK``) and ``model`` say where the
    whisper50 features came from; the fallback is called one. ``layer`` picks the hidden
    state shown (the last by default). Video frame boundaries are drawn over both (every
    n-th one on long clips).
    """
    if mel80.ndim != 2:
        raise ValueError(f"mel80 has shape {mel80.shape}: expected (80, M)")
    if whisper50.ndim != 3:
        raise ValueError(f"whisper50 has shape {whisper50.shape}: expected (W, layers, dim)")
    n_layers = whisper50.shape[1]
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer {layer} does not exist: whisper50 has {n_layers} layers (0 to {n_layers - 1})")
    layer_idx = layer % n_layers
    fallback = source == SOURCE_FALLBACK
    if fallback:
        source = f"{SOURCE_FALLBACK} FALLBACK (no Whisper weights: log-mel averaged to 50 Hz, not encoder features)"
    elif model:
        source = f"{source} ({model})"
    answer = (
        f"mel80: {mel80.shape[1]} frames at 80 Hz; whisper50: {whisper50.shape[0]} tokens at 50 Hz from {source}; "
        f"video: {timeline.n_frames} frames, their boundaries in white"
    )
    fig, body = _framed(13.0, 7.4, "What do the two audio streams look like under the video frames?", answer)
    ax_mel, ax_tok = body.subplots(2, 1, sharex=True)
    _feature_image(ax_mel, mel80, STREAM_RATES[MEL80], "magma", (-4.0, 4.0), "mel80 value")
    tokens = whisper50[:, layer_idx, :].T
    limits = tuple(np.percentile(tokens, (1, 99))) if tokens.size else (0.0, 1.0)
    _feature_image(ax_tok, tokens, STREAM_RATES[WHISPER50], "viridis", limits, "log-mel value" if fallback else "hidden state (1–99 %)")
    ax_mel.set_ylabel("mel80 bin (55–7600 Hz)\none column = 12.5 ms", fontsize=LABEL_SIZE)
    layer_words = "its only layer" if n_layers == 1 else f"layer {layer_idx} of 0–{n_layers - 1}" + (" (last)" if layer_idx == n_layers - 1 else "")
    ax_tok.set_ylabel(f"{'log-mel bin' if fallback else 'dimension'}, {layer_words}\none column = 20 ms", fontsize=LABEL_SIZE)
    ax_mel.set_title(f"mel80 (Wav2Lip, SyncNet): {mel80.shape[1]} frames", fontsize=LABEL_SIZE, loc="left")
    ax_tok.set_title(f"whisper50 (MuseTalk, LatentSync): {whisper50.shape[0]} tokens, {source}", fontsize=LABEL_SIZE, loc="left")
    ax_tok.set_xlabel("time (s), 0 = first audio sample", fontsize=LABEL_SIZE)
    boundary = _frame_lines(ax_mel, timeline)
    _frame_lines(ax_tok, timeline)
    for ax in (ax_mel, ax_tok):
        _end_lines(ax, timeline)
    end_s = max(timeline.audio_duration_s, _video_end_s(timeline), 0.04)
    ax_tok.set_xlim(min(0.0, _first_time_s(timeline)) - 0.01 * end_s, 1.01 * end_s)
    handles = [boundary, _LEGEND["audio end"](), _LEGEND["video end"]()]
    body.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=SMALL_SIZE + 0.5, frameon=False)
    return fig


def drift_figure(timeline: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None = None) -> Figure:
    """For each rule, its window's centre minus the real time of the frame shown with it.

    Flat at 0 is a correct rule; ``int(fps)`` truncation is a ramp; a variable frame rate
    shows steps. When one rule drifts far, a second panel zooms in on the others.
    """
    picked = _pick(timeline, schedules, rules)
    frame_ms = 1000.0 / timeline.fps if timeline.fps > 0 else 40.0
    spans = {name: _max_abs_ms(s) for name, s in picked.items()}
    zoom_ms = max(1.25 * max((v for v in spans.values() if v <= 250.0), default=0.0), 0.75 * frame_ms)
    need_zoom = max(spans.values(), default=0.0) > 2.5 * zoom_ms
    answer = "Flat at 0 = in sync; a ramp = the frame rate was truncated; steps = a variable frame rate.\n" + _drift_answer(picked)
    columns = math.ceil((len(picked) + 1) / DRIFT_LEGEND_ROWS)
    height = max(8.4 if need_zoom else 6.2, LEGEND_ROW_IN * math.ceil((len(picked) + 1) / columns) + 1.0)
    fig, body = _framed(13.0 + 2.2 * (columns - 1), height, "Is each rule's audio window centred on the frame it is shown with?", answer)
    axes = body.subplots(2, 1, sharex=True, height_ratios=(3, 2)) if need_zoom else [body.subplots()]
    widths = _line_widths(picked)
    for ax in axes:
        ax.axhspan(-frame_ms / 2, frame_ms / 2, color="0.9", zorder=0, label=f"within ½ frame (±{frame_ms / 2:.0f} ms)")
        ax.axhline(0.0, color="0.5", lw=0.8, zorder=1)
        for name, s in picked.items():
            _drift_line(ax, timeline, name, s, widths[name], note_ramp=ax is axes[0])
        ax.set_ylabel("window centre − frame time (ms)\n+ = reads later audio: lips lead the sound", fontsize=LABEL_SIZE)
        ax.tick_params(labelsize=SMALL_SIZE + 0.5)
        ax.grid(True, color="0.85", lw=0.5)
        right = ax.secondary_yaxis("right", functions=(lambda ms: ms / frame_ms, lambda fr: fr * frame_ms))
        right.set_ylabel(f"frames at {timeline.fps:g} fps", fontsize=LABEL_SIZE)
        right.tick_params(labelsize=SMALL_SIZE + 0.5)
    if need_zoom:
        axes[0].set_title("all rules", fontsize=LABEL_SIZE, loc="left")
        axes[1].set_ylim(-zoom_ms, zoom_ms)
        axes[1].set_title(f"zoom on ±{zoom_ms:.0f} ms", fontsize=LABEL_SIZE, loc="left")
    _frame_index_axis(axes[0], timeline)
    axes[-1].set_xlabel("frame time (s): when the picture is shown", fontsize=LABEL_SIZE)
    handles, labels = axes[0].get_legend_handles_labels()
    if _smoothing_frames(timeline) > 1:
        handles.append(Line2D([], [], color="0.4", lw=0.6, alpha=0.6))
        labels.append(f"thin: each frame; thick: {SMOOTHING_S:g} s running mean")
    body.legend(handles, labels, loc="outside right upper", ncols=columns, fontsize=SMALL_SIZE + 0.5, frameon=False)
    return fig


def frame_figure(timeline: Timeline, schedules: dict[str, Schedule], frame_idx: int, rules: Sequence[str] | None = None, *, formulas: bool = True) -> Figure:
    """One frame's window under each rule on both streams, and each formula with its numbers.

    The chunk shown with the frame comes from ``chunk_for_frame`` (LatentSync's chunks
    count frames of its 25 fps re-encode); a frame no chunk shows, or a rule that exits
    before it, is said so. Laid out by hand, without a layout engine: the app redraws it on
    every move of its frame slider. Text is most of the drawing time, so ``formulas=False``
    leaves the formulas out, for a caller that shows ``frame_formulas`` as text itself.
    """
    picked = _pick(timeline, schedules, rules)
    _check_frame(timeline, frame_idx)
    rows = {name: [_frame_row(timeline, s, frame_idx)] for name, s in picked.items()}
    lines = {name: _formula_lines(timeline, s, rows[name][0]) for name, s in picked.items()} if formulas else {}
    streams = [st for st in STREAMS if any(s.stream == st for s in picked.values())]
    heights = [FRAME_STRIP_IN] + [sum(s.stream == st for s in picked.values()) * FRAME_ROW_IN for st in streams]
    lanes_in = sum(heights) + AXIS_GAP_IN * len(streams) + FRAME_BOTTOM_IN
    text_in = sum(FORMULA_HEAD_IN + FORMULA_LINE_IN * len(v[1:]) + FORMULA_GAP_IN for v in lines.values())
    longest = max((len(n) + (len(s.grid) + 3 if s.grid != s.stream else 0) for n, s in picked.items()), default=0)
    left_in, lanes_width_in = max(1.5, 0.5 + longest * LABEL_CHAR_IN), 6.3
    width = left_in + lanes_width_in + (6.7 if formulas else 0.4)
    question = f"Which audio does frame {frame_idx} (shown at {timeline.frame_times_s[frame_idx]:.3f} s) read under each rule?"
    answer = _frame_answer(picked, rows)
    header_in = _header_height(answer, width)
    height = header_in + max(lanes_in, text_in + 0.2)
    fig = Figure(figsize=(width, height))
    _header(fig, question, answer, width)
    top_in = height - header_in - 0.1
    rects = []
    for i, h in enumerate(heights):
        top_in -= AXIS_GAP_IN if i else 0.0
        rects.append([left_in / width, (top_in - h) / height, lanes_width_in / width, h / height])
        top_in -= h
    axes = iter(rects)
    column = _Column(None, range(frame_idx, frame_idx + 1), rows)
    used = _draw_lanes(lambda _row, _col, _share: fig.add_axes(next(axes)), timeline, picked, [column], "names", lanes_width_in, row_in=FRAME_ROW_IN)
    handles = [make() for kind, make in _LEGEND.items() if kind in used]
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.1, 0.05), bbox_transform=fig.dpi_scale_trans, ncols=3, fontsize=SMALL_SIZE, frameon=False)
    if formulas:
        _formula_text(fig, lines, x_in=left_in + lanes_width_in + 0.55, top_in=height - header_in - 0.05)
    return fig


def frame_formulas(timeline: Timeline, schedules: dict[str, Schedule], frame_idx: int, rules: Sequence[str] | None = None) -> dict[str, list[str]]:
    """For each rule, a header (the window's centre against the picture) and its formula
    written out with frame ``frame_idx``'s numbers, one line per step: what
    ``frame_figure`` prints beside the picture."""
    _check_frame(timeline, frame_idx)
    picked = _pick(timeline, schedules, rules)
    return {name: _formula_lines(timeline, s, _frame_row(timeline, s, frame_idx)) for name, s in picked.items()}


def _check_frame(timeline: Timeline, frame_idx: int) -> None:
    if not 0 <= frame_idx < timeline.n_frames:
        raise ValueError(f"frame {frame_idx} does not exist: the clip has frames 0 to {timeline.n_frames - 1}")


def timeline_figure(timeline: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None, first_frame: int, n_frames: int) -> Figure:
    """The teaching view: video frames as boxes on a time axis, 50 Hz tokens and 80 Hz mel
    frames as grids, and each frame's window under each rule drawn onto its stream.

    One row per chunk; the dot is when its picture is shown. At most
    ``MAX_TIMELINE_FRAMES`` frames are drawn.
    """
    _check_frame(timeline, first_frame)
    if n_frames < 1:
        raise ValueError(f"n_frames = {n_frames}: show at least one frame")
    last = min(first_frame + min(n_frames, MAX_TIMELINE_FRAMES), timeline.n_frames) - 1
    picked = _pick(timeline, schedules, rules)
    frames = range(first_frame, last + 1)
    columns = [_Column(None, frames, {name: _frames_rows(timeline, s, frames) for name, s in picked.items()})]
    question = f"Which audio does each frame read at {_fps_words(timeline)}? Frames {first_frame}–{last}"
    answer = "Each bar is one frame's window of whisper50 tokens (20 ms) or mel80 frames (12.5 ms); the dot is when the frame is shown. A bar centred on its dot is in sync."
    fig, body = _framed(13.0, _lanes_height(picked, columns, headers=True), question, answer)
    used = _draw_lanes(_gridded(body, picked, columns, True), timeline, picked, columns, "formula", axes_width_in=11.0)
    _lanes_legend(body, used)
    return fig


def figure_png(fig: Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as a PNG at ``DPI`` dots per inch (creating the folder); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, format="png")
    return out


def sync_figure(result: SyncResult, frame_times_s: np.ndarray) -> Figure:
    """Does the mouth move with the voice? The correlation over lags (SyncNet's search)
    against what chance gives on this clip, the offset over sliding windows (a ramp is
    drift), and the two signals themselves, the voice moved to where it matches best."""
    mouth_color, sound_color, keep_color = "#333333", rule_color("wav2lip"), LEVEL_COLORS["ok"]
    verdict = f"; confidence {result.confidence:.2f} (reliable at {KEEP_MIN_CONFIDENCE} or more)" + ("" if result.keep else ": not kept")
    fig, body = _framed(13.0, 7.2, "Does the mouth move with the voice, and how far apart are they?", result.words[:1].upper() + result.words[1:] + verdict)
    top, bottom = body.subfigures(2, 1, height_ratios=(1.15, 1))
    ax_curve, ax_track = top.subplots(1, 2, width_ratios=(1, 1.4))
    frame_ms = 1000.0 / result.fps
    q = result.quality
    keep_band = (-KEEP_MAX_OFFSET_FRAMES - 0.5, KEEP_MAX_OFFSET_FRAMES + 0.5)
    ax_curve.axvspan(*keep_band, color=keep_color, alpha=0.08, label=f"|offset| <= {KEEP_MAX_OFFSET_FRAMES} frames (kept)")
    if np.isfinite(q.null_sd):
        ax_curve.axhspan(q.null_mean - 2 * q.null_sd, q.null_mean + 2 * q.null_sd, color="0.5", alpha=0.15, lw=0,
                         label="chance on this clip (voice shifted 1 s or more; +-2 sd)")
    ax_curve.plot(result.lags_frames, result.curve, color=mouth_color, lw=1.3, label="correlation of mouth and voice")
    if result.reliable:
        peak = result.offset_ms / frame_ms
        ax_curve.plot([peak], [q.peak_correlation], marker="v", color=AUDIO_END_COLOR, markersize=9, ls="none",
                      label=f"peak: {result.offset_ms:+.0f} ms = {result.offset_frames:+d} frames")
    if q.runner_up_ms is not None:
        ax_curve.plot([q.runner_up_ms / frame_ms], [q.runner_up_correlation], marker="v", mfc="white", mec="0.4", markersize=8, ls="none",
                      label="best competing peak")
    finite = result.curve[np.isfinite(result.curve)]
    low, high = (min(finite.min(), q.null_mean - 2 * q.null_sd), finite.max()) if len(finite) and np.isfinite(q.null_sd) else (-1.0, 1.0)
    ax_curve.set_ylim(low - 0.05, high + 0.7 * (high - low))  # room for the legend above the curve
    ax_curve.set_xlabel("lag (frames); + = audio early (leads the video)", fontsize=LABEL_SIZE)
    ax_curve.set_ylabel("correlation", fontsize=LABEL_SIZE)
    ax_curve.set_title(f"the whole clip (natural lead of the mouth, {NATURAL_LEAD_S * 1000:.0f} ms, taken out)", fontsize=LABEL_SIZE, loc="left")
    ax_curve.legend(fontsize=SMALL_SIZE, loc="upper left", frameon=False)
    ax_curve.grid(True, color="0.88", lw=0.5)
    ax_curve.secondary_xaxis("top", functions=(lambda f: f * frame_ms, lambda ms: ms / frame_ms)).set_xlabel("ms", fontsize=SMALL_SIZE)
    if result.track:
        centres = np.array([(p.t_start_s + p.t_end_s) / 2 for p in result.track])
        offsets = np.array([p.offset_frames for p in result.track])
        confident = np.array([p.confidence >= KEEP_MIN_CONFIDENCE for p in result.track])
        ax_track.axhspan(*keep_band, color=keep_color, alpha=0.08)
        ax_track.plot(centres, offsets, color="0.6", lw=1.0)
        ax_track.plot(centres[confident], offsets[confident], "o", color=mouth_color, markersize=5, label="window offset")
        ax_track.plot(centres[~confident], offsets[~confident], "o", mfc="white", mec="0.5", markersize=5, label=f"confidence below {KEEP_MIN_CONFIDENCE}")
        ax_track.legend(fontsize=SMALL_SIZE, loc="best", frameon=False)
    window_s = result.track[0].t_end_s - result.track[0].t_start_s if result.track else 0
    drift = "" if result.drift_ms_per_min is None else f": drifts {result.drift_ms_per_min:+.0f} ms a minute"
    ax_track.set_title(f"over {window_s:g} s windows{drift}" if result.track else "the clip is too short for a track", fontsize=LABEL_SIZE, loc="left")
    ax_track.set_xlabel("window centre (s)", fontsize=LABEL_SIZE)
    ax_track.set_ylabel("offset (frames)", fontsize=LABEL_SIZE)
    ax_track.set_ylim(-MAX_LAG_FRAMES - 1, MAX_LAG_FRAMES + 1)
    ax_track.grid(True, color="0.88", lw=0.5)
    ax_sig = bottom.subplots()
    lag_s = result.raw_lag_ms / 1000.0
    ax_sig.plot(frame_times_s, _zscore(result.mouth_signal), color=mouth_color, lw=1.0, label=f"mouth openness (dark share of the mouth, {result.roi_source} region)")
    ax_sig.plot(frame_times_s + lag_s, _zscore(result.sound_signal), color=sound_color, lw=1.0, alpha=0.85,
                label=f"voice (1-3 kHz amplitude), moved {lag_s * 1000:+.0f} ms to where it matches best")
    ax_sig.set_xlabel("frame time (s)", fontsize=LABEL_SIZE)
    ax_sig.set_ylabel("z-score", fontsize=LABEL_SIZE)
    ax_sig.legend(fontsize=SMALL_SIZE, loc="upper right", ncols=2, frameon=False)
    ax_sig.grid(True, color="0.88", lw=0.5)
    for ax in (ax_curve, ax_track, ax_sig):
        ax.tick_params(labelsize=SMALL_SIZE + 0.5)
    return fig


def _zscore(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    spread = finite.std() if len(finite) else 0.0
    return (values - finite.mean()) / spread if spread > 0 else values * 0.0


def save_plots(analysis: Analysis, out_dir: str | os.PathLike, frame_idx: int | None = None, rules: Sequence[str] | None = None) -> dict[str, Path]:
    """Write mapping.png, edges.png, features.png, drift.png, frame.png (``frame_idx``,
    by default the middle frame) and, when the offset was measured, sync.png into
    ``out_dir``, drawing ``rules`` (default ``DEFAULT_PLOT_RULES``); returns ``{name: path}``."""
    t, s, whisper = analysis.timeline, analysis.schedules, analysis.whisper
    builders = {
        "mapping": lambda: mapping_figure(t, s, rules),
        "edges": lambda: edges_figure(t, s, rules),
        "features": lambda: features_figure(t, analysis.mel80, whisper.features, whisper.source, whisper.model),
        "drift": lambda: drift_figure(t, s, rules),
        "frame": lambda: frame_figure(t, s, t.n_frames // 2 if frame_idx is None else frame_idx, rules),
    }
    if not t.n_frames:
        del builders["frame"]
    if analysis.sync is not None:
        builders["sync"] = lambda: sync_figure(analysis.sync, t.frame_times_s)
    return {name: figure_png(build(), Path(out_dir) / f"{name}.png") for name, build in builders.items()}


# -- rules, and sentences about them ------------------------------------------------------


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


def _edges_answer(t: Timeline, picked: dict[str, Schedule]) -> str:
    """What each rule does at the edges, in a few words each."""
    parts = []
    for name, s in picked.items():
        if not s.n_chunks:
            parts.append(f"{name}: ✕ {s.error}")
            continue
        facts = []
        if s.clamped.any():
            facts.append("repeats edge tokens")
        if s.zero_padded.any():
            facts.append("reads zeros")
        facts += [f"✕ {s.error}" if n.startswith("✕") else n.rstrip(" ○▼") for n in _mapping_notes(t, s)]
        parts.append(f"{name}: {', '.join(facts) or 'stays inside the audio'}")
    return "; ".join(parts)


def _frame_answer(picked: dict[str, Schedule], rows: dict[str, list[_Row]]) -> str:
    """The rule whose window is furthest from the picture, and the rules with no chunk."""
    shown = {}
    for name, s in picked.items():
        chunk = rows[name][0].chunk
        if chunk is not None and np.isfinite(s.drift_s[chunk]):
            shown[name] = float(s.drift_s[chunk])
    if not shown:
        return "no rule pairs a chunk with this frame"
    worst = max(shown, key=lambda n: abs(shown[n]))
    missing = [n for n in picked if n not in shown]
    words = f"Furthest from the picture: {worst}, window centre {_fmt_s(shown[worst])} ({'reads audio after the picture' if shown[worst] > 0 else 'reads audio before the picture'})."
    return words + (f" No chunk for this frame: {', '.join(missing)}." if missing else "")


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


# -- shared layout -----------------------------------------------------------------------


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


def _header(target, question: str, answer: str, width_in: float) -> None:
    """The question in bold at the top left of ``target``, the answer below it.

    ``target`` is a whole figure laid out by hand (placed in inches from its top) or the
    header subfigure of ``_framed`` (placed in fractions of it).
    """
    inches = target.figure.dpi_scale_trans if isinstance(target, Figure) else None
    lines = _answer_lines(answer, width_in)
    if inches is None:
        height_in = _header_height(answer, width_in)
        target.text(0.008, 1 - 0.1 / height_in, question, fontsize=TITLE_SIZE, fontweight="bold", va="top", ha="left")
        target.text(0.008, 1 - 0.4 / height_in, "\n".join(lines), fontsize=ANSWER_SIZE, va="top", ha="left", linespacing=1.3)
        return
    top = target.get_figheight()
    target.text(0.12, top - 0.1, question, transform=inches, fontsize=TITLE_SIZE, fontweight="bold", va="top", ha="left")
    target.text(0.12, top - 0.4, "\n".join(lines), transform=inches, fontsize=ANSWER_SIZE, va="top", ha="left", linespacing=1.3)


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


def _end_lines(ax, t: Timeline, xlim: tuple[float, float] | None = None, used: set[str] | None = None) -> None:
    """Where the audio and the video end; noted in ``used`` when inside ``xlim``."""
    for kind, x, style in (("audio end", t.audio_duration_s, dict(color=AUDIO_END_COLOR, lw=1.5)), ("video end", _video_end_s(t), dict(color="black", lw=1.2, ls="--"))):
        ax.axvline(x, zorder=4, **style)
        if used is not None and xlim is not None and xlim[0] <= x <= xlim[1]:
            used.add(kind)


# -- mapping and drift ---------------------------------------------------------------------


def _line_widths(picked: dict[str, Schedule]) -> dict[str, float]:
    """Each rule's line width: earlier rules wider, so lines that coincide show as nested
    stripes instead of hiding each other; the references thin and dashed, on top."""
    others = [n for n in picked if not _is_reference(n)]
    base, step = LINE_WIDTHS
    step = min(step, MAX_NESTING_PT / max(len(others) - 1, 1))
    widths = {n: base + step * (len(others) - 1 - i) for i, n in enumerate(others)}
    return {n: widths.get(n, 1.6) for n in picked}


def _chunk_x(s: Schedule) -> np.ndarray:
    """x of each chunk on a frame axis: its frame, or counting on past the last frame shown."""
    x = s.source_frame.astype(float)
    shown = np.flatnonzero(s.source_frame >= 0)
    if len(shown) and len(shown) < s.n_chunks:
        last_k = shown[-1]
        extra = np.arange(s.n_chunks) > last_k
        x[extra] = s.source_frame[last_k] + (np.arange(s.n_chunks)[extra] - last_k)
    return x


def _mapping_panel(top, bottom, t: Timeline, picked: dict[str, Schedule], stream: str) -> None:
    rate, unit = STREAM_RATES[stream], FEATURE_NAMES[stream]
    ref_name = REFERENCE[stream]
    ref = picked.get(ref_name) or RULES[ref_name].schedule(t)
    ref_centre = ref.raw.mean(axis=1) if ref.n_chunks else np.zeros(0)
    if ref.n_chunks:
        width = ref.raw.shape[1]
        top.fill_between(np.arange(ref.n_chunks), ref.raw[:, 0] - 0.5, ref.raw[:, -1] + 0.5, color="0.86", lw=0, zorder=0, label=f"{ref_name} window ({width} {unit}s)")
        bottom.axhspan(-width / 2, width / 2, color="0.9", lw=0, zorder=0)
        note = f"grey: inside the {ref_name} window" + (f"; thin: each frame, thick: {SMOOTHING_S:g} s running mean" if _smoothing_frames(t) > 1 else "")
        bottom.text(0.01, 0.96, note, transform=bottom.transAxes, fontsize=SMALL_SIZE, color="0.35", va="top")
    widths = _line_widths(picked)
    for name, s in picked.items():
        _mapping_line(top, bottom, t, name, s, ref_centre, widths[name])
    top.axhline(t.n_features(stream) - 1, color=AUDIO_END_COLOR, lw=1.0, ls=":", label=f"last {unit}: the audio ends")
    for ax in (top, bottom):
        ax.axvline(t.n_frames - 1, color="0.3", lw=1.0, ls=":", label="last video frame" if ax is top else None)
        ax.grid(True, color="0.88", lw=0.5)
        ax.tick_params(labelsize=SMALL_SIZE + 0.5)
    top.set_title(f"{stream}: {rate:g} {unit}s per second", fontsize=LABEL_SIZE + 0.5, loc="left")
    top.set_ylabel(f"{unit} index read (window centre)", fontsize=LABEL_SIZE)
    n_entries = len(top.get_legend_handles_labels()[0])
    if n_entries <= LEGEND_INSIDE:
        top.legend(loc="upper left", fontsize=SMALL_SIZE, framealpha=0.92)
    else:  # under the panel, in two columns
        bottom.legend(*top.get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(0.0, -0.3), ncols=2, fontsize=SMALL_SIZE, frameon=False)
    secondary = top.secondary_xaxis("top", functions=_frame_index_of(t)[::-1])
    secondary.set_xlabel("frame time (s)", fontsize=LABEL_SIZE)
    secondary.tick_params(labelsize=SMALL_SIZE + 0.5)
    bottom.set_ylabel(f"read − {ref_name}\n({unit}s)", fontsize=LABEL_SIZE)
    bottom.set_xlabel("video frame index", fontsize=LABEL_SIZE)
    ms = bottom.secondary_yaxis("right", functions=(lambda v: v * 1000 / rate, lambda m: m * rate / 1000))
    ms.set_ylabel("ms", fontsize=LABEL_SIZE)
    ms.tick_params(labelsize=SMALL_SIZE + 0.5)


def _mapping_line(top, bottom, t: Timeline, name: str, s: Schedule, ref_centre: np.ndarray, lw: float) -> None:
    color, ref = rule_color(name), _is_reference(name)
    style = dict(color=color, lw=lw, ls="--" if ref else "-", zorder=4 if ref else 3)
    label = _legend_label(t, name, s)
    if not s.n_chunks:
        top.plot([], [], marker="X", ls="none", color=color, markersize=10, label=label)
        return
    x, centre = _chunk_x(s), s.centre_s * STREAM_RATES[s.stream]
    shown, keep = s.source_frame >= 0, (s.source_frame >= 0) & ~s.dropped
    top.plot(x[keep], centre[keep], label=label, **style)
    if (~shown).any():
        top.plot(x[~shown], centre[~shown], "o", color=color, mfc="white", markersize=5, zorder=5)
    if s.pinned.any():
        top.plot(x[s.pinned], centre[s.pinned], "v", color=color, mec="black", markersize=9, zorder=5)
    if s.dropped.any():
        top.plot(x[s.dropped], centre[s.dropped], "x", color=color, markersize=4, alpha=0.6, zorder=2)
    if s.exit_frame is not None:
        _exit_mark(top, name, s.exit_frame, s.exit_frame, centre[keep][-1] if keep.any() else 0.0, color)
    paired = keep & (s.source_frame < len(ref_centre))
    if paired.any():
        _jittery_line(bottom, x[paired], centre[paired] - ref_centre[s.source_frame[paired]], _smoothing_frames(t), style)


def _drift_line(ax, t: Timeline, name: str, s: Schedule, lw: float, note_ramp: bool) -> None:
    color, ref = rule_color(name), _is_reference(name)
    label = _legend_label(t, name, s)
    if not s.n_chunks:
        ax.plot([], [], marker="X", ls="none", color=color, markersize=10, label=label)
        return
    keep = np.isfinite(s.picture_times_s) & ~s.dropped
    times, drift_ms = s.picture_times_s[keep], s.drift_s[keep] * 1000
    style = dict(color=color, lw=lw, ls="--" if ref else "-", zorder=4 if ref else 3)
    _jittery_line(ax, times, drift_ms, _smoothing_frames(t), style, label)
    ramp = _ramp_ms_per_s(times, drift_ms)
    if note_ramp and ramp is not None and abs(ramp * (times[-1] - times[0])) > RAMP_FRAMES * 1000 / max(t.fps, 1e-9):
        rate = ramp / 1000  # s of drift per s of picture time; per s of audio it is rate / (1 + rate)
        middle = len(times) // 2
        ax.annotate(f"{name}: {_fmt_s(60 * rate / (1 + rate))} per minute of audio", (times[middle], drift_ms[middle]), xytext=(-10, 10), textcoords="offset points", ha="right",
                    va="bottom", fontsize=SMALL_SIZE + 1, color=color, fontweight="bold", zorder=7, bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1))


def _ramp_ms_per_s(times: np.ndarray, drift_ms: np.ndarray) -> float | None:
    """The slope of a drift that is a straight ramp (a line fits it, R² > RAMP_FIT), or None."""
    if len(times) < 3 or times[-1] <= times[0] or np.ptp(drift_ms) == 0:
        return None
    slope, intercept = np.polyfit(times, drift_ms, 1)
    residual = drift_ms - (slope * times + intercept)
    return float(slope) if 1 - residual.var() / drift_ms.var() > RAMP_FIT else None


def _smoothing_frames(t: Timeline) -> int:
    return max(1, round(SMOOTHING_S * t.fps))


def _jittery_line(ax, x: np.ndarray, y: np.ndarray, window: int, style: dict, label: str | None = None) -> None:
    """Each frame's value as a thin line, and its running mean over ``window`` frames on top.

    Windows snap to a 20 ms or 12.5 ms grid, so per-frame values jitter by up to a feature
    around their trend; the running mean shows the trend (flat, ramp, steps).
    """
    if window > 1:
        ax.plot(x, y, color=style["color"], lw=0.6, alpha=0.35, zorder=style["zorder"] - 1)
        y = _running_mean(y, window)
    ax.plot(x, y, label=label, **style)


def _running_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Centred mean over ``window`` values, over fewer at the ends (and on short series)."""
    kernel = np.ones(min(window, len(y)))
    return np.convolve(y, kernel, mode="same") / np.convolve(np.ones(len(y)), kernel, mode="same")


def _exit_mark(ax, name: str, exit_frame: int, x: float, y: float, color: str) -> None:
    """A cross where a rule's process exits, and a note saying so."""
    ax.plot(x, y, "X", color=color, mec="black", markersize=12, zorder=6)
    ax.annotate(f"✕ {name} exits at frame {exit_frame}", (x, y), xytext=(-12, 14), textcoords="offset points", ha="right", fontsize=SMALL_SIZE + 0.5,
                color=color, fontweight="bold", zorder=7, bbox=dict(facecolor="white", edgecolor=color, alpha=0.9, pad=2))


# -- features ------------------------------------------------------------------------------


def _feature_image(ax, values: np.ndarray, rate: float, cmap: str, limits: tuple[float, float], label: str) -> None:
    """``values`` (bins, n) with column ``j`` centred at ``j / rate`` seconds."""
    n_bins, n = values.shape
    if n == 0:
        ax.text(0.5, 0.5, "no audio: no features", transform=ax.transAxes, ha="center", va="center", fontsize=LABEL_SIZE)
        return
    image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, vmin=limits[0], vmax=limits[1], extent=(-0.5 / rate, (n - 0.5) / rate, -0.5, n_bins - 0.5), interpolation="nearest" if n < 2000 else "antialiased")
    bar = ax.figure.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
    bar.set_label(label, fontsize=SMALL_SIZE + 0.5)
    bar.ax.tick_params(labelsize=SMALL_SIZE)
    ax.tick_params(labelsize=SMALL_SIZE + 0.5)


def _frame_lines(ax, t: Timeline) -> Line2D:
    """Video frame boundaries over an image (every n-th one on long clips); a legend handle."""
    step = max(1, -(-t.n_frames // MAX_FRAME_LINES))
    ylim = ax.get_ylim()
    times = t.frame_times_s[::step]
    ax.vlines(times, *ylim, colors="white", lw=0.6, alpha=0.55 if len(times) <= SPARSE_FRAME_LINES else 0.3, zorder=3)
    ax.set_ylim(*ylim)
    label = "video frame boundaries" if step == 1 else f"every {step}th video frame boundary"
    return Line2D([], [], color="white", lw=1.5, label=label, path_effects=[patheffects.withStroke(linewidth=3, foreground="0.3")])


# -- lanes: windows drawn over the feature grids ---------------------------------------------


def _edge_rows(t: Timeline, s: Schedule, end: bool, n_edge: int) -> list[_Row]:
    """The first (or last) ``n_edge`` chunks shown with frames, chunks past the last frame,
    and a ✕ row when frames at the end get no chunk."""
    if not s.n_chunks:
        return [_Row(None, "", f"✕ {s.error or 'no chunks'}")]
    shown = np.flatnonzero(s.source_frame >= 0)
    if not end:
        return [_chunk_row(s, k) for k in range(min(n_edge, s.n_chunks))]
    chunks = list(shown[-n_edge:]) + list(range(shown[-1] + 1, s.n_chunks))[:MAX_EXTRA_ROWS] if len(shown) else list(range(s.n_chunks))[-n_edge:]
    rows = [_chunk_row(s, int(k)) for k in chunks]
    first_missing = int(s.source_frame.max()) + 1
    if first_missing < t.n_frames:
        at_s = float(t.frame_times_s[first_missing]) if first_missing >= t.n_frames - n_edge else None
        span = f"frame {first_missing}" if first_missing == t.n_frames - 1 else f"frames {first_missing}–{t.n_frames - 1}"
        note = _exit_note(s) if s.exit_frame is not None else f"✕ {span}: no chunk, the output ends"
        rows.append(_Row(None, span, note, at_s))
    return rows


def _frames_rows(t: Timeline, s: Schedule, frames: range) -> list[_Row]:
    """The chunks shown with ``frames``, a ✕ row for each of them without one, and the
    chunks past the last frame when ``frames`` reaches it."""
    if not s.n_chunks:
        return [_Row(None, "", f"✕ {s.error or 'no chunks'}")]
    last_shown = int(s.source_frame.max())
    rows, noted = [], False
    for f in frames:
        ks = np.flatnonzero(s.source_frame == f)
        rows += [_chunk_row(s, int(k)) for k in ks]
        if len(ks):
            noted = False
            continue
        if s.exit_frame is not None and f >= s.exit_frame:
            note = _exit_note(s) if f == s.exit_frame else "✕ after the exit"
        elif f > last_shown:
            note = f"✕ no chunk: the output ends at frame {last_shown}"
        else:
            note = _unpaired_note(t, s)
        rows.append(_Row(None, f"frame {f}", "" if noted else note, float(t.frame_times_s[f])))
        noted = True
    if frames and frames[-1] == t.n_frames - 1:
        rows += [_chunk_row(s, int(k)) for k in np.flatnonzero(s.source_frame < 0)[:MAX_EXTRA_ROWS]]
    return rows


def _frame_row(t: Timeline, s: Schedule, frame_idx: int) -> _Row:
    k = chunk_for_frame(s, frame_idx) if s.n_chunks else None
    if k is not None:
        return _chunk_row(s, k)
    at_s = float(t.frame_times_s[frame_idx])
    if not s.n_chunks:
        return _Row(None, "", "✕ no chunks at all", at_s, s.error or "")
    if s.exit_frame is not None and frame_idx >= s.exit_frame:
        return _Row(None, "", f"✕ no chunk: the process exits at frame {s.exit_frame}", at_s, s.error or "")
    if frame_idx > s.source_frame.max():
        return _Row(None, "", f"✕ no chunk: the output ends at frame {int(s.source_frame.max())}", at_s)
    return _Row(None, "", _unpaired_note(t, s), at_s)


def _unpaired_note(t: Timeline, s: Schedule) -> str:
    """Why a frame inside the output has no chunk: a rate of the system's own, or a drop."""
    if s.fps_used < t.fps - 1e-9:
        return f"✕ not paired: {s.rule} makes {s.fps_used:g} frames a second"
    return "✕ dropped: no chunk shows this frame"


def _exit_note(s: Schedule) -> str:
    return f"✕ exits at frame {s.exit_frame}: its window runs past the zero padding"


def _chunk_row(s: Schedule, k: int) -> _Row:
    f = int(s.source_frame[k])
    if f < 0:
        return _Row(k, f"chunk {k}: no frame")
    return _Row(k, f"frame {f}" if f == k else f"chunk {k} → frame {f}")


def _lanes_height(picked: dict[str, Schedule], columns: list[_Column], headers: bool) -> float:
    rows = sum(_stream_rows(picked, columns, st, headers) for st in STREAMS)
    n_axes = 1 + sum(1 for st in STREAMS if any(s.stream == st for s in picked.values()))
    return HEADER_IN + 0.75 + rows * ROW_IN + n_axes * 0.62 + 1.0


def _stream_rows(picked: dict[str, Schedule], columns: list[_Column], stream: str, headers: bool) -> int:
    """Rows the tallest column needs for ``stream``."""
    names = [n for n, s in picked.items() if s.stream == stream]
    return max((sum(len(c.rows[n]) + headers for n in names) for c in columns), default=0)


def _gridded(target, picked: dict[str, Schedule], columns: list[_Column], headers: bool):
    """Axes placement for ``_draw_lanes`` on a constrained-layout figure or subfigure."""
    streams = [st for st in STREAMS if any(s.stream == st for s in picked.values())]
    ratios = [0.55] + [0.45 + _stream_rows(picked, columns, st, headers) * ROW_IN for st in streams]
    grid = target.add_gridspec(1 + len(streams), len(columns), height_ratios=ratios)
    return lambda row, col, share: target.add_subplot(grid[row, col], sharex=share)


def _draw_lanes(place, t: Timeline, picked: dict[str, Schedule], columns: list[_Column], header: str, axes_width_in: float, row_in: float = ROW_IN) -> set[str]:
    """Draw each column: a frame strip on top, then one axis per stream with a lane per rule.

    ``place(row, col, sharex)`` makes each axis (no axis is shared: each has its own index
    ticks). ``header`` is ``"edge"`` or ``"formula"``
    (a header row per rule saying so) or ``"names"`` (rule names as row labels). Returns
    the kinds of marks drawn, for the legend.
    """
    streams = [st for st in STREAMS if any(s.stream == st for s in picked.values())]
    n_rows = {st: _stream_rows(picked, columns, st, header != "names") for st in streams}
    used: set[str] = set()
    for col, column in enumerate(columns):
        xlim = _lanes_xlim(t, picked, column)
        ax_frames = place(0, col, None)
        _frame_strip(ax_frames, t, column.frames, xlim, axes_width_in, used)
        if column.title:
            ax_frames.set_title(column.title, fontsize=LABEL_SIZE + 0.5, loc="left", fontweight="bold")
        ax = ax_frames
        for row, stream in enumerate(streams, start=1):
            ax = place(row, col, None)
            lanes = [(n, s, column.rows[n]) for n, s in picked.items() if s.stream == stream]
            _stream_lanes(ax, t, stream, lanes, xlim, header, n_rows[stream], axes_width_in, row_in, used)
            if len(column.frames) == 1:
                f = column.frames[0]
                ax.axvspan(t.frame_times_s[f], _frame_ends(t)[f], color=FRAME_HIGHLIGHT, alpha=0.45, lw=0, zorder=0.3)
            if row < len(streams):
                ax.tick_params(labelbottom=False)
        ax.set_xlabel("time (s) on the audio clock, 0 = first audio sample", fontsize=LABEL_SIZE)
        ax_frames.set_xlim(*xlim)
        ax_frames.set_xticks([])
    return used


def _lanes_xlim(t: Timeline, picked: dict[str, Schedule], column: _Column) -> tuple[float, float]:
    """The span of the column's frames and of every window it draws."""
    xs = []
    if column.frames:
        ends = _frame_ends(t)
        xs += [t.frame_times_s[column.frames[0]], ends[column.frames[-1]]]
    for name, s in picked.items():
        for r in column.rows[name]:
            if r.chunk is not None:
                xs += list(s.window_s(r.chunk))
            elif r.at_s is not None:
                xs.append(r.at_s)
    if not xs:
        return (-0.1, 0.3)
    lo, hi = float(min(xs)), float(max(xs))
    pad = max(0.03 * (hi - lo), 0.015)
    return lo - pad, hi + pad


def _frame_ends(t: Timeline) -> np.ndarray:
    """When each frame stops being shown: the next frame's time, or the video's end."""
    if not t.n_frames:
        return np.zeros(0)
    last_end = _video_end_s(t)
    if last_end <= t.frame_times_s[-1]:
        last_end = float(t.frame_times_s[-1]) + 1 / max(t.fps, 1e-9)
    return np.append(t.frame_times_s[1:], last_end)


def _frame_strip(ax, t: Timeline, frames: range, xlim: tuple[float, float], axes_width_in: float, used: set[str]) -> None:
    """Video frames as boxes on the time axis; the frames the view is about highlighted."""
    ends = _frame_ends(t)
    first, last = int(np.searchsorted(ends, xlim[0], side="right")), int(np.searchsorted(t.frame_times_s, xlim[1]))
    px_per_s = axes_width_in * DPI / (xlim[1] - xlim[0])
    if last - first <= MAX_FRAME_BOXES:
        boxes = [(t.frame_times_s[i], ends[i] - t.frame_times_s[i]) for i in range(first, last)]
        colors = [FRAME_HIGHLIGHT if i in frames else FRAME_FILL[i % 2] for i in range(first, last)]
        ax.broken_barh(boxes, (0, 1), facecolors=colors, edgecolors="0.25", linewidth=0.6)
        for i in range(first, last):
            width_px = (min(ends[i], xlim[1]) - max(t.frame_times_s[i], xlim[0])) * px_per_s
            label = f"f {i}" if width_px >= (len(str(i)) + 2) * LABEL_CHAR_PX + 6 else str(i)
            if width_px >= len(label) * LABEL_CHAR_PX + 6 and (i in frames or width_px >= MIN_LABEL_PX):
                centre = (max(t.frame_times_s[i], xlim[0]) + min(ends[i], xlim[1])) / 2
                ax.text(centre, 0.5, label, ha="center", va="center", fontsize=TINY_SIZE + 0.5, clip_on=True)
    else:
        ax.text(0.5, 0.5, f"{last - first} frames in view", transform=ax.transAxes, ha="center", va="center", fontsize=SMALL_SIZE)
    _end_lines(ax, t, xlim, used)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("video\nframes", fontsize=SMALL_SIZE + 0.5, rotation=0, ha="right", va="center")
    ax.tick_params(labelbottom=False, labelsize=SMALL_SIZE)


def _stream_lanes(ax, t: Timeline, stream: str, lanes, xlim, header: str, n_rows: int, axes_width_in: float, row_in: float, used: set[str]) -> None:
    """One stream's feature grid and each rule's rows of windows."""
    rate = STREAM_RATES[stream]
    n_valid = t.n_features(stream)
    if xlim[0] < -0.5 / rate:
        ax.axvspan(xlim[0] - 1, -0.5 / rate, color=NO_AUDIO_SHADE, lw=0, zorder=0)
        used.add("no audio")
    if xlim[1] > (n_valid - 0.5) / rate:
        ax.axvspan((n_valid - 0.5) / rate, xlim[1] + 1, color=NO_AUDIO_SHADE, lw=0, zorder=0)
        used.add("no audio")
    if (xlim[1] - xlim[0]) * rate < axes_width_in * DPI / MIN_GRID_PX:
        cells = np.arange(np.floor(xlim[0] * rate), np.ceil(xlim[1] * rate) + 1)
        ax.vlines((cells + 0.5) / rate, -0.5, n_rows - 0.5, colors="0.86", lw=0.5, zorder=0.5)
    _end_lines(ax, t, xlim, used)
    y, ticks, labels, colors, dots = 0, [], [], [], []
    for name, s, rows in lanes:
        color = rule_color(name)
        lane_top = y
        label = name if s.grid == stream else f"{name} ({s.grid})"
        if header != "names":
            words = _EDGE_WORDS[s.edge] if header == "edge" else s.definition.formula if s.definition else ""
            ax.text(0.004, y, f"{label}:  {words}", transform=ax.get_yaxis_transform(), color=color, fontsize=SMALL_SIZE + 0.5, fontweight="bold", va="center", ha="left", zorder=6,
                    bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.5))
            y += 1
        for row in rows:
            ticks.append(y)
            labels.append(label if header == "names" else row.label)
            colors.append(color if header == "names" else "0.2")
            if row.chunk is None:
                _missing_mark(ax, row, y, xlim, color, used)
            else:
                _window(ax, s, row.chunk, y, color, used)
                picture = s.picture_times_s[row.chunk]
                if np.isfinite(picture):
                    _picture_mark(ax, float(picture), y, xlim, dots, used)
            y += 1
        ax.axhspan(lane_top - 0.5, y - 0.5, color=color, alpha=0.07, lw=0, zorder=0.2)
        ax.axhline(y - 0.5, color="0.6", lw=0.6)
    if dots:
        ax.plot(*zip(*dots), "o", mfc="white", mec="black", mew=1.3, markersize=5 if row_in < FRAME_ROW_IN else 7, zorder=7)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_yticks(ticks, labels, fontsize=LABEL_SIZE if header == "names" else TINY_SIZE + 0.5)
    for tick, c in zip(ax.get_yticklabels(), colors):
        tick.set_color(c)
        if header == "names":
            tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=SMALL_SIZE + 0.5)
    ax.set_xlim(*xlim)
    ax.set_ylabel(f"{stream}\n{rate:g} per s", fontsize=SMALL_SIZE + 0.5)
    _index_ticks(ax, rate, xlim, axes_width_in)
    ax.text(0.0, 1.0, f"{FEATURE_NAMES[stream]}\nindex ", transform=ax.transAxes, ha="right", va="bottom", fontsize=TINY_SIZE, linespacing=1.0)


def _index_ticks(ax, rate: float, xlim: tuple[float, float], axes_width_in: float) -> None:
    """Feature indices along the top of a time axis, as its minor ticks.

    Cheaper than a secondary axis (this runs on every frame-slider move), and the axes
    of a lanes view do not share their x axis, so each keeps its own ticks.
    """
    px_per_feature = axes_width_in * DPI / ((xlim[1] - xlim[0]) * rate)
    step = next(n for n in INDEX_STEPS if n * px_per_feature >= MIN_INDEX_PX)
    first, last = int(np.ceil(xlim[0] * rate / step)), int(np.floor(xlim[1] * rate / step))
    ax.xaxis.remove_overlapping_locs = False
    ax.xaxis.set_minor_locator(FixedLocator([j * step / rate for j in range(first, last + 1)]))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _pos: f"{round(x * rate)}"))
    ax.tick_params(axis="x", which="minor", top=True, labeltop=True, bottom=False, labelbottom=False, labelsize=TINY_SIZE, length=2.5, pad=1)
    ax.tick_params(axis="x", which="major", top=False, labeltop=False)


def _window(ax, s: Schedule, k: int, y: float, color: str, used: set[str]) -> None:
    """Chunk ``k``'s window as one cell per entry at its time on the grid the system reads
    (``span`` features wide), styled by how each cell is read."""
    grid = s.grid_info
    width_s = s.span / grid.rate_hz
    cells = [(c - width_s / 2, width_s) for c in grid.centre_s(s.raw[k]).tolist()]
    height = (y - 0.38, 0.76)
    if s.dropped[k]:
        groups = {"skipped": np.ones(len(cells), bool)}
    else:
        zero, moved = s.zeroed[k], s.moved[k]
        groups = {"read": ~zero & ~moved, "clamped": moved, "zero": zero}
    styles = {
        "read": dict(facecolors=color, edgecolors="white", linewidth=0.6),
        "clamped": dict(facecolors=_tint(color, 0.3), edgecolors=color, hatch="////", linewidth=0.6),
        "zero": dict(facecolors="white", edgecolors=color, hatch="...", linewidth=0.6),
        "skipped": dict(facecolors="0.8", edgecolors="0.35", hatch="xx", linewidth=0.6),
    }
    for kind, mask in groups.items():
        if mask.any():
            ax.broken_barh([c for c, m in zip(cells, mask) if m], height, zorder=3, **styles[kind])
            used.add(kind)
    x0, x1 = s.window_s(k)
    if s.pinned[k]:
        ax.add_patch(Rectangle((x0, height[0]), x1 - x0, height[1], facecolor="none", edgecolor="black", linewidth=2.2, zorder=5))
        used.add("pinned")
    if s.source_frame[k] < 0:
        ax.add_patch(Rectangle((x0, height[0] - 0.06), x1 - x0, height[1] + 0.12, facecolor="none", edgecolor="black", linestyle="--", linewidth=1.2, zorder=5))
        used.add("no frame")


def _picture_mark(ax, picture_s: float, y: float, xlim, dots: list, used: set[str]) -> None:
    """A dot when the frame is shown, or an arrow saying when if that is out of view."""
    used.add("picture")
    if xlim[0] <= picture_s <= xlim[1]:
        dots.append((picture_s, y))
        return
    left = picture_s < xlim[0]
    text = f"◀ shown at {picture_s:.2f} s" if left else f"shown at {picture_s:.2f} s ▶"
    ax.text(0.004 if left else 0.996, y, text, transform=ax.get_yaxis_transform(), ha="left" if left else "right", va="center", fontsize=TINY_SIZE, zorder=7,
            bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.3))


def _missing_mark(ax, row: _Row, y: float, xlim, color: str, used: set[str]) -> None:
    """✕ where a frame gets no chunk, and the reason: beside it when the ✕ is in the left
    half, else from the left edge (where the row's windows would start)."""
    used.add("missing")
    inside = row.at_s is not None and xlim[0] <= row.at_s <= xlim[1]
    if inside:
        ax.plot(row.at_s, y, "X", color=color, mec="black", mew=0.6, markersize=9, zorder=7)
    style = dict(va="center", fontsize=TINY_SIZE + 0.5, color=color, fontweight="bold", zorder=7, clip_on=True, bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.3))
    if inside and row.at_s < (xlim[0] + xlim[1]) / 2:
        ax.annotate(row.note, (row.at_s, y), xytext=(9, 0), textcoords="offset points", ha="left", annotation_clip=True, **style)
    else:
        ax.text(0.004, y, row.note, transform=ax.get_yaxis_transform(), ha="left", **style)


def _tint(color: str, amount: float) -> tuple[float, float, float]:
    """``color`` mixed with white: ``amount`` 1 is the colour, 0 white."""
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return tuple(1 - amount * (1 - rgb))


def _lanes_legend(target, used: set[str], ncols: int = 4) -> None:
    handles = [make() for kind, make in _LEGEND.items() if kind in used]
    target.legend(handles=handles, loc="outside lower center", ncols=ncols, fontsize=SMALL_SIZE, frameon=False)


# -- one frame's formulas ----------------------------------------------------------------------


def _formula_lines(t: Timeline, s: Schedule, row: _Row) -> list[str]:
    """The header (window centre against the picture) and the formula with this frame's numbers."""
    if row.chunk is None:
        return [row.note.removeprefix("✕ "), *textwrap.wrap(row.detail, FORMULA_WRAP)]
    k = row.chunk
    centre_s, drift = float(s.centre_s[k]), float(s.drift_s[k])
    head = f"centre {centre_s:.3f} s, {_fmt_s(drift)} from the picture" if np.isfinite(drift) else f"centre {centre_s:.3f} s"
    explain = s.definition.explain(t, s, k) if s.definition else []
    return [head, *(piece for line in explain for piece in textwrap.wrap(line, FORMULA_WRAP, subsequent_indent="    "))]


def _formula_text(fig: Figure, lines: dict[str, list[str]], x_in: float, top_in: float) -> None:
    """Each rule's formula with this frame's numbers, under a header in the rule's colour."""
    inches = fig.dpi_scale_trans
    y = top_in
    for name, rule_lines in lines.items():
        fig.text(x_in, y, f"{name}   {rule_lines[0]}", transform=inches, fontsize=LABEL_SIZE, fontweight="bold", color=rule_color(name), va="top", ha="left")
        y -= FORMULA_HEAD_IN
        if len(rule_lines) > 1:
            fig.text(x_in + 0.12, y, "\n".join(rule_lines[1:]), transform=inches, fontsize=SMALL_SIZE + 0.5, family=MONO, color="0.1", va="top", ha="left", linespacing=1.25)
        y -= FORMULA_LINE_IN * len(rule_lines[1:]) + FORMULA_GAP_IN
