"""The pipeline: media -> features, rules, checks and one pass over the pictures, for one clip.

Everything that reads pictures (the sync estimate and its face track, SyncNet's crops, and
what an interface adds: Inspect's thumbnails, the overlay) is fed by one decoding pass
(``museviz.videopass``). The Whisper features are computed in a thread of their own
meanwhile (torch releases the GIL, and its import overlaps the pass too), and the rules and
checks, which need only the clip's timing, are known before either: ``on_probe`` hands
them out at once, so a page can show the summary while the rest is measured.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from museviz.checks import DEFAULT_DURATION_TOLERANCE_S, Check, run_checks, sync_check
from museviz.config import DEFAULT_MODEL
from museviz.errors import MusevizError
from museviz.features import Features, Whisper50, extract_features, extract_features_into, preload_encoder, read_features
from museviz.lse import CROP_FACE, LseResult
from museviz.media import Limits, Media, read_media
from museviz.mouth import Roi
from museviz.rules import Rule, Schedule, Timeline, schedule_all
from museviz.sync import SyncResult

if TYPE_CHECKING:
    from museviz.videopass import FrameConsumer

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Options:
    """What a user can set for an analysis; the defaults are what a pipeline would do."""

    fps: float | None = None  # the rate pipelines believe; None: the container's average rate
    duration_tolerance_s: float = DEFAULT_DURATION_TOLERANCE_S
    whisper_checkpoint: str | None = None
    whisper_model: str = DEFAULT_MODEL
    sync: bool = True  # estimate the audio-visual offset (decodes every frame)
    roi: Roi | None = None  # the mouth region for the offset estimate; None: find the face
    limits: Limits = Limits()  # longest clip and decoding time accepted
    syncnet_checkpoint: str | None = None  # SyncNet weights for LSE; None: the cache, or a download
    syncnet_download: bool = True  # may fetch the published SyncNet weights (never with MUSEVIZ_OFFLINE=1)
    lse_crop: str = CROP_FACE  # SyncNet's input: "face" crops or "whole" frames
    lse: bool = True  # measure LSE when SyncNet's weights are found
    custom_rules: tuple[Rule, ...] = ()  # rules of the user's own (museviz.spec), applied after every system's


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything museviz knows about one clip. ``mel80`` is (80, M) float32.

    ``sync`` is the offset estimate, or None with ``sync_error`` saying why (not asked
    for, or the clip cannot be measured). ``lse`` is SyncNet's LSE-C / LSE-D, or None with
    ``lse_error`` saying why (no weights, a file that is not SyncNet's, no face ...).
    """

    media: Media
    timeline: Timeline
    mel80: np.ndarray
    whisper: Whisper50
    schedules: dict[str, Schedule]
    checks: list[Check]
    options: Options
    sync: SyncResult | None = None
    sync_error: str | None = None
    lse: LseResult | None = None
    lse_error: str | None = None

    @property
    def warnings(self) -> list[str]:
        """Sentences about the analysis itself (not the clip), such as missing weights."""
        return [self.whisper.warning] if self.whisper.warning else []


@dataclass(frozen=True, eq=False)
class Probe:
    """What is known of a clip before any feature or picture: its timing, every rule's
    schedule, and the checks (the sync check comes with the pass)."""

    media: Media
    timeline: Timeline
    schedules: dict[str, Schedule]
    checks: list[Check]


ConsumerFactory = Callable[[Probe, "Future[Features]"], Sequence["FrameConsumer"]]


def analyze(
    path: str | os.PathLike,
    options: Options = Options(),
    progress: Progress | None = None,
    *,
    on_probe: Callable[[Probe], None] | None = None,
    consumers: ConsumerFactory | None = None,
    features_process: bool = False,
) -> Analysis:
    """Probe ``path``, extract both feature streams, apply every rule, run the checks and
    measure sync (and LSE, with SyncNet weights) in one pass over the pictures.

    ``on_probe(probe)`` is called as soon as the rules and checks are known. ``consumers(probe,
    features)`` gives more consumers for the pass (``features``: the future mel80 and
    whisper50, for a consumer that waits for them).

    The features are computed in a thread, or with ``features_process`` in a process of
    their own: a process that analyses one clip and exits (the CLI) imports torch and
    loads the encoder every time, and in a thread those imports share the GIL with the
    pass (3 s instead of 1, measured); a process does them on the other core. A server or
    an audit worker keeps torch and the encoder loaded, and a thread costs it nothing.

    Raises
    ------
    MusevizError
        For input museviz cannot analyse, with a sentence saying why.
    """
    report = progress or (lambda _f, _d: None)
    if options.fps is not None and not (0 < options.fps < 1000):
        raise MusevizError(f"{options.fps:g} is not a frame rate: give a number between 0 and 1000")
    report(0.0, "Reading frame times and audio")
    with _features_pool(features_process) as pool, tempfile.TemporaryDirectory(prefix="museviz-features-") as handover:
        if features_process:  # torch is imported and the encoder loaded there while the clip is read
            pool.submit(preload_encoder, options.whisper_checkpoint, options.whisper_model)
        media = read_media(path, options.limits)
        features = _submit_features(pool, media, options, handover if features_process else None)
        probe = probe_clip(media, options)
        if on_probe:
            on_probe(probe)
        extra = consumers(probe, features) if consumers else []
        pictures = measure_pictures(media, options, extra, lambda f: report(0.1 + 0.8 * f, "Reading every frame"))
        _return_freed_memory()
        report(0.95, "Encoding whisper50")
        mel, whisper = features.result()
    checks = [*probe.checks, sync_check(pictures.sync, pictures.sync_error, media.path)]
    report(1.0, "Done")
    return Analysis(media, probe.timeline, mel, whisper, probe.schedules, checks, options, *pictures)


@dataclass(frozen=True, eq=False)
class Measured:
    """What the pass over the pictures measured: the sync estimate and LSE, each or why not."""

    sync: SyncResult | None
    sync_error: str | None
    lse: LseResult | None
    lse_error: str | None

    def __iter__(self):
        return iter((self.sync, self.sync_error, self.lse, self.lse_error))


def measure_pictures(
    media: Media, options: Options = Options(), consumers: Sequence[FrameConsumer] = (), progress: Callable[[float], None] | None = None
) -> Measured:
    """Run the one decoding pass over ``media``: the sync estimate (unless turned off), LSE
    (when SyncNet's weights are found), and ``consumers``. A meter that cannot measure the
    clip says why in one sentence; the others go on."""
    sync_meter, sync_error = _guarded(lambda: _sync_meter(media, options))
    faces = sync_meter.meter.reader if sync_meter else None
    readers = [sync_meter] if sync_meter else []
    if faces is None and options.lse and options.lse_crop == CROP_FACE:
        from museviz.sync import mouth_reader

        faces = mouth_reader(media)
    lse_meter, lse_error = _guarded(lambda: _lse_meter(media, options, faces))
    if lse_meter and not sync_meter and faces is not None:
        readers.append(faces)  # the face track SyncNet's crops follow, without the estimate
    # The others first: finishing, the overlay flushes and frees its encoder before the sync
    # estimate's correlation takes its memory.
    pass_consumers = [*consumers, *readers, *([lse_meter] if lse_meter else [])]
    if pass_consumers:
        from museviz.videopass import run_pass

        run_pass(media, pass_consumers, progress)
    sync, sync_error = sync_meter.outcome() if sync_meter else (None, sync_error)
    lse, lse_error = lse_meter.outcome() if lse_meter else (None, lse_error)
    return Measured(sync, sync_error, lse, lse_error)


def probe_clip(media: Media, options: Options = Options()) -> Probe:
    """The clip's timeline as a pipeline sees it, every rule's schedule and the checks."""
    timeline = Timeline.of_media(media, options.fps)
    schedules = schedule_all(timeline) | {r.name: r.schedule(timeline) for r in options.custom_rules}
    return Probe(media, timeline, schedules, run_checks(media, timeline, schedules, options.duration_tolerance_s))


def _submit_features(pool: Executor, media: Media, options: Options, handover: str | None) -> Future[Features]:
    """The features of ``media``'s audio computed by ``pool``: in a thread, or in a process
    that writes them into the folder ``handover`` and then ends: it holds torch, the encoder
    and what encoding left behind (570 MB for a 10 minute clip), which the rest of the pass
    has no use for."""
    args = (media.audio_16k, options.whisper_checkpoint, options.whisper_model)
    if handover is None:
        return pool.submit(extract_features, *args)
    # In a process of its own the encoder gets one thread: the pass keeps the other core busy,
    # and a second thread only waited for it (measured: 0.7 s less wall time, 1.3 s less CPU).
    written = pool.submit(extract_features_into, handover, *args, 1)
    features: Future[Features] = Future()

    def read(done: Future) -> None:
        try:
            features.set_result(read_features(handover, done.result()))
        except BaseException as exc:
            features.set_exception(exc)

    written.add_done_callback(read)
    written.add_done_callback(lambda _: pool.shutdown(wait=False))
    return features


def process_start() -> multiprocessing.context.BaseContext:
    """How museviz starts a process of its own: as a copy of this one (fork), numpy, PyAV
    and museviz already imported (a fresh interpreter took 0.7 s more of a CLI run), unless
    this process has loaded torch, whose threads a copy would inherit broken (it crashes);
    then as a fresh interpreter (spawn)."""
    return multiprocessing.get_context("spawn" if "torch" in sys.modules else "fork")


def _features_pool(in_process: bool) -> Executor:
    if in_process:
        return ProcessPoolExecutor(max_workers=1, mp_context=process_start())
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="museviz-features")


def _sync_meter(media: Media, options: Options):
    if not options.sync:
        raise MusevizError("the sync estimate was turned off")
    from museviz.sync import SyncMeter

    return SyncMeter(media, options.roi)


def _lse_meter(media: Media, options: Options, faces):
    if not options.lse:
        raise MusevizError("LSE was not asked for")
    from museviz.lse import LseMeter

    return LseMeter(media, options.syncnet_checkpoint, options.lse_crop, options.syncnet_download, faces)


def _guarded(make: Callable):
    """``(_Guard(make()), None)``, or ``(None, the sentence)`` when it raises ``MusevizError``."""
    try:
        return _Guard(make()), None
    except MusevizError as exc:
        return None, str(exc)


class _Guard:
    """A meter in the pass (``SyncMeter``, ``LseMeter``) whose failure, a ``MusevizError``,
    is its outcome rather than the end of the pass."""

    def __init__(self, meter):
        self.meter = meter
        self._error: str | None = None

    def add(self, frame_idx: int, picture) -> None:
        if self._error is None:
            try:
                self.meter.add(frame_idx, picture)
            except MusevizError as exc:
                self._error = str(exc)

    def finish(self) -> None:
        if self._error is None:
            try:
                self.meter.finish()
            except MusevizError as exc:
                self._error = str(exc)

    def outcome(self):
        """(the meter's result, None), or (None, why it has none)."""
        return (None, self._error) if self._error else (self.meter.result, None)


def _return_freed_memory() -> None:
    """Give what the pass freed (decoders' and encoders' buffers, its frames) back to the
    system: glibc keeps freed blocks for reuse, and the report of a long clip is written
    after the pass (measured: 90 MB less at the peak of a 10 minute clip). Elsewhere, nothing."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
