"""Is each rule's audio window centred on the frame it is shown with?"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from museviz.palette import rule_color
from museviz.plots._common import (
    DRIFT_LEGEND_ROWS,
    LABEL_SIZE,
    LEGEND_ROW_IN,
    RAMP_FIT,
    RAMP_FRAMES,
    SMALL_SIZE,
    SMOOTHING_S,
    _drift_answer,
    _fmt_s,
    _frame_index_axis,
    _framed,
    _is_reference,
    _legend_label,
    _max_abs_ms,
    _pick,
)
from museviz.plots._curves import _jittery_line, _line_widths, _smoothing_frames
from museviz.rules import Schedule, Timeline


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
