"""Which audio does each video frame read? Frame index against the feature index each rule
reads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from museviz.palette import rule_color
from museviz.plots._common import (
    AUDIO_END_COLOR,
    FEATURE_NAMES,
    LABEL_SIZE,
    LEGEND_INSIDE,
    LEGEND_ROW_IN,
    REFERENCE,
    SMALL_SIZE,
    SMOOTHING_S,
    STREAMS,
    _drift_answer,
    _frame_index_of,
    _framed,
    _is_reference,
    _legend_label,
    _pick,
)
from museviz.plots._curves import (
    _as_drawn,
    _exit_mark,
    _jittery_line,
    _line_widths,
    _pixel_columns,
    _smoothing_frames,
)
from museviz.rules import RULES, STREAM_RATES, WHISPER50, Schedule, Timeline


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
        chunks = np.arange(ref.n_chunks)
        columns = _pixel_columns(top)
        kept = np.union1d(_as_drawn(chunks, ref.raw[:, 0], columns)[0], _as_drawn(chunks, ref.raw[:, -1], columns)[0])
        top.fill_between(kept, ref.raw[kept, 0] - 0.5, ref.raw[kept, -1] + 0.5, color="0.86", lw=0, zorder=0, label=f"{ref_name} window ({width} {unit}s)")
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
    top.plot(*_as_drawn(x[keep], centre[keep], _pixel_columns(top)), label=label, **style)
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
