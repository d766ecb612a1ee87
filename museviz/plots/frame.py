"""Which audio does one frame read under each rule? Its windows, and each formula with its
numbers."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from museviz.palette import rule_color
from museviz.plots._common import (
    _LEGEND,
    AXIS_GAP_IN,
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
    STREAMS,
    _check_frame,
    _fmt_s,
    _header,
    _header_height,
    _pick,
)
from museviz.plots._lanes import _Column, _draw_lanes, _frame_row, _Row
from museviz.rules import Schedule, Timeline


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
