"""Which audio does one frame read under each rule? Its windows, and each formula with its
numbers."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from museviz.palette import rule_color
from museviz.plots._common import (
    _LEGEND,
    AXIS_GAP_IN,
    DPI,
    FORMULA_GAP_IN,
    FORMULA_HEAD_IN,
    FORMULA_LINE_IN,
    FORMULA_WRAP,
    FRAME_BOTTOM_IN,
    FRAME_ROW_IN,
    FRAME_STRIP_IN,
    LABEL_CHAR_IN,
    LABEL_SIZE,
    MONO,
    SMALL_SIZE,
    _answer_lines,
    _check_frame,
    _fmt_s,
    _from_top_left,
    _header,
    _header_height,
    _pick,
)
from museviz.plots._lanes import (
    _Column,
    _frame_row,
    _lanes_content,
    _lanes_frame,
    _Row,
    _streams,
)
from museviz.rules import Schedule, Timeline


def frame_figure(timeline: Timeline, schedules: dict[str, Schedule], frame_idx: int, rules: Sequence[str] | None = None, *, formulas: bool = True) -> Figure:
    """One frame's window under each rule on both streams, and each formula with its numbers.

    The chunk shown with the frame comes from ``chunk_for_frame`` (LatentSync's chunks
    count frames of its 25 fps re-encode); a frame no chunk shows, or a rule that exits
    before it, is said so. Text is most of the drawing time, so ``formulas=False`` leaves
    the formulas out, for a caller that shows ``frame_formulas`` as text itself. To draw
    frame after frame of one clip, keep a ``FrameFigure``.
    """
    return FrameFigure(timeline, schedules, rules, formulas=formulas).figure(frame_idx)


class FrameFigure:
    """``frame_figure`` of one clip and one set of rules, drawn again frame after frame
    (the app's frame slider).

    Laid out by hand, without a layout engine. The figure, its axes and what does not
    depend on the frame (each rule's row, label and shading, where the audio and the video
    end) are made once; a frame replaces the frames in view, the windows, the time span
    and the words, and moves the axes when the words take more or fewer lines.
    ``figure(frame_idx)`` returns the same Figure each time, changed: draw it before
    asking for another frame. ``rgb(frame_idx)`` changes and draws it under a lock, so
    threads can share one.
    """

    def __init__(self, timeline: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None = None, *, formulas: bool = True):
        self.timeline, self.formulas = timeline, formulas
        self.picked = picked = _pick(timeline, schedules, rules)
        streams = _streams(picked)
        self.heights = [FRAME_STRIP_IN] + [sum(s.stream == st for s in picked.values()) * FRAME_ROW_IN for st in streams]
        self.lanes_in = sum(self.heights) + AXIS_GAP_IN * len(streams) + FRAME_BOTTOM_IN
        longest = max((len(n) + (len(s.grid) + 3 if s.grid != s.stream else 0) for n, s in picked.items()), default=0)
        self.left_in, self.lanes_width_in = max(1.5, 0.5 + longest * LABEL_CHAR_IN), 6.3
        self.width = self.left_in + self.lanes_width_in + (6.7 if formulas else 0.4)
        self.fig = Figure(figsize=(self.width, self.lanes_in), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self.question, self.answer = _header(self.fig, "", "", self.width)
        self.axes = [self.fig.add_axes((0, 0, 1, 1)) for _ in self.heights]
        one_row_each = _Column(None, range(0), {name: [_Row(None, "")] for name in picked})
        _lanes_frame(self.axes, timeline, picked, one_row_each, "names", {st: sum(s.stream == st for s in picked.values()) for st in streams})
        self.shown: list = []  # the artists of the frame drawn last
        self.legend, self.legend_kinds = None, set()
        self.background = None  # (what it was drawn for, the pixels of what stays)
        self.lock = threading.Lock()

    def figure(self, frame_idx: int) -> Figure:
        """The figure, showing frame ``frame_idx``."""
        t, picked = self.timeline, self.picked
        _check_frame(t, frame_idx)
        rows = {name: [_frame_row(t, s, frame_idx)] for name, s in picked.items()}
        lines = {name: _formula_lines(t, s, rows[name][0]) for name, s in picked.items()} if self.formulas else {}
        text_in = sum(FORMULA_HEAD_IN + FORMULA_LINE_IN * len(v[1:]) + FORMULA_GAP_IN for v in lines.values())
        answer = _frame_answer(picked, rows)
        header_in = _header_height(answer, self.width)
        height = header_in + max(self.lanes_in, text_in + 0.2)
        self.fig.set_size_inches(self.width, height)
        self.question.set_text(f"Which audio does frame {frame_idx} (shown at {t.frame_times_s[frame_idx]:.3f} s) read under each rule?")
        self.answer.set_text("\n".join(_answer_lines(answer, self.width)))
        top_in = height - header_in - 0.1
        for i, (ax, h) in enumerate(zip(self.axes, self.heights)):
            top_in -= AXIS_GAP_IN if i else 0.0
            ax.set_position([self.left_in / self.width, (top_in - h) / height, self.lanes_width_in / self.width, h / height])
            top_in -= h
        for artist in self.shown:
            artist.remove()
        before = [set(ax.get_children()) for ax in self.axes]
        column = _Column(None, range(frame_idx, frame_idx + 1), rows)
        used = _lanes_content(self.axes, t, picked, column, "names", self.lanes_width_in, FRAME_ROW_IN)
        self.shown = [artist for ax, old in zip(self.axes, before) for artist in ax.get_children() if artist not in old]
        if used != self.legend_kinds or self.legend is None:
            if self.legend is not None:
                self.legend.remove()
            handles = [make() for kind, make in _LEGEND.items() if kind in used]
            self.legend = self.fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.1, 0.05), bbox_transform=self.fig.dpi_scale_trans, ncols=3, fontsize=SMALL_SIZE, frameon=False)
            self.legend_kinds = used
        if lines:
            self.shown += _formula_text(self.fig, lines, x_in=self.left_in + self.lanes_width_in + 0.55, below_in=header_in + 0.05)
        return self.fig

    def rgb(self, frame_idx: int) -> np.ndarray:
        """The figure showing frame ``frame_idx``, drawn: (height, width, 3) uint8 RGB."""
        with self.lock:
            self.figure(frame_idx)
            self._draw()
            return np.asarray(self.canvas.buffer_rgba())[:, :, :3].copy()

    def _draw(self) -> None:
        """Draw what changes over the pixels of what stays, drawn once while the figure
        keeps its height and its legend: the axes' backgrounds, the rule names, the legend.
        Everything drawn inside the axes is redrawn, spines included, in the order of its
        z-order, as ``Axes.draw`` would."""
        fig = self.fig
        moving = {ax: [a for a in ax.get_children() if a is not ax.patch and a is not ax.yaxis] for ax in self.axes}
        words = [t for t in fig.texts]
        for artist in [*words, *(a for artists in moving.values() for a in artists)]:
            artist.set_animated(True)
        key = (tuple(fig.get_size_inches()), id(self.legend))
        if self.background is None or self.background[0] != key:
            self.canvas.draw()
            self.background = key, self.canvas.copy_from_bbox(fig.bbox)
        else:
            self.canvas.restore_region(self.background[1])
        renderer = self.canvas.get_renderer()
        for ax, artists in moving.items():
            for artist in sorted(artists, key=lambda a: a.get_zorder()):
                artist.draw(renderer)
        for text in words:
            text.draw(renderer)


def frame_formulas(timeline: Timeline, schedules: dict[str, Schedule], frame_idx: int, rules: Sequence[str] | None = None) -> dict[str, list[str]]:
    """For each rule, a header (the window's centre against the picture) and its formula
    written out with frame ``frame_idx``'s numbers, one line per step: what
    ``frame_figure`` prints beside the picture."""
    _check_frame(timeline, frame_idx)
    picked = _pick(timeline, schedules, rules)
    return {name: _formula_lines(timeline, s, _frame_row(timeline, s, frame_idx)) for name, s in picked.items()}


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


def _formula_lines(t: Timeline, s: Schedule, row: _Row) -> list[str]:
    """The header (window centre against the picture) and the formula with this frame's numbers."""
    if row.chunk is None:
        return [row.note.removeprefix("✕ "), *textwrap.wrap(row.detail, FORMULA_WRAP)]
    k = row.chunk
    centre_s, drift = float(s.centre_s[k]), float(s.drift_s[k])
    head = f"centre {centre_s:.3f} s, {_fmt_s(drift)} from the picture" if np.isfinite(drift) else f"centre {centre_s:.3f} s"
    explain = s.definition.explain(t, s, k) if s.definition else []
    return [head, *(piece for line in explain for piece in textwrap.wrap(line, FORMULA_WRAP, subsequent_indent="    "))]


def _formula_text(fig: Figure, lines: dict[str, list[str]], x_in: float, below_in: float) -> list[Text]:
    """Each rule's formula with this frame's numbers, under a header in the rule's colour,
    from ``below_in`` inches under the figure's top; returns the texts."""
    texts = []
    for name, rule_lines in lines.items():
        texts.append(fig.text(0, 1, f"{name}   {rule_lines[0]}", transform=_from_top_left(fig, x_in, below_in), fontsize=LABEL_SIZE, fontweight="bold", color=rule_color(name), va="top", ha="left"))
        below_in += FORMULA_HEAD_IN
        if len(rule_lines) > 1:
            texts.append(fig.text(0, 1, "\n".join(rule_lines[1:]), transform=_from_top_left(fig, x_in + 0.12, below_in), fontsize=SMALL_SIZE + 0.5, family=MONO, color="0.1", va="top", ha="left", linespacing=1.25))
        below_in += FORMULA_LINE_IN * len(rule_lines[1:]) + FORMULA_GAP_IN
    return texts
