"""Measure audio-visual sync without learned sync weights: the open mouth against the voice.

SyncNet measures sync with a learned embedding; this module measures it with two signals
anyone can check by eye, on the clock of ``museviz.media`` (seconds since audio sample 0):

- the mouth: in every frame, dlib's 68 landmarks (``museviz.face``) place an upright crop
  of the mouth, and its openness is the dark share of that crop (``museviz.mouth``): the
  inside of an open mouth, not a smile, not teeth, not the light;
- the voice: the amplitude of the 1-3 kHz band over 40 ms around the time the frame is
  compared with. That band carries the second and third formants, whose energy follows the
  opening of the mouth more closely than the loudness does (Chandrasekaran et al. 2009,
  "The natural statistics of audiovisual speech").

The curve is the Pearson correlation of the two (both high-passed over ``HIGHPASS_S``)
with the voice read ``lag`` earlier, searched over -``MAX_LAG_FRAMES``..+``MAX_LAG_FRAMES``
frames in quarter frames. How high a peak must be to mean anything is measured on the clip
itself: the same correlation with the voice shifted circularly by a second or more (where
no sync can be) gives the chance level, and the peak's height in standard deviations of
that null, ``z``, is the evidence. A wrong answer on real footage comes from a chance peak
or a side lobe one syllable (about 200 ms) away from the right one, so the confidence asks
for both a high peak and a clear lead over the best peak more than ``RUNNER_UP_AWAY_S``
away: ``score = z + (z - z_runner_up)``, mapped linearly from ``SCORE_FOR_ZERO`` (0) to
``SCORE_FOR_ONE`` (1).

The mouth moves before the voice it shapes, so a clip in sync peaks at a negative lag;
``NATURAL_LEAD_S`` is added back (how it was measured: docs/report.md). The offset follows
SyncNet's sign: positive when the audio leads the video (sound early), negative when late.

Measured on the real clips in ../shared/media/real (two HDTF face crops, one wide shot;
believed in sync), calibrated against 42 pairings of each face with unrelated speech
(``python bench/sync_real.py``, docs/report.md): in sync they score 7.7 to 10.6, unrelated
speech at most 5.1.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE
from museviz.media import Media
from museviz.mouth import ROI_DEFAULT, ROI_FACE, MouthReader, MouthTrack, Roi

METHOD = "mouth darkness (dlib landmarks) x 1-3 kHz amplitude: correlation, chance from circular shifts"

MAX_LAG_FRAMES = 15  # frames of the nominal rate searched either way: syncnet_python's vshift
MIN_FRAMES = 2 * MAX_LAG_FRAMES + 1  # frames a clip needs to be searched that far
LAG_STEP_FRAMES = 0.25  # the curve is searched in quarter frames
KEEP_MAX_OFFSET_FRAMES = 6  # LatentSync keeps a clip when |offset| <= 6 frames
KEEP_MIN_CONFIDENCE = 0.5  # a measurement below this is "not measured reliably"

NATURAL_LEAD_S = 0.05  # s the mouth leads the voice on real faces in sync (measured: docs/report.md)
VOICE_BAND_HZ = (1000.0, 3000.0)  # the second and third formants
VOICE_FILTER_ORDER = 4  # a Butterworth band-pass's gain, applied without its phase (its group delay, < 1 ms, is far below a frame)
VOICE_FFT_SAMPLES = 1 << 20  # the band is filtered this many samples (65 s) at a time, in one FFT each
VOICE_MARGIN_SAMPLES = 4000  # of audio either side of each part: the filter's response dies out within 5 ms
VOICE_WINDOW_S = 0.04  # s of voice amplitude compared with each frame
VOICE_HOP_SAMPLES = 40  # 2.5 ms: the voice energy is kept on this grid
HIGHPASS_S = 1.0  # s: both signals lose their moving average over this span (light, head motion, pauses)

NULL_MIN_SHIFT_S = 1.0  # s: a circular shift at least this long cannot be in sync
NULL_STEP_S = 0.04  # s between the shifts of the null
NULL_MAX_SHIFTS = 200  # shifts in the null at most (a long clip takes them evenly spread)
NCC_ROWS_AT_ONCE = 16  # rows correlated in one block: a 10 minute clip's block and its temporaries take about 10 MB
MIN_NULL_SHIFTS = 10  # fewer shifts than this give no chance level: the clip is too short
RUNNER_UP_AWAY_S = 0.1  # s: a competing peak is the best one at least this far from the peak
COMPETING_PEAK_MARGIN = 1.5  # a runner-up within this many standard deviations of the peak makes the answer unreliable
SCORE_FOR_ZERO, SCORE_FOR_ONE = 4.0, 8.0  # confidence = (score - 4) / 4, clipped to 0..1
MIN_OVERLAP_S = 1.0  # s: a lag needs this much of both signals to get a correlation

SPEECH_BELOW_PEAK_DB = 30.0  # a 30 ms window within this of the loud voice (95th percentile) is speech
MIN_SPEECH_S = 2.0  # s of speech the measurement needs
MIN_FACE_FRACTION = 0.5  # share of frames with a face the measurement needs
MIN_EYE_DISTANCE_PX = 12.0  # px: a face smaller than this (eyes closer) is too small to read the mouth
MIN_YAW_RATIO = 0.45  # a head turned further than this (about 40 degrees) hides the mouth
GATED_CONFIDENCE = 0.3  # the confidence at most when one of the conditions above is not met

TRACK_WINDOW_S = 4.0  # s: length of each window of the offset track
TRACK_HOP_S = 1.0  # s: step between windows of the offset track
DRIFT_MIN_FRAMES = 2.0  # the fitted track must move by this many frames over the clip to count as drift
DRIFT_MIN_POINTS = 3  # confident track points needed to fit a drift

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TrackPoint:
    """The offset measured on one window ``[t_start_s, t_end_s)`` of the clip."""

    t_start_s: float
    t_end_s: float
    offset_frames: int
    offset_ms: float
    confidence: float

    def to_dict(self) -> dict:
        return {
            "t_start_s": round(self.t_start_s, 3),
            "t_end_s": round(self.t_end_s, 3),
            "offset_frames": self.offset_frames,
            "offset_ms": round(self.offset_ms, 1),
            "confidence": round(self.confidence, 3),
        }


@dataclass(frozen=True)
class SyncQuality:
    """What the measurement stood on (None where it does not apply).

    ``face_fraction`` the share of frames with a face; ``face_size_px`` the median width of
    the face box; ``eye_distance_px`` its median distance between the eyes; ``yaw_ratio``
    the median frontalness (1 frontal, towards 0 in profile); ``speech_s`` and
    ``speech_fraction`` how much of the clip has a voice; ``peak_z`` the peak in standard
    deviations of chance; ``runner_up_ms``, ``runner_up_correlation`` and ``runner_up_z``
    the best competing peak; ``null_mean``, ``null_sd`` and ``null_shifts`` the chance level.
    """

    face_fraction: float | None
    face_size_px: float | None
    eye_distance_px: float | None
    yaw_ratio: float | None
    speech_s: float
    speech_fraction: float
    peak_correlation: float
    peak_z: float
    runner_up_ms: float | None
    runner_up_correlation: float | None
    runner_up_z: float | None
    null_mean: float
    null_sd: float
    null_shifts: int

    def to_dict(self) -> dict:
        return {name: (round(value, 4) if isinstance(value, float) else value) for name, value in self.__dict__.items()}


@dataclass(frozen=True, eq=False)
class SyncResult:
    """An audio-visual offset estimate, its evidence and its verdict.

    Sign: SyncNet's. ``offset_frames`` > 0 when the audio leads the video (the sound comes
    before the mouth that makes it), < 0 when the audio is late; ``offset_ms`` is the
    measured offset (quarter frames), ``offset_frames`` it rounded to frames of ``fps``.
    ``raw_lag_ms`` is where the correlation peaks, before ``NATURAL_LEAD_S`` is added back.

    Confidence: 0..1 (see the module docstring); below ``KEEP_MIN_CONFIDENCE`` the offset
    is "not measured reliably", the words say so and there is no fix.

    Arrays: ``lags_frames`` (n_lags,) float, quarter frames (lead included, so the peak is
    at the offset) and ``curve`` the correlation there (NaN where too little overlaps);
    ``mouth_signal`` and ``sound_signal`` (n_frames,) the two signals on the frame clock
    before the high-pass (the sound at the frame's own time; NaN where not measured);
    ``face_boxes_px`` and ``mouth_boxes_px`` (n_frames, 4) x, y, w, h in source pixels of
    the face box and of the measured mouth crop's bounding box (NaN where none).

    Text: ``words`` the offset in a sentence; ``keep`` LatentSync's rule (confidence >=
    ``KEEP_MIN_CONFIDENCE`` and |offset| <= ``KEEP_MAX_OFFSET_FRAMES``) and no drift, with
    ``reasons`` one sentence per failed condition; ``notes`` what the reader should know
    about the measurement; ``fix`` the ffmpeg command that shifts the audio by the offset,
    None when in sync, not measured reliably, or drifting.
    """

    offset_frames: int
    offset_ms: float
    raw_lag_ms: float
    confidence: float
    method: str
    fps: float
    lags_frames: np.ndarray
    curve: np.ndarray
    track: list[TrackPoint]
    drift_ms_per_min: float | None
    quality: SyncQuality
    mouth_signal: np.ndarray = field(repr=False)
    sound_signal: np.ndarray = field(repr=False)
    roi_source: str
    roi: Roi | None
    face_box_px: tuple[int, int, int, int] | None
    mouth_box_px: tuple[int, int, int, int] | None
    face_boxes_px: np.ndarray = field(repr=False)
    mouth_boxes_px: np.ndarray = field(repr=False)
    words: str
    keep: bool
    reasons: list[str]
    notes: list[str]
    fix: str | None

    @property
    def face_fraction(self) -> float | None:
        return self.quality.face_fraction

    @property
    def reliable(self) -> bool:
        return self.confidence >= KEEP_MIN_CONFIDENCE

    def to_dict(self) -> dict:
        """The report's ``sync`` block: plain JSON types, the curve and the track included."""
        return {
            "offset_frames": self.offset_frames,
            "offset_ms": round(self.offset_ms, 1),
            "confidence": round(self.confidence, 3),
            "reliable": self.reliable,
            "method": self.method,
            "fps": self.fps,
            "natural_lead_ms": round(NATURAL_LEAD_S * 1000, 1),
            "raw_lag_ms": round(self.raw_lag_ms, 1),
            "words": self.words,
            "keep": self.keep,
            "keep_rule": {"min_confidence": KEEP_MIN_CONFIDENCE, "max_abs_offset_frames": KEEP_MAX_OFFSET_FRAMES},
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "fix": self.fix,
            "drift_ms_per_min": None if self.drift_ms_per_min is None else round(self.drift_ms_per_min, 1),
            "quality": self.quality.to_dict(),
            "track": [p.to_dict() for p in self.track],
            "curve": {
                "lag_frames": [round(float(v), 4) for v in self.lags_frames],
                "correlation": [None if not np.isfinite(v) else round(float(v), 4) for v in self.curve],
            },
            "roi": {
                "source": self.roi_source,
                "region": None if self.roi is None else str(self.roi),
                "face_box_px": None if self.face_box_px is None else list(self.face_box_px),
                "mouth_box_px": None if self.mouth_box_px is None else list(self.mouth_box_px),
            },
        }


def estimate_sync(media: Media, roi: Roi | None = None, progress: Progress | None = None) -> SyncResult:
    """Estimate the audio-visual offset of ``media`` in one streaming pass over its frames.

    Parameters
    ----------
    media : Media
        A probed clip (``museviz.media.read_media``).
    roi : Roi, optional
        Where the mouth is, as fractions of the frame. Given, it is used for every frame
        and no face is searched. None: the face is tracked, and ``DEFAULT_ROI`` is used when
        none is found.
    progress : callable, optional
        ``progress(fraction, description)``, called while frames are decoded.

    Returns
    -------
    SyncResult

    Raises
    ------
    MusevizError
        When the clip cannot be measured at all: no audio, silent audio, or too few decoded
        frames to search ``MAX_LAG_FRAMES`` either way. A measurement that is merely weak is
        returned, with a low confidence and the reason in ``notes``.
    """
    from museviz.videopass import run_pass

    report = progress or (lambda _f, _d: None)
    meter = SyncMeter(media, roi)
    run_pass(media, [meter], lambda f: report(0.9 * f, "Measuring the mouth in each frame"))
    report(1.0, "Sync measured")
    return meter.result


class SyncMeter:
    """A consumer of the decoding pass (``museviz.videopass``) that estimates the offset:
    it measures the mouth of every frame (``reader``, whose face track other consumers of
    the same pass may follow) and ``finish`` correlates it with the voice, giving the
    ``SyncResult`` (also kept as ``result``).

    Raises
    ------
    MusevizError
        When the clip cannot be measured at all: no audio, silent audio or too few frames
        (here), too few frames decoded (at ``finish``).
    """

    def __init__(self, media: Media, roi: Roi | None = None):
        name = os.path.basename(media.path)
        if not media.audio.present or len(media.audio_16k) == 0:
            raise MusevizError(f"{name} has no audio: sync needs sound to compare the mouth with")
        if not np.any(media.audio_16k):
            raise MusevizError(f"{name} has silent audio: sync needs sound to compare the mouth with")
        if media.video.n_frames < MIN_FRAMES:
            raise MusevizError(f"{name} has {media.video.n_frames} frames: sync needs at least {MIN_FRAMES} to search {MAX_LAG_FRAMES} frames either way")
        self._media = media
        self.reader = mouth_reader(media, roi)
        self.result: SyncResult | None = None
        # The voice needs only the audio: it is filtered in a thread while the pass reads the pictures.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="museviz-voice")
        self._voice = pool.submit(Voice, media.audio_16k)
        pool.shutdown(wait=False)

    def add(self, frame_idx: int, picture) -> None:
        self.reader.add(frame_idx, picture)

    def finish(self) -> SyncResult:
        media, video = self._media, self._media.video
        mouth = self.reader.finish()
        measured = np.count_nonzero(np.isfinite(mouth.signal))
        if measured < MIN_FRAMES:
            raise MusevizError(f"{os.path.basename(media.path)}: the mouth was measured in only {measured} of {video.n_frames} frames: sync needs at least {MIN_FRAMES}")
        self.result = correlate(mouth, media.audio_16k, video.frame_times_s, video.fps, media.path, self._voice.result())
        return self.result


def mouth_reader(media: Media, roi: Roi | None = None) -> MouthReader:
    """The consumer of the decoding pass that measures ``media``'s mouth for the estimate."""
    return MouthReader(media.video.frame_times_s, media.video.display_size, roi, min_frames=MIN_FRAMES)


def measure_mouth(media: Media, roi: Roi | None = None, progress: Callable[[float], None] | None = None) -> MouthTrack:
    """Decode every frame of ``media`` once and measure its mouth (``museviz.mouth.MouthReader``)."""
    from museviz.videopass import run_pass

    reader = mouth_reader(media, roi)
    run_pass(media, [reader], progress)
    return reader.track


# --- the voice -----------------------------------------------------------------------------


class Voice:
    """The amplitude of the ``VOICE_BAND_HZ`` band of (N,) 16 kHz ``audio`` around any time.

    The band is cut by the gain of a ``VOICE_FILTER_ORDER`` Butterworth band-pass (as a
    digital filter designed by the bilinear transform has it) applied to the audio's
    spectrum, ``VOICE_FFT_SAMPLES`` at a time: the filter's own phase is left out, a delay
    of under a millisecond. Its energy is kept per ``VOICE_HOP_SAMPLES`` hop (2.5 ms), so a
    window of ``VOICE_WINDOW_S`` at any time costs two lookups; memory is N / 40 floats.
    """

    def __init__(self, audio: np.ndarray):
        n_hops = len(audio) // VOICE_HOP_SAMPLES
        energy = np.empty(n_hops)
        gain = band_gain(VOICE_FFT_SAMPLES)
        part_hops = (VOICE_FFT_SAMPLES - 2 * VOICE_MARGIN_SAMPLES) // VOICE_HOP_SAMPLES
        segment = np.empty(VOICE_FFT_SAMPLES)
        for first in range(0, n_hops, part_hops):
            last = min(n_hops, first + part_hops)
            start, end = first * VOICE_HOP_SAMPLES, last * VOICE_HOP_SAMPLES
            before = min(start, VOICE_MARGIN_SAMPLES)
            read = audio[start - before : min(len(audio), end + VOICE_MARGIN_SAMPLES)]
            segment[: len(read)] = read
            segment[len(read) :] = 0.0
            band = np.fft.irfft(np.fft.rfft(segment) * gain, VOICE_FFT_SAMPLES)[before : before + end - start]
            energy[first:last] = np.square(band).reshape(-1, VOICE_HOP_SAMPLES).sum(axis=1)
        self.duration_s = n_hops * VOICE_HOP_SAMPLES / SAMPLE_RATE
        self._window = max(1, round(VOICE_WINDOW_S * SAMPLE_RATE / VOICE_HOP_SAMPLES))
        self._cumulative = np.concatenate([[0.0], np.cumsum(energy)])
        twice = np.concatenate([energy, energy])
        self._cumulative_wrapped = np.concatenate([[0.0], np.cumsum(twice)])

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """(T,) amplitude over ``VOICE_WINDOW_S`` centred on each time; NaN where the window
        is not inside the audio (a shift past either end is left out, not read as silence)."""
        n_hops = len(self._cumulative) - 1
        starts = np.round(np.asarray(times_s) * SAMPLE_RATE / VOICE_HOP_SAMPLES - self._window / 2).astype(np.int64)
        inside = (starts >= 0) & (starts + self._window <= n_hops)
        first = np.clip(starts, 0, n_hops - self._window)
        energy = self._cumulative[first + self._window] - self._cumulative[first]
        return np.where(inside, np.sqrt(np.maximum(energy, 0.0) / (self._window * VOICE_HOP_SAMPLES)), np.nan)

    def at_wrapped(self, times_s: np.ndarray) -> np.ndarray:
        """(T,) like ``at``, with times taken modulo the audio's duration (the end runs on into the start)."""
        n_hops = len(self._cumulative) - 1
        starts = np.round(np.mod(np.asarray(times_s), self.duration_s) * SAMPLE_RATE / VOICE_HOP_SAMPLES - self._window / 2).astype(np.int64) % n_hops
        energy = self._cumulative_wrapped[starts + self._window] - self._cumulative_wrapped[starts]
        return np.sqrt(np.maximum(energy, 0.0) / (self._window * VOICE_HOP_SAMPLES))


def band_gain(n_fft: int) -> np.ndarray:
    """(n_fft // 2 + 1,) the gain of the ``VOICE_FILTER_ORDER`` Butterworth band-pass over
    ``VOICE_BAND_HZ`` at each bin of an ``n_fft``-point real FFT of 16 kHz audio.

    A band-pass made from an order-n low-pass has ``|H|^2 = 1 / (1 + q^(2n))``, ``q = (w^2 -
    w_lo w_hi) / (w (w_hi - w_lo))`` at analogue frequency ``w``; the bilinear transform
    puts frequency ``f`` at ``w = tan(pi f / fs)`` (the band edges warped alike), which is
    how scipy's ``butter(n, band, "band", fs=fs)`` designs it.
    """
    warped = np.tan(np.pi * np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)[1:-1] / SAMPLE_RATE)
    lo, hi = np.tan(np.pi * np.asarray(VOICE_BAND_HZ) / SAMPLE_RATE)
    q = (warped**2 - lo * hi) / (warped * (hi - lo))
    gain = np.zeros(n_fft // 2 + 1)  # nothing at 0 Hz nor at half the rate
    gain[1:-1] = 1 / np.sqrt(1 + q ** (2 * VOICE_FILTER_ORDER))
    return gain


def speech_share(audio: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """(T,) bool: a voice within ``SPEECH_BELOW_PEAK_DB`` of the clip's loud speech (its 95th
    percentile) in a 30 ms window around each time."""
    energy = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])
    window = round(0.03 * SAMPLE_RATE)
    starts = np.clip(np.round(np.asarray(times_s) * SAMPLE_RATE - window / 2).astype(np.int64), 0, max(0, len(audio) - window))
    level_db = 10 * np.log10(np.maximum(energy[starts + window] - energy[starts], 1e-20) / window)
    return level_db > np.percentile(level_db, 95) - SPEECH_BELOW_PEAK_DB


# --- the correlation -----------------------------------------------------------------------


def correlate(mouth: MouthTrack, audio: np.ndarray, times_s: np.ndarray, fps: float, path: str = "clip.mp4", voice: Voice | None = None) -> SyncResult:
    """The offset of ``mouth`` (measured at frame ``times_s``) against (N,) 16 kHz ``audio``
    (whose ``Voice``, when given, is already computed)."""
    voice = voice or Voice(audio)
    span = max(3, round(HIGHPASS_S * fps))
    mouth_hp = highpass(mouth.signal, span)
    raw_lags = np.arange(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + LAG_STEP_FRAMES / 2, LAG_STEP_FRAMES)
    lead_frames = NATURAL_LEAD_S * fps
    raw_lags = raw_lags - lead_frames  # searched around the natural lead: the reported lags run -15..+15
    sound_rows = np.stack([highpass(voice.at(times_s - lag / fps), span) for lag in raw_lags])
    min_overlap = max(2 * MAX_LAG_FRAMES + 1, round(MIN_OVERLAP_S * fps))
    curve = ncc_rows(mouth_hp, sound_rows, min_overlap)
    null = ncc_rows(mouth_hp, _null_rows(voice, times_s, span), min_overlap)
    null = null[np.isfinite(null)]

    speech = speech_share(audio, times_s)
    speech_s = float(np.count_nonzero(speech) / fps)
    peak = _Peak.of(curve, raw_lags / fps, float(np.mean(null)), float(np.std(null))) if len(null) >= MIN_NULL_SHIFTS else None
    offset_ms = (peak.lag_s + NATURAL_LEAD_S) * 1000.0 if peak else 0.0
    offset_frames = _round_half_away(offset_ms * fps / 1000.0)
    notes = list(mouth.notes)
    confidence = peak.confidence if peak else 0.0
    if peak is None:
        notes.append(f"the clip is too short to know what chance looks like (fewer than {MIN_NULL_SHIFTS} shifts of {NULL_MIN_SHIFT_S:g} s or more): the offset is not measured")
    gates = _gates(mouth, speech_s, peak, fps)
    if gates:
        confidence = min(confidence, GATED_CONFIDENCE)
        notes += gates
    quality = SyncQuality(
        face_fraction=mouth.face_fraction,
        face_size_px=_median_width(mouth.face_boxes_px),
        eye_distance_px=mouth.eye_distance_px,
        yaw_ratio=mouth.yaw_ratio,
        speech_s=speech_s,
        speech_fraction=float(np.mean(speech)),
        peak_correlation=peak.correlation if peak else math.nan,
        peak_z=peak.z if peak else math.nan,
        runner_up_ms=None if not peak or peak.runner_up_s is None else (peak.runner_up_s + NATURAL_LEAD_S) * 1000.0,
        runner_up_correlation=peak.runner_up_correlation if peak else None,
        runner_up_z=peak.runner_up_z if peak else None,
        null_mean=float(np.mean(null)) if len(null) else math.nan,
        null_sd=float(np.std(null)) if len(null) else math.nan,
        null_shifts=len(null),
    )
    track = _track(times_s, mouth_hp, sound_rows, raw_lags, fps, min_overlap, null_sd=quality.null_sd, null_mean=quality.null_mean)
    drift = _drift_ms_per_min(track, fps)
    keep, reasons = _verdict(offset_frames, confidence, fps, drift, times_s)
    reliable = confidence >= KEEP_MIN_CONFIDENCE
    fix = itsoffset_fix(path, offset_frames, fps) if reliable and offset_frames != 0 and drift is None else None
    return SyncResult(
        offset_frames=offset_frames,
        offset_ms=offset_ms,
        raw_lag_ms=peak.lag_s * 1000.0 if peak else 0.0,
        confidence=confidence,
        method=METHOD,
        fps=fps,
        lags_frames=raw_lags + lead_frames,
        curve=curve,
        track=track,
        drift_ms_per_min=drift,
        quality=quality,
        mouth_signal=mouth.signal,
        sound_signal=voice.at(times_s),
        roi_source=mouth.source,
        roi=mouth.roi,
        face_box_px=_int_box(np.nanmedian(mouth.face_boxes_px, axis=0)) if np.isfinite(mouth.face_boxes_px).any() else None,
        mouth_box_px=_int_box(np.nanmedian(mouth.mouth_boxes_px, axis=0)) if np.isfinite(mouth.mouth_boxes_px).any() else None,
        face_boxes_px=mouth.face_boxes_px,
        mouth_boxes_px=mouth.mouth_boxes_px,
        words=offset_words(offset_frames, fps, drift, confidence),
        keep=keep,
        reasons=reasons,
        notes=notes,
        fix=fix,
    )


def _null_rows(voice: Voice, times_s: np.ndarray, span: int) -> np.ndarray:
    """The voice shifted circularly by ``NULL_MIN_SHIFT_S`` .. duration - ``NULL_MIN_SHIFT_S``:
    (n_shifts, n_frames), each row high-passed; no row can be in sync."""
    shifts_s = np.arange(NULL_MIN_SHIFT_S, voice.duration_s - NULL_MIN_SHIFT_S + 1e-9, NULL_STEP_S)
    if len(shifts_s) > NULL_MAX_SHIFTS:
        shifts_s = shifts_s[np.linspace(0, len(shifts_s) - 1, NULL_MAX_SHIFTS).round().astype(int)]
    if len(shifts_s) == 0:
        return np.zeros((0, len(times_s)))
    return np.stack([highpass(voice.at_wrapped(times_s - shift), span) for shift in shifts_s])


@dataclass(frozen=True)
class _Peak:
    """The best lag of a curve, how it stands out from chance, and its best competitor."""

    lag_s: float
    correlation: float
    z: float
    runner_up_s: float | None
    runner_up_correlation: float | None
    runner_up_z: float | None

    @property
    def score(self) -> float:
        """The peak's height over chance plus its lead over the runner-up, both in null standard deviations."""
        runner_up = self.runner_up_z if self.runner_up_z is not None else 0.0
        return 2 * self.z - runner_up

    @property
    def confidence(self) -> float:
        return float(np.clip((self.score - SCORE_FOR_ZERO) / (SCORE_FOR_ONE - SCORE_FOR_ZERO), 0.0, 1.0))

    @classmethod
    def of(cls, curve: np.ndarray, lags_s: np.ndarray, mean: float, sd: float) -> _Peak | None:
        """The peak of ``curve`` over ``lags_s`` against chance correlations of ``mean`` and
        ``sd``; None when the curve has no finite value."""
        if not np.any(np.isfinite(curve)):
            return None
        sd = sd if sd > 0 else 1.0
        best = int(np.nanargmax(curve))
        away = np.isfinite(curve) & (np.abs(lags_s - lags_s[best]) > RUNNER_UP_AWAY_S + 1e-9)
        runner = int(np.flatnonzero(away)[np.argmax(curve[away])]) if away.any() else None
        return cls(
            lag_s=_vertex(curve, lags_s, best),
            correlation=float(curve[best]),
            z=(float(curve[best]) - mean) / sd,
            runner_up_s=None if runner is None else float(lags_s[runner]),
            runner_up_correlation=None if runner is None else float(curve[runner]),
            runner_up_z=None if runner is None else (float(curve[runner]) - mean) / sd,
        )


def _vertex(curve: np.ndarray, lags_s: np.ndarray, best: int) -> float:
    """The lag of the top of the parabola through the peak and its two neighbours (the peak's
    own lag at the edge of the search or beside a gap): the curve is sampled in quarter
    frames, the offset is wanted between them."""
    if best == 0 or best == len(curve) - 1 or not np.all(np.isfinite(curve[best - 1 : best + 2])):
        return float(lags_s[best])
    before, top, after = curve[best - 1 : best + 2]
    bend = before - 2 * top + after
    step = 0.5 * (before - after) / bend if bend < 0 else 0.0
    return float(lags_s[best] + np.clip(step, -0.5, 0.5) * (lags_s[best + 1] - lags_s[best]))


def _gates(mouth: MouthTrack, speech_s: float, peak: _Peak | None, fps: float) -> list[str]:
    """Sentences for each condition the measurement needs and this clip misses."""
    gates = []
    if speech_s < MIN_SPEECH_S:
        gates.append(f"only {speech_s:.1f} s of the clip has a voice (at least {MIN_SPEECH_S:g} s is needed): the offset is not measured reliably")
    if mouth.source == ROI_FACE and mouth.face_fraction is not None and mouth.face_fraction < MIN_FACE_FRACTION:
        gates.append(f"the face is missing from {1 - mouth.face_fraction:.0%} of the frames: the offset is not measured reliably")
    if mouth.source == ROI_DEFAULT:
        gates.append("without a face the mouth region is a guess: the offset is not measured reliably")
    if mouth.eye_distance_px is not None and mouth.eye_distance_px < MIN_EYE_DISTANCE_PX:
        gates.append(f"the face is small (eyes {mouth.eye_distance_px:.0f} px apart, at least {MIN_EYE_DISTANCE_PX:g} px is needed): the mouth cannot be read reliably")
    if mouth.yaw_ratio is not None and mouth.yaw_ratio < MIN_YAW_RATIO:
        gates.append("the head is turned away from the camera for most of the clip: the mouth cannot be read reliably")
    if peak is not None and abs(peak.lag_s + NATURAL_LEAD_S) * fps >= MAX_LAG_FRAMES - LAG_STEP_FRAMES:
        gates.append(f"the best lag is at the edge of the search ({MAX_LAG_FRAMES} frames): the real offset may be larger")
    if peak is not None and peak.runner_up_z is not None and peak.runner_up_z > peak.z - COMPETING_PEAK_MARGIN:
        gates.append(
            f"a competing peak {(peak.runner_up_s - peak.lag_s) * 1000:+.0f} ms away is nearly as high ({peak.runner_up_z:.1f} "
            f"against {peak.z:.1f} standard deviations above chance): the offset is not measured reliably"
        )
    return gates


def highpass(signal: np.ndarray, span: int) -> np.ndarray:
    """``signal`` minus its centred moving average over ``span`` samples; NaNs are skipped
    in the average and stay NaN."""
    valid = np.isfinite(signal)
    values = np.where(valid, signal, 0.0)
    half = span // 2
    padded_sum = np.concatenate([[0.0], np.cumsum(values)])
    padded_cnt = np.concatenate([[0], np.cumsum(valid)])
    idx = np.arange(len(signal))
    lo, hi = np.clip(idx - half, 0, len(signal)), np.clip(idx + half + 1, 0, len(signal))
    count = padded_cnt[hi] - padded_cnt[lo]
    mean = (padded_sum[hi] - padded_sum[lo]) / np.maximum(count, 1)
    return np.where(valid, signal - mean, np.nan)


def ncc_rows(a: np.ndarray, rows: np.ndarray, min_overlap: int) -> np.ndarray:
    """Pearson correlation of ``a`` (n,) with each row of ``rows`` (k, n), over the samples
    where both are finite: (k,) float64, NaN for a row with fewer than ``min_overlap`` such
    samples or a constant signal."""
    if len(rows) == 0:
        return np.zeros(0)
    if len(rows) > NCC_ROWS_AT_ONCE:  # a long clip's rows one block at a time: memory stays small
        return np.concatenate([ncc_rows(a, rows[i : i + NCC_ROWS_AT_ONCE], min_overlap) for i in range(0, len(rows), NCC_ROWS_AT_ONCE)])
    both = np.isfinite(a)[np.newaxis, :] & np.isfinite(rows)
    count = both.sum(axis=1)
    x = np.where(both, a[np.newaxis, :], 0.0)
    y = np.where(both, rows, 0.0)
    n = np.maximum(count, 1)
    x = np.where(both, x - (x.sum(axis=1) / n)[:, np.newaxis], 0.0)
    y = np.where(both, y - (y.sum(axis=1) / n)[:, np.newaxis], 0.0)
    denominator = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(axis=1) / denominator
    return np.where((count >= min_overlap) & (denominator > 0), r, np.nan)


def _track(times_s, mouth_hp, sound_rows, raw_lags, fps, min_overlap, null_mean: float, null_sd: float) -> list[TrackPoint]:
    """The offset over windows of ``TRACK_WINDOW_S`` every ``TRACK_HOP_S`` (one window for a
    shorter clip). A window's chance level is the clip's, widened by sqrt(clip frames /
    window frames): a correlation over fewer frames scatters more."""
    if not np.isfinite(null_sd):
        return []
    first_s, last_s = float(times_s[0]), float(times_s[-1]) + 1.0 / fps
    span_s = last_s - first_s
    window_s = min(TRACK_WINDOW_S, span_s)
    n_windows = 1 + max(0, math.floor((span_s - window_s) / TRACK_HOP_S + 1e-9))
    n_valid = max(1, int(np.count_nonzero(np.isfinite(mouth_hp))))
    points = []
    for k in range(n_windows):
        start_s = first_s + k * TRACK_HOP_S
        lo, hi = np.searchsorted(times_s, [start_s, start_s + window_s])
        curve = ncc_rows(mouth_hp[lo:hi], sound_rows[:, lo:hi], min(min_overlap, int(hi - lo)))
        widen = math.sqrt(n_valid / max(1, int(np.count_nonzero(np.isfinite(mouth_hp[lo:hi])))))
        peak = _Peak.of(curve, raw_lags / fps, null_mean, widen * null_sd)
        if peak is None:
            continue
        offset_ms = (peak.lag_s + NATURAL_LEAD_S) * 1000.0
        points.append(TrackPoint(start_s, start_s + window_s, _round_half_away(offset_ms * fps / 1000.0), offset_ms, peak.confidence))
    return points


def _drift_ms_per_min(track: list[TrackPoint], fps: float) -> float | None:
    """Slope of a line through the confident track points, in ms a minute, when it moves the
    offset by ``DRIFT_MIN_FRAMES`` or more across them; None for a steady offset."""
    points = [p for p in track if p.confidence >= KEEP_MIN_CONFIDENCE]
    if len(points) < DRIFT_MIN_POINTS:
        return None
    centres_s = np.array([(p.t_start_s + p.t_end_s) / 2 for p in points])
    offsets_ms = np.array([p.offset_ms for p in points])
    if np.ptp(centres_s) <= 0:
        return None
    slope_ms_per_s = float(np.polyfit(centres_s, offsets_ms, 1)[0])
    moved_frames = abs(slope_ms_per_s) * np.ptp(centres_s) * fps / 1000.0
    return slope_ms_per_s * 60.0 if moved_frames >= DRIFT_MIN_FRAMES else None


def _round_half_away(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _median_width(boxes: np.ndarray) -> float | None:
    widths = boxes[:, 2][np.isfinite(boxes[:, 2])]
    return float(np.median(widths)) if len(widths) else None


def _int_box(box: np.ndarray) -> tuple[int, int, int, int] | None:
    if box is None or not np.all(np.isfinite(box)):
        return None
    return tuple(int(round(v)) for v in box)


# --- verdict and words ---------------------------------------------------------------------


def _verdict(offset_frames: int, confidence: float, fps: float, drift: float | None, times_s) -> tuple[bool, list[str]]:
    """LatentSync's keep rule (confidence and |offset|), plus drift, with a sentence per failure."""
    reasons = []
    if confidence < KEEP_MIN_CONFIDENCE:
        reasons.append(f"confidence {confidence:.2f} is below {KEEP_MIN_CONFIDENCE}: the offset is not measured reliably")
    elif abs(offset_frames) > KEEP_MAX_OFFSET_FRAMES:
        reasons.append(f"|offset| {abs(offset_frames)} frames is above {KEEP_MAX_OFFSET_FRAMES} ({KEEP_MAX_OFFSET_FRAMES * 1000 / fps:.0f} ms), LatentSync's limit")
    if drift is not None:
        span_min = (times_s[-1] - times_s[0]) / 60.0
        reasons.append(
            f"the offset drifts by {drift:+.0f} ms a minute ({abs(drift) * span_min:.0f} ms over the clip): a constant shift "
            f"cannot fix it (the sound and the pictures run at different rates)"
        )
    return not reasons, reasons


def offset_words(offset_frames: int, fps: float, drift_ms_per_min: float | None = None, confidence: float | None = None) -> str:
    """The offset in a sentence: ``"the audio is 120 ms late (3 frames): the sound comes after the mouth"``,
    ``"in sync"``, or, with a ``confidence`` below ``KEEP_MIN_CONFIDENCE``, ``"not measured reliably ..."``."""
    drifts = ""
    if drift_ms_per_min is not None:
        way = "later" if drift_ms_per_min < 0 else "earlier"
        drifts = f"it drifts: the audio gets {abs(drift_ms_per_min):.0f} ms {way} every minute"
    if confidence is not None and confidence < KEEP_MIN_CONFIDENCE:
        if drifts:
            return f"no single offset (confidence {confidence:.2f} for one): {drifts}"
        return f"not measured reliably (confidence {confidence:.2f}, below {KEEP_MIN_CONFIDENCE}): the mouth and the voice do not clearly match at any lag"
    if offset_frames == 0:
        text = "in sync"
    else:
        ms = abs(offset_frames) * 1000.0 / fps
        frames = f"{abs(offset_frames)} frame{'s' if abs(offset_frames) != 1 else ''}"
        if offset_frames < 0:
            text = f"the audio is {ms:.0f} ms late ({frames}): the sound comes after the mouth"
        else:
            text = f"the audio is {ms:.0f} ms early ({frames}): the sound comes before the mouth"
    return f"{text}; {drifts}" if drifts else text


def itsoffset_fix(path: str, offset_frames: int, fps: float) -> str:
    """The ffmpeg command that re-muxes ``path`` with its audio delayed by ``offset_frames / fps`` s.

    ``-itsoffset`` shifts the timestamps of the input that follows it, here the second
    reading of the file, whose audio is mapped: a positive value delays the audio. An audio
    late by 3 frames at 25 fps (offset -3) is moved 0.120 s earlier.
    """
    name = os.path.basename(path)
    stem, ext = os.path.splitext(name)
    source, target = shlex.quote(name), shlex.quote(f"{stem}_synced{ext or '.mp4'}")
    return f"ffmpeg -i {source} -itsoffset {offset_frames / fps:.3f} -i {source} -map 0:v -map 1:a -c copy {target}"
