"""An analysis together with what it draws, all made while the clip is read once.

The CLI and the app want more than the numbers: the plots, the overlay video and (in the
app) Inspect's thumbnails. None of them waits for the whole analysis. The figures that
need only the clip's timing are drawn in a process of their own as soon as the clip is
probed, and features.png as soon as the features are ready; the overlay and the thumbnails are
consumers of the analysis's own decoding pass (the overlay starts once the features it
shows are ready, frames waiting in a bounded queue meanwhile). Only sync.png waits for the
end of the pass, since it draws what the pass measured.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from museviz.analysis import Analysis, Features, Options, Probe, Progress, analyze, process_start
from museviz.frames import FrameStore, ThumbnailKeeper
from museviz.overlay import DEFAULT_OVERLAY_RULES, OverlayWriter
from museviz.videopass import Deferred

# The drawing process yields the cores to the pass and the features, which the overlay
# waits for; the figures fill the time either leaves (none waits for a figure).
DRAWING_NICENESS = 10


@dataclass(frozen=True)
class Wanted:
    """What to make beside the analysis.

    ``plots``: draw the figures into ``out_dir`` (of ``plot_rules``, None: the default
    rules); ``overlay``: write the overlay video there (brackets of ``overlay_rules``, audio
    moved by ``shift_ms``); ``thumbnails``: keep every frame for Inspect.
    """

    out_dir: Path
    plots: bool = True
    plot_rules: Sequence[str] | None = None
    overlay: Path | None = None
    overlay_rules: Sequence[str] = DEFAULT_OVERLAY_RULES
    shift_ms: float = 0.0
    thumbnails: bool = False


@dataclass(frozen=True, eq=False)
class Made:
    """The analysis and the files and thumbnails made with it."""

    analysis: Analysis
    plots: dict[str, Path]
    overlay: Path | None
    frames: FrameStore | None


def analyze_and_draw(
    path: str | os.PathLike,
    options: Options,
    wanted: Wanted,
    progress: Progress | None = None,
    *,
    on_probe: Callable[[Probe], None] | None = None,
    on_plot: Callable[[str, Path], None] | None = None,
    on_analysis: Callable[[Analysis], None] | None = None,
    processes: bool = False,
) -> Made:
    """``museviz.analysis.analyze`` with the plots, the overlay and the thumbnails that
    ``wanted`` asks for, made in the same pass. ``on_probe(probe)`` is called as soon as
    the rules and checks are known, before any feature or picture, and ``on_plot(name,
    path)`` as each figure is written (both from other threads); ``on_analysis(analysis)``
    when the analysis is done, while the last figures are drawn (to write the report
    meanwhile; what it writes is the caller's to remove if it raises).

    The features and the figures are made in threads, or with ``processes`` in processes
    of their own, for a process that analyses one clip and exits (see ``analyze``'s
    ``features_process``; matplotlib, too, holds the GIL while it draws). A server keeps
    threads: it has torch and matplotlib loaded already, and forking a process that runs a
    web server's threads is not safe.

    Nothing is left in ``wanted.out_dir`` when it raises.

    Raises
    ------
    MusevizError
        As ``analyze`` does, and for an overlay or plot that cannot be written.
    """
    maker = _Maker(options, wanted, on_probe, on_plot, processes)
    try:
        analysis = analyze(path, options, progress, on_probe=maker.probed, consumers=maker.consumers, features_process=processes)
        return maker.finish(analysis, on_analysis)
    except BaseException:
        maker.discard()
        raise


class _Maker:
    """The state of one ``analyze_and_draw``: its figures, overlay and thumbnails.

    The figures are drawn one after another in a thread or a process of their own (in a
    process, matplotlib does not share the GIL with the pass: measured, 2 s less wall time
    in the CLI), from plain data (the timing, the schedules, feature arrays); the drawer
    writes the PNG files itself. The drawer of the pass ends once features.png is drawn,
    and sync.png has one of its own when the pass is over: idle, a drawing process held
    420 MB through the rest of a 10 minute clip's pass (what drawing left behind), and the
    queue that feeds it kept the last figure's data (features.png's: 60 MB).
    """

    def __init__(self, options: Options, wanted: Wanted, on_probe, on_plot, processes: bool):
        self.options = options
        self.wanted = wanted
        self.on_probe = on_probe
        self.on_plot = on_plot
        self.processes = processes
        self.pool: Executor | None = None  # the drawer of the pass
        self.last_pool: Executor | None = None  # sync.png's
        self.figures: dict[str, Future[Path]] = {}
        self.lock = threading.Lock()
        self.overlay: Deferred | None = None
        self.keeper: ThumbnailKeeper | None = None

    def probed(self, probe: Probe) -> None:
        if self.on_probe:
            self.on_probe(probe)
        if self.wanted.plots:
            # Matplotlib is imported only when plots are wanted (half a second).
            from museviz.plots.save import timing_inputs

            self.pool = self._drawer()
            for name, args in timing_inputs(probe.timeline, probe.schedules, self.wanted.plot_rules).items():
                self._draw(self.pool, name, *args)

    def _drawer(self) -> Executor:
        if self.processes:
            return ProcessPoolExecutor(max_workers=1, mp_context=process_start(), initializer=os.nice, initargs=(DRAWING_NICENESS,))
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="museviz-plots")

    def consumers(self, probe: Probe, features: Future[Features]) -> list:
        if self.wanted.plots:
            features.add_done_callback(lambda done: _succeeded(done) and self._draw_features(probe.timeline, *done.result()))
        made = []
        if self.wanted.thumbnails:
            self.keeper = ThumbnailKeeper(probe.media)
            made.append(self.keeper)
        if self.wanted.overlay is not None:
            self.overlay = Deferred(features, lambda ready: self._overlay_writer(probe, ready))
            made.append(self.overlay)
        return made

    def _overlay_writer(self, probe: Probe, features: Features) -> _OverlayInPass:
        mel, whisper = features
        drawn = Analysis(probe.media, probe.timeline, mel, whisper, probe.schedules, probe.checks, self.options)
        return _OverlayInPass(OverlayWriter(drawn, self.wanted.overlay, rules=self.wanted.overlay_rules, shift_ms=self.wanted.shift_ms))

    def _draw_features(self, timeline, mel, whisper) -> None:
        """features.png, once: from the features thread as they are ready, or from
        ``finish`` if that comes first; the drawer of the pass then ends with it."""
        from museviz.plots.save import features_inputs

        self._draw(self.pool, "features", *features_inputs(timeline, mel, whisper))
        self.pool.shutdown(wait=False)

    def _draw(self, pool: Executor, name: str, *args) -> None:
        from museviz.plots.save import write_figure

        with self.lock:
            if name in self.figures:
                return
            self.figures[name] = pool.submit(write_figure, self.wanted.out_dir, name, *args)
        if self.on_plot:
            self.figures[name].add_done_callback(lambda done: _succeeded(done) and self.on_plot(name, done.result()))

    def finish(self, analysis: Analysis, on_analysis) -> Made:
        plots = {}
        if self.pool is not None:
            from museviz.plots.save import PLOT_ORDER

            self._draw_features(analysis.timeline, analysis.mel80, analysis.whisper)
            if analysis.sync is not None:
                self.last_pool = self._drawer()
                self._draw(self.last_pool, "sync", analysis.sync, analysis.timeline.frame_times_s)
        if on_analysis:
            on_analysis(analysis)
        if self.pool is not None:
            for pool in (self.pool, self.last_pool):
                if pool is not None:
                    pool.shutdown()
            plots = {name: self.figures[name].result() for name in PLOT_ORDER if name in self.figures}
        overlay = self.overlay.consumer.writer.out_path if self.overlay else None
        return Made(analysis, plots, overlay, self.keeper.store if self.keeper else None)

    def discard(self) -> None:
        """Stop what was started and remove what was written."""
        for pool in (self.pool, self.last_pool):
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        if self.overlay is not None and self.overlay.consumer is not None:
            self.overlay.consumer.writer.close()
            self.wanted.overlay.unlink(missing_ok=True)
        for name in self.figures:
            (self.wanted.out_dir / f"{name}.png").unlink(missing_ok=True)


@dataclass(frozen=True)
class _OverlayInPass:
    """An ``OverlayWriter`` as a consumer of the pass: it takes the decoded frame itself."""

    writer: OverlayWriter

    def add(self, frame_idx: int, picture) -> None:
        self.writer.add(frame_idx, picture.frame)

    def finish(self) -> None:
        self.writer.finish()


def _succeeded(done: Future) -> bool:
    return not done.cancelled() and done.exception() is None
