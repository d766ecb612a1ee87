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

Each figure has a module of its own (``mapping``, ``edges``, ``features``, ``drift``,
``frame``, ``timeline``, ``sync``) beside what they share (``_common``, ``_curves`` for
lines over the clip, ``_lanes`` for windows drawn over the feature grids); ``save_plots``
writes them all. Every name is importable from ``museviz.plots``.
"""

from museviz.plots._common import DEFAULT_PLOT_RULES, DPI, figure_png, figure_rgb
from museviz.plots.drift import drift_figure
from museviz.plots.edges import edges_figure
from museviz.plots.features import features_figure
from museviz.plots.frame import FrameFigure, frame_figure, frame_formulas
from museviz.plots.mapping import mapping_figure
from museviz.plots.save import save_plots
from museviz.plots.sync import sync_figure
from museviz.plots.timeline import timeline_figure

__all__ = [
    "DEFAULT_PLOT_RULES",
    "DPI",
    "FrameFigure",
    "drift_figure",
    "edges_figure",
    "features_figure",
    "figure_png",
    "figure_rgb",
    "frame_figure",
    "frame_formulas",
    "mapping_figure",
    "save_plots",
    "sync_figure",
    "timeline_figure",
]
