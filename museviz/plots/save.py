"""Every figure of an analysed clip, written as PNG files.

A figure is named (``PLOT_ORDER``) and drawn from plain data (``write_figure``), so a
process of its own can draw it from what another process measured.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from museviz.plots._common import DEFAULT_PLOT_RULES, figure_png
from museviz.plots.drift import drift_figure
from museviz.plots.edges import edges_figure
from museviz.plots.features import layer_figure, shown_layer
from museviz.plots.frame import frame_figure
from museviz.plots.mapping import mapping_figure
from museviz.plots.sync import sync_figure
from museviz.rules import Schedule, Timeline

if TYPE_CHECKING:
    from museviz.analysis import Analysis
    from museviz.features import Whisper50

PLOT_ORDER = ("mapping", "edges", "features", "drift", "frame", "sync")  # as save_plots lists them
FIGURES = {
    "mapping": mapping_figure,
    "edges": edges_figure,
    "features": layer_figure,
    "drift": drift_figure,
    "frame": frame_figure,
    "sync": sync_figure,
}


def save_plots(analysis: Analysis, out_dir: str | os.PathLike, frame_idx: int | None = None, rules: Sequence[str] | None = None) -> dict[str, Path]:
    """Write mapping.png, edges.png, features.png, drift.png, frame.png (``frame_idx``,
    by default the middle frame) and, when the offset was measured, sync.png into
    ``out_dir``, drawing ``rules`` (default ``DEFAULT_PLOT_RULES``); returns ``{name: path}``."""
    t = analysis.timeline
    inputs = timing_inputs(t, analysis.schedules, rules, frame_idx)
    inputs["features"] = features_inputs(t, analysis.mel80, analysis.whisper)
    if analysis.sync is not None:
        inputs["sync"] = (analysis.sync, t.frame_times_s)
    return {name: write_figure(out_dir, name, *inputs[name]) for name in PLOT_ORDER if name in inputs}


def timing_inputs(t: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None = None, frame_idx: int | None = None) -> dict[str, tuple]:
    """What the figures that need only the clip's timing and the rules (no feature, no
    picture) are drawn from, as ``{name: arguments of FIGURES[name]}``: mapping, edges,
    drift and frame (none for a clip without frames). Only the schedules of ``rules`` are
    passed on (a process that draws is sent the few it draws, not every system's)."""
    shown = set(DEFAULT_PLOT_RULES if rules is None else rules)
    schedules = {name: s for name, s in schedules.items() if name in shown}
    inputs = {name: (t, schedules, rules) for name in ("mapping", "edges", "drift")}
    if t.n_frames:
        inputs["frame"] = (t, schedules, t.n_frames // 2 if frame_idx is None else frame_idx, rules)
    return inputs


def features_inputs(t: Timeline, mel80: np.ndarray, whisper: Whisper50) -> tuple:
    """What features.png is drawn from: both streams, of whisper50 only the layer shown."""
    return (t, mel80, *shown_layer(whisper.features), whisper.source, whisper.model)


def write_figure(out_dir: str | os.PathLike, name: str, *args) -> Path:
    """Draw ``FIGURES[name](*args)`` into ``out_dir/name.png``; returns the path."""
    return figure_png(FIGURES[name](*args), plot_path(out_dir, name))


def plot_path(out_dir: str | os.PathLike, name: str) -> Path:
    return Path(out_dir) / f"{name}.png"
