"""Lanes: each rule's windows drawn as cells over the feature grids, under a strip of video
frames (the edge, one-frame and teaching views)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter

from museviz.palette import rule_color
from museviz.plots._common import (
    _LEGEND,
    DPI,
    FEATURE_NAMES,
    FRAME_FILL,
    FRAME_HIGHLIGHT,
    FRAME_ROW_IN,
    INDEX_STEPS,
    LABEL_CHAR_PX,
    LABEL_SIZE,
    MAX_FRAME_BOXES,
    MIN_GRID_PX,
    MIN_INDEX_PX,
    MIN_LABEL_PX,
    NO_AUDIO_SHADE,
    ROW_IN,
    SMALL_SIZE,
    STREAMS,
    TINY_SIZE,
    _end_lines,
    _ends_in_view,
    _header,
    _header_height,
    _text_width_in,
    _video_end_s,
)
from museviz.rules import (
    CLAMP,
    PIN,
    SKIP,
    STREAM_RATES,
    ZERO,
    Schedule,
    Timeline,
    chunk_for_frame,
)

# A lanes view laid out by hand, in inches.
LANES_TITLE_IN = 0.32  # a column's title above its frame strip
LANES_STRIP_IN = 0.5  # the frame strip
LANES_PAD_IN = 0.12  # a stream axis beyond its rows
LANES_INDEX_IN = 0.42  # above each stream axis: its feature indices and their name
LANES_BOTTOM_IN = 0.62  # under the last axis: its time labels and name
LANES_YLABEL_IN = 0.42  # the stream's name left of its row labels
LANES_TICK_PAD_IN = 0.12
LANES_RIGHT_IN = 0.3
LANES_COLUMN_GAP_IN = 0.2
LANES_LEGEND_COLUMNS = 4
LEGEND_LINE_IN = 0.2  # a line of the legend at the bottom

_EDGE_WORDS = {
    CLAMP: "outside the audio: the edge feature is repeated",
    ZERO: "outside the audio: zeros",
    PIN: "the last window is pinned to the end",
    SKIP: "a short window skips its sample",
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


def _stream_rows(picked: dict[str, Schedule], columns: list[_Column], stream: str, headers: bool) -> int:
    """Rows the tallest column needs for ``stream``."""
    names = [n for n, s in picked.items() if s.stream == stream]
    return max((sum(len(c.rows[n]) + headers for n in names) for c in columns), default=0)


def _lanes_view(timeline: Timeline, picked: dict[str, Schedule], columns: list[_Column], header: str, width_in: float, question: str, answer: str) -> Figure:
    """A lanes view laid out by hand under its question and answer: each column's frame
    strip and stream axes as tall as their rows, its labels measured to set its left
    margin, the legend of the marks drawn at the bottom. (A layout engine measured every
    label twice more, and that was half of the figure's time.)"""
    fig = Figure(figsize=(width_in, 1.0), dpi=DPI)
    _header(fig, question, answer, width_in)
    streams = _streams(picked)
    n_rows = {st: _stream_rows(picked, columns, st, header != "names") for st in streams}
    lefts = [_lanes_left_in(picked, column, header) for column in columns]
    axes_width_in = (width_in - sum(lefts) - LANES_RIGHT_IN - LANES_COLUMN_GAP_IN * (len(columns) - 1)) / len(columns)
    heights = [LANES_STRIP_IN] + [n_rows[st] * ROW_IN + LANES_PAD_IN for st in streams]
    axes = {(row, col): fig.add_axes((0, 0, 1, 1)) for col in range(len(columns)) for row in range(len(heights))}
    used = _draw_lanes(lambda row, col, _share: axes[row, col], timeline, picked, columns, header, axes_width_in)
    handles = [make() for kind, make in _LEGEND.items() if kind in used]
    legend_in = LEGEND_LINE_IN * math.ceil(len(handles) / LANES_LEGEND_COLUMNS)
    top_in = _header_height(answer, width_in) + (LANES_TITLE_IN if any(column.title for column in columns) else 0.0)
    height_in = top_in + sum(heights) + LANES_INDEX_IN * len(streams) + LANES_BOTTOM_IN + legend_in
    fig.set_size_inches(width_in, height_in)
    for col in range(len(columns)):
        x_in = sum(lefts[: col + 1]) + col * (axes_width_in + LANES_COLUMN_GAP_IN)
        y_in = height_in - top_in
        for row, h in enumerate(heights):
            y_in -= LANES_INDEX_IN if row else 0.0
            axes[row, col].set_position([x_in / width_in, (y_in - h) / height_in, axes_width_in / width_in, h / height_in])
            y_in -= h
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(width_in / 2, 0.05), bbox_transform=fig.dpi_scale_trans, ncols=LANES_LEGEND_COLUMNS, fontsize=SMALL_SIZE, frameon=False)
    return fig


def _lanes_left_in(picked: dict[str, Schedule], column: _Column, header: str) -> float:
    """The margin left of a column's axes: its stream labels beside its widest row label,
    or the frame strip's label, whichever is wider."""
    widths = [_text_width_in("video\nframes", SMALL_SIZE + 0.5)]
    size, weight = _row_label_font(header)
    for stream in _streams(picked):
        labels = [label for name, s, rows, _first in _lane_rows(picked, column, stream, header) for label in _row_labels(name, s, rows, stream, header)]
        widths.append(LANES_YLABEL_IN + max((_text_width_in(label, size, weight) for label in labels), default=0.0))
    return max(widths) + LANES_TICK_PAD_IN


def _draw_lanes(place, t: Timeline, picked: dict[str, Schedule], columns: list[_Column], header: str, axes_width_in: float, row_in: float = ROW_IN) -> set[str]:
    """Draw each column: a frame strip on top, then one axis per stream with a lane per rule.

    ``place(row, col, sharex)`` makes each axis (no axis is shared: each has its own index
    ticks). ``header`` is ``"edge"`` or ``"formula"``
    (a header row per rule saying so) or ``"names"`` (rule names as row labels). Returns
    the kinds of marks drawn, for the legend.
    """
    streams = _streams(picked)
    n_rows = {st: _stream_rows(picked, columns, st, header != "names") for st in streams}
    used: set[str] = set()
    for col, column in enumerate(columns):
        axes = [place(row, col, None) for row in range(1 + len(streams))]
        _lanes_frame(axes, t, picked, column, header, n_rows)
        used |= _lanes_content(axes, t, picked, column, header, axes_width_in, row_in)
        if column.title:
            axes[0].set_title(column.title, fontsize=LABEL_SIZE + 0.5, loc="left", fontweight="bold")
    return used


def _streams(picked: dict[str, Schedule]) -> list[str]:
    """The streams the picked rules read, in ``STREAMS`` order."""
    return [st for st in STREAMS if any(s.stream == st for s in picked.values())]


def _lane_rows(picked: dict[str, Schedule], column: _Column, stream: str, header: str) -> list[tuple[str, Schedule, list[_Row], int]]:
    """Each rule of ``stream`` with its rows and the y of its first row (after its header row)."""
    lanes, y = [], 0
    for name, s in picked.items():
        if s.stream == stream:
            y += header != "names"
            lanes.append((name, s, column.rows[name], y))
            y += len(column.rows[name])
    return lanes


def _rule_label(name: str, s: Schedule, stream: str) -> str:
    """A rule's name, with the grid it reads when that is not the stream's."""
    return name if s.grid == stream else f"{name} ({s.grid})"


def _row_labels(name: str, s: Schedule, rows: list[_Row], stream: str, header: str) -> list[str]:
    """The labels left of one rule's rows: its name on each (``"names"``), or each row's own."""
    return [_rule_label(name, s, stream)] * len(rows) if header == "names" else [row.label for row in rows]


def _row_label_font(header: str) -> tuple[float, str]:
    """(size, weight) of the row labels."""
    return (LABEL_SIZE, "bold") if header == "names" else (TINY_SIZE + 0.5, "normal")


def _lanes_frame(axes: list, t: Timeline, picked: dict[str, Schedule], column: _Column, header: str, n_rows: dict[str, int]) -> None:
    """What a lanes view keeps whatever it shows: the strip's and lanes' axes, each rule's
    rows with their labels and shading, where the audio and the video end."""
    strip = axes[0]
    strip.set_ylim(0, 1)
    strip.set_yticks([])
    strip.set_xticks([])
    strip.set_ylabel("video\nframes", fontsize=SMALL_SIZE + 0.5, rotation=0, ha="right", va="center")
    strip.tick_params(labelbottom=False, labelsize=SMALL_SIZE)
    _end_lines(strip, t)
    streams = _streams(picked)
    for ax, stream in zip(axes[1:], streams):
        ticks, labels, colors = [], [], []
        for name, s, rows, first in _lane_rows(picked, column, stream, header):
            color = rule_color(name)
            label = _rule_label(name, s, stream)
            if header != "names":
                words = _EDGE_WORDS[s.edge] if header == "edge" else s.definition.formula if s.definition else ""
                ax.text(0.004, first - 1, f"{label}:  {words}", transform=ax.get_yaxis_transform(), color=color, fontsize=SMALL_SIZE + 0.5, fontweight="bold", va="center", ha="left", zorder=6,
                        bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.5))
            ticks += range(first, first + len(rows))
            labels += _row_labels(name, s, rows, stream, header)
            colors += [color if header == "names" else "0.2"] * len(rows)
            ax.axhspan(first - (header != "names") - 0.5, first + len(rows) - 0.5, color=color, alpha=0.07, lw=0, zorder=0.2)
            ax.axhline(first + len(rows) - 0.5, color="0.6", lw=0.6)
        _end_lines(ax, t)
        ax.set_ylim(n_rows[stream] - 0.5, -0.5)
        size, weight = _row_label_font(header)
        ax.set_yticks(ticks, labels, fontsize=size, fontweight=weight)
        for tick, c in zip(ax.get_yticklabels(), colors):
            tick.set_color(c)
        ax.tick_params(axis="y", length=0)
        ax.tick_params(axis="x", labelsize=SMALL_SIZE + 0.5, labelbottom=ax is axes[-1])
        ax.set_ylabel(f"{stream}\n{STREAM_RATES[stream]:g} per s", fontsize=SMALL_SIZE + 0.5)
        _index_ticks_style(ax, STREAM_RATES[stream])
        ax.text(0.0, 1.0, f"{FEATURE_NAMES[stream]}\nindex ", transform=ax.transAxes, ha="right", va="bottom", fontsize=TINY_SIZE, linespacing=1.0)
    axes[-1].set_xlabel("time (s) on the audio clock, 0 = first audio sample", fontsize=LABEL_SIZE)


def _lanes_content(axes: list, t: Timeline, picked: dict[str, Schedule], column: _Column, header: str, axes_width_in: float, row_in: float) -> set[str]:
    """What a lanes view shows of ``column``: the frames in view, each rule's windows and
    marks, the time span; returns the kinds of marks drawn, for the legend."""
    xlim = _lanes_xlim(t, picked, column)
    used = _ends_in_view(t, xlim)
    _frame_strip(axes[0], t, column.frames, xlim, axes_width_in)
    axes[0].set_xlim(*xlim)
    for ax, stream in zip(axes[1:], _streams(picked)):
        lanes = _lane_rows(picked, column, stream, header)
        used |= _stream_lanes(ax, t, stream, lanes, xlim, round(ax.get_ylim()[0] + 0.5), axes_width_in, row_in)
        if len(column.frames) == 1:
            f = column.frames[0]
            ax.axvspan(t.frame_times_s[f], _frame_ends(t)[f], color=FRAME_HIGHLIGHT, alpha=0.45, lw=0, zorder=0.3)
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


def _frame_strip(ax, t: Timeline, frames: range, xlim: tuple[float, float], axes_width_in: float) -> None:
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


def _stream_lanes(ax, t: Timeline, stream: str, lanes, xlim, n_rows: int, axes_width_in: float, row_in: float) -> set[str]:
    """One stream's feature grid in view and each rule's windows; the kinds of marks drawn."""
    used: set[str] = set()
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
        ax.add_collection(_vertical_lines((cells + 0.5) / rate, -0.5, n_rows - 0.5, colors="0.86", lw=0.5, zorder=0.5), autolim=False)
    dots = []
    for name, s, rows, first in lanes:
        color = rule_color(name)
        cells = _Cells()
        for y, row in enumerate(rows, start=first):
            if row.chunk is None:
                _missing_mark(ax, row, y, xlim, color, used)
            else:
                cells.add(s, row.chunk, y)
                picture = s.picture_times_s[row.chunk]
                if np.isfinite(picture):
                    _picture_mark(ax, float(picture), y, xlim, dots, used)
        used |= cells.draw(ax, color)
    if dots:
        ax.plot(*zip(*dots), "o", mfc="white", mec="black", mew=1.3, markersize=5 if row_in < FRAME_ROW_IN else 7, zorder=7)
    ax.set_xlim(*xlim)
    _index_ticks(ax, STREAM_RATES[stream], xlim, axes_width_in)
    return used


def _index_ticks_style(ax, rate: float) -> None:
    """Feature indices along the top of a time axis, as its minor ticks (``_index_ticks``
    places them). Cheaper than a secondary axis, and the axes of a lanes view do not share
    their x axis, so each keeps its own ticks."""
    ax.xaxis.remove_overlapping_locs = False
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _pos: f"{round(x * rate)}"))
    ax.tick_params(axis="x", which="minor", top=True, labeltop=True, bottom=False, labelbottom=False, labelsize=TINY_SIZE, length=2.5, pad=1)
    ax.tick_params(axis="x", which="major", top=False, labeltop=False)


def _index_ticks(ax, rate: float, xlim: tuple[float, float], axes_width_in: float) -> None:
    """Feature indices every 1, 2, 5, 10, ... features, as far apart as ``MIN_INDEX_PX``."""
    px_per_feature = axes_width_in * DPI / ((xlim[1] - xlim[0]) * rate)
    step = next(n for n in INDEX_STEPS if n * px_per_feature >= MIN_INDEX_PX)
    first, last = int(np.ceil(xlim[0] * rate / step)), int(np.floor(xlim[1] * rate / step))
    ax.xaxis.set_minor_locator(FixedLocator([j * step / rate for j in range(first, last + 1)]))


def _vertical_lines(xs: np.ndarray, bottom: float, top: float, **style) -> LineCollection:
    """Lines at each x from ``bottom`` to ``top``, as one collection (``vlines`` without its
    unit and mask handling, which cost more than the lines)."""
    xs = np.asarray(xs, float)
    return LineCollection(np.stack([np.stack([xs, np.full_like(xs, bottom)], 1), np.stack([xs, np.full_like(xs, top)], 1)], 1), **style)


class _Cells:
    """One rule's windows in a lane, gathered row by row and drawn as one collection per
    way a cell is read: a lane of many windows costs a few artists, not a few per window."""

    HEIGHT = 0.76  # of a row

    def __init__(self):
        self.boxes: dict[str, list[tuple[float, float, float, float]]] = {}  # kind -> (x, y, width, height)

    def add(self, s: Schedule, k: int, y: float) -> None:
        """Chunk ``k``'s window in row ``y``: one cell per entry at its time on the grid the
        system reads (``span`` features wide), and its outline when pinned or past the last frame."""
        grid = s.grid_info
        width_s = s.span / grid.rate_hz
        starts = grid.centre_s(s.raw[k]) - width_s / 2
        top = y - self.HEIGHT / 2
        if s.dropped[k]:
            groups = {"skipped": np.ones(len(starts), bool)}
        else:
            zero, moved = s.zeroed[k], s.moved[k]
            groups = {"read": ~zero & ~moved, "clamped": moved, "zero": zero}
        for kind, mask in groups.items():
            self.boxes.setdefault(kind, []).extend((x, top, width_s, self.HEIGHT) for x in starts[mask].tolist())
        x0, x1 = s.window_s(k)
        if s.pinned[k]:
            self.boxes.setdefault("pinned", []).append((x0, top, x1 - x0, self.HEIGHT))
        if s.source_frame[k] < 0:
            self.boxes.setdefault("no frame", []).append((x0, top - 0.06, x1 - x0, self.HEIGHT + 0.12))

    def draw(self, ax, color: str) -> set[str]:
        """Add the cells to ``ax`` in the rule's ``color``; returns the kinds drawn, for the legend."""
        styles = {
            "read": dict(facecolors=color, edgecolors="white", linewidths=0.6, zorder=3),
            "clamped": dict(facecolors=[_tint(color, 0.3)], edgecolors=color, hatch="////", linewidths=0.6, zorder=3),
            "zero": dict(facecolors="white", edgecolors=color, hatch="...", linewidths=0.6, zorder=3),
            "skipped": dict(facecolors="0.8", edgecolors="0.35", hatch="xx", linewidths=0.6, zorder=3),
            "pinned": dict(facecolors="none", edgecolors="black", linewidths=2.2, zorder=5),
            "no frame": dict(facecolors="none", edgecolors="black", linestyles="--", linewidths=1.2, zorder=5),
        }
        drawn = [kind for kind in styles if self.boxes.get(kind)]  # in this order: outlines over fills
        for kind in drawn:
            x, y, w, h = np.asarray(self.boxes[kind]).T
            corners = np.stack([np.stack([x, y], 1), np.stack([x + w, y], 1), np.stack([x + w, y + h], 1), np.stack([x, y + h], 1)], 1)
            ax.add_collection(PolyCollection(corners, **styles[kind]), autolim=False)
        return set(drawn)


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


