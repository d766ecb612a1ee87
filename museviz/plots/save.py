"""Every figure of an analysed clip, written as PNG files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from museviz.plots._common import figure_png
from museviz.plots.drift import drift_figure
from museviz.plots.edges import edges_figure
from museviz.plots.features import features_figure
from museviz.plots.frame import frame_figure
from museviz.plots.mapping import mapping_figure
from museviz.plots.sync import sync_figure

if TYPE_CHECKING:
    from museviz.analysis import Analysis


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
