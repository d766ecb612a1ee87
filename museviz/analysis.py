"""The pipeline: media -> features -> rules -> checks, for one clip."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from museviz.checks import DEFAULT_DURATION_TOLERANCE_S, Check, run_checks, sync_check
from museviz.errors import MusevizError
from museviz.lse import CROP_FACE, LseResult, measure_lse
from museviz.media import Limits, Media, read_media
from museviz.mel80 import mel80
from museviz.mouth import Roi
from museviz.rules import Rule, Schedule, Timeline, schedule_all
from museviz.sync import SyncResult, estimate_sync
from museviz.whisper50 import DEFAULT_MODEL, Whisper50, load_encoder, whisper50

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


def analyze(path: str | os.PathLike, options: Options = Options(), progress: Progress | None = None) -> Analysis:
    """Probe ``path``, extract both feature streams, apply every rule and run the checks.

    Raises
    ------
    MusevizError
        For input museviz cannot analyse, with a sentence saying why.
    """
    report = progress or (lambda _f, _d: None)
    if options.fps is not None and not (0 < options.fps < 1000):
        raise MusevizError(f"{options.fps:g} is not a frame rate: give a number between 0 and 1000")
    report(0.0, "Reading frame times and audio")
    media = read_media(path, options.limits)
    report(0.1, "Loading the Whisper encoder")
    encoder = load_encoder(options.whisper_checkpoint, options.whisper_model)
    timeline = Timeline.of_media(media, options.fps)
    report(0.2, "Computing mel80")
    mel = mel80(media.audio_16k)
    report(0.25, "Encoding whisper50")
    whisper = whisper50(media.audio_16k, encoder)
    report(0.6, "Applying each system's rule")
    schedules = schedule_all(timeline) | {r.name: r.schedule(timeline) for r in options.custom_rules}
    checks = run_checks(media, timeline, schedules, options.duration_tolerance_s)
    sync, sync_error = None, "the sync estimate was turned off"
    if options.sync:
        try:
            sync, sync_error = estimate_sync(media, options.roi, lambda f, d: report(0.6 + 0.2 * f, d)), None
        except MusevizError as exc:
            sync_error = str(exc)
    checks.append(sync_check(sync, sync_error))
    lse, lse_error = None, None
    try:
        lse = measure_lse(media, sync, options.syncnet_checkpoint, options.lse_crop, options.syncnet_download, lambda f, d: report(0.8 + 0.2 * f, d))
    except MusevizError as exc:
        lse_error = str(exc)
    report(1.0, "Done")
    return Analysis(media, timeline, mel, whisper, schedules, checks, options, sync, sync_error, lse, lse_error)

