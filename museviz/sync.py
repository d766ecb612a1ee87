"""Measure audio-visual sync without learned weights: mouth darkness against loudness.

SyncNet measures sync with a learned embedding; this module measures it with two signals
anyone can check by eye, on the clock of ``museviz.media`` (seconds since audio sample 0):

- the mouth signal: how dark the mouth region is in each decoded frame (an open mouth
  shows its dark inside). The region is the lower middle of the face OpenCV's Haar cascade
  finds every ``DETECT_EVERY_S`` (smoothed and interpolated between detections), or a
  region the user gives, or ``DEFAULT_ROI`` when no face is found;
- the sound signal: the RMS loudness of one frame's worth of audio centred on each frame's
  real presentation time ``t_i`` (variable frame rate included).

The curve is the normalised cross-correlation (Pearson) of the two, with the sound read at
``t_i - lag / fps`` for lags of -``MAX_LAG_FRAMES``..+``MAX_LAG_FRAMES`` frames of the
nominal rate, after a high-pass (``DETREND_S``) of both. The best lag is the offset in
SyncNet's convention: positive when the audio leads the video (sound early), negative when
it lags (sound late). The confidence is the peak of the curve minus its median, SyncNet's
``median - min`` of distances turned into correlations.

Why darkness and loudness: an open mouth is a dark hole whose area follows the opening,
and the opening follows the loudness, so the two signals are in phase and a lag moves the
peak and nothing else. Frame-difference motion in the same box follows the *change* of the
opening; it also recovered every test shift, against loudness or against its change, but
stood out less: in-sync peak - median 0.54-0.62 against 1.01-1.10 for darkness, with nine
unrelated sentences at 0.12-0.21 against 0.11-0.30 (6 s clips of the synthetic face; lowest
in-sync over highest unrelated 2.6 against 3.4). RMS loudness separated in-sync from
unrelated speech better than its square root, its log or a dB scale (in-sync score over the
highest unrelated one: 3.7, 3.3, 2.6, 2.7), and of the high-passes that remove lighting
drift and box jitter, 2 s costs least (3.7, against 3.8 with none, 3.0 at 1 s, 3.4 at 0.5 s).
Darkness has limits a learned model has not: bright teeth, a beard, a hand or a lighting
change in the mouth box add to or hide the opening.

One pass, bounded memory: frames are decoded one at a time as their Y plane (``iter_luma``,
no colour conversion) and measured at most ``ANALYSIS_MAX_HEIGHT`` tall; the face tracker
keeps only the frames of its last two search intervals (20 frames at 25 fps), whose boxes
wait for the next search.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE
from museviz.media import Media, iter_luma

MAX_LAG_FRAMES = 15  # frames of the nominal rate searched either way: syncnet_python's vshift
KEEP_MAX_OFFSET_FRAMES = 6  # LatentSync keeps a clip when |offset| <= 6 frames
KEEP_MIN_CONFIDENCE = 0.5  # peak - median of the NCC curve; calibration in the docstring of SyncResult

DETECT_EVERY_S = 0.4  # s between Haar searches: every 10th frame at 25 fps (a face moves little in that time)
ANALYSIS_MAX_HEIGHT = 360  # px: frames are measured at most this tall (smaller frames as they are)
SEARCH_MAX_HEIGHT = 180  # px: a whole-frame face search runs on a picture at most this tall
SEARCH_MIN_FACE = 1 / 8  # smallest face a whole-frame search finds, as a fraction of the frame height
HAAR_MIN_PX = 24  # px: the cascade's own window
TRACK_FACE_PX = 48  # px: a tracked face is searched in a crop scaled to make it this wide
TRACK_MARGIN = 1.0  # face widths of margin around the last face box in a tracked search
TRACK_SIZE_RANGE = (0.8, 1.25)  # a tracked face may shrink or grow by these factors between searches; else a whole-frame search
HAAR_SCALE_FACTOR = 1.2
HAAR_MIN_NEIGHBORS = 3
SMOOTH_WEIGHTS = (1.0, 2.0)  # a search's face box is averaged with its two neighbours': (neighbour, itself)
MAX_HOLD_S = 1.0  # s: a face box is kept this long after the last detection that found it
MIN_FACE_FRACTION = 0.2  # below this fraction of searches finding a face, the fallback region is used
FEW_FACES_FRACTION = 0.9  # below this fraction, the result notes how often the face was found

MOUTH_IN_FACE = (0.25, 0.62, 0.5, 0.38)  # x, y, w, h of the mouth box as fractions of the Haar face box
DETREND_S = 2.0  # s: both signals lose their moving average over this span (lighting, head motion)
MIN_OVERLAP_S = 1.0  # s: a lag needs this much of both signals to get a correlation
TRACK_WINDOW_S = 4.0  # s: length of each window of the offset track
TRACK_HOP_S = 1.0  # s: step between windows of the offset track
DRIFT_MIN_FRAMES = 2.0  # the fitted track must move by this many frames over the clip to count as drift
DRIFT_MIN_POINTS = 3  # confident track points needed to fit a drift

Progress = Callable[[float, str], None]
ROI_FACE, ROI_USER, ROI_DEFAULT = "face", "user", "default"
METHOD = "haar-mouth-darkness x rms-loudness ncc"


@dataclass(frozen=True)
class Roi:
    """A region of the frame as fractions of its width (``x``, ``w``) and height (``y``, ``h``), 0..1."""

    x: float
    y: float
    w: float
    h: float

    def box_px(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(x, y, w, h) in pixels of a ``width`` x ``height`` frame, at least 1 px each way."""
        x0, y0 = round(self.x * width), round(self.y * height)
        x1, y1 = round((self.x + self.w) * width), round((self.y + self.h) * height)
        x0, y0 = min(x0, width - 1), min(y0, height - 1)
        return x0, y0, max(1, x1 - x0), max(1, y1 - y0)

    def __str__(self) -> str:
        return f"{self.x:g},{self.y:g},{self.w:g},{self.h:g}"


DEFAULT_ROI = Roi(0.3, 0.55, 0.4, 0.3)  # the lower centre of the frame, where a centred speaker's mouth is


def parse_roi(text: str) -> Roi:
    """Read ``"x,y,w,h"`` (fractions of the frame width and height) as a :class:`Roi`.

    >>> parse_roi("0.3,0.55,0.4,0.3")
    Roi(x=0.3, y=0.55, w=0.4, h=0.3)

    Raises
    ------
    MusevizError
        When ``text`` is not four numbers that describe a region inside the frame.
    """
    example = f"give x,y,w,h as fractions of the frame, such as {DEFAULT_ROI}"
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        raise MusevizError(f"the mouth region {text!r} has {len(parts)} part{'s' if len(parts) != 1 else ''}, not 4: {example}")
    try:
        x, y, w, h = (float(p) for p in parts)
    except ValueError:
        raise MusevizError(f"the mouth region {text!r} is not four numbers: {example}") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise MusevizError(f"the mouth region {text!r} has a number that is not finite: {example}")
    if w <= 0 or h <= 0:
        raise MusevizError(f"the mouth region {text!r} has no area (w and h must be above 0): {example}")
    if x < 0 or y < 0 or x + w > 1 + 1e-9 or y + h > 1 + 1e-9:
        raise MusevizError(f"the mouth region {text!r} reaches outside the frame (x, y >= 0, x + w <= 1, y + h <= 1): {example}")
    return Roi(x, y, w, h)


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


@dataclass(frozen=True, eq=False)
class SyncResult:
    """An audio-visual offset estimate, its evidence and its verdict.

    Sign: SyncNet's. ``offset_frames`` > 0 when the audio leads the video (the sound comes
    before the mouth that makes it), < 0 when the audio is late. ``offset_ms`` is
    ``offset_frames * 1000 / fps`` at the nominal rate.

    Confidence scale: the peak of the normalised cross-correlation minus the curve's median
    (0..2, in practice 0..1.1). SyncNet's confidence is the same idea on another scale: the
    median minus the minimum of embedding distances, where LatentSync keeps a clip at 3 or
    more; the numbers do not convert. ``KEEP_MIN_CONFIDENCE = 0.5`` is calibrated on 6 s
    clips of the synthetic face driven by real speech (espeak-ng): 1.01-1.10 when the audio
    is that speech, shifted by -200..+160 ms; 0.11-0.30 (mean 0.21) when it is one of nine
    unrelated sentences, the chance peaks of two speech envelopes with the same syllable
    rhythm. 0.5 is 1.7 times the highest unrelated score and half the lowest in-sync one.
    The chance level falls with length (about 1 / sqrt(duration)), so the 4 s windows of the
    track score a little higher by chance, and minutes-long clips lower.
    Filmed faces score lower in sync than the drawn mouth: near the threshold, look.

    Arrays: ``lags_frames`` (2 * MAX_LAG_FRAMES + 1,) int and ``curve`` the same length,
    float (NaN where a lag leaves too little overlap); ``mouth_signal`` and
    ``sound_signal`` (n_frames,) float on the frame clock, the signals before the
    high-pass (NaN for frames with no mouth box or not decoded); ``mouth_boxes_px``
    (n_frames, 4) float, the mouth box used for each frame in source pixels (x, y, w, h;
    NaN where none).

    Text: ``words`` the offset in a sentence; ``keep`` LatentSync's rule (confidence >=
    ``KEEP_MIN_CONFIDENCE`` and |offset| <= ``KEEP_MAX_OFFSET_FRAMES``) and no drift, with
    ``reasons`` one sentence per failed condition (empty when kept); ``notes`` what the
    reader should know about the measurement (no face found, the peak at the edge of the
    search); ``fix`` the ffmpeg command that shifts the audio by the offset, None when in
    sync, when the confidence is below ``KEEP_MIN_CONFIDENCE`` (the offset may be chance)
    or when the offset drifts (no constant shift fixes that).
    """

    offset_frames: int
    offset_ms: float
    confidence: float
    method: str
    fps: float
    lags_frames: np.ndarray
    curve: np.ndarray
    track: list[TrackPoint]
    drift_ms_per_min: float | None
    mouth_signal: np.ndarray = field(repr=False)
    sound_signal: np.ndarray = field(repr=False)
    roi_source: str
    roi: Roi | None
    face_box_px: tuple[int, int, int, int] | None
    mouth_box_px: tuple[int, int, int, int] | None
    face_fraction: float | None
    mouth_boxes_px: np.ndarray = field(repr=False)
    words: str
    keep: bool
    reasons: list[str]
    notes: list[str]
    fix: str | None

    def to_dict(self) -> dict:
        """The report's ``sync`` block: plain JSON types, the curve and the track included."""
        return {
            "offset_frames": self.offset_frames,
            "offset_ms": round(self.offset_ms, 1),
            "confidence": round(self.confidence, 3),
            "method": self.method,
            "fps": self.fps,
            "words": self.words,
            "keep": self.keep,
            "keep_rule": {"min_confidence": KEEP_MIN_CONFIDENCE, "max_abs_offset_frames": KEEP_MAX_OFFSET_FRAMES},
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "fix": self.fix,
            "drift_ms_per_min": None if self.drift_ms_per_min is None else round(self.drift_ms_per_min, 1),
            "track": [p.to_dict() for p in self.track],
            "curve": {
                "lags_frames": [int(v) for v in self.lags_frames],
                "ncc": [None if not np.isfinite(v) else round(float(v), 4) for v in self.curve],
            },
            "roi": {
                "source": self.roi_source,
                "region": None if self.roi is None else str(self.roi),
                "face_box_px": None if self.face_box_px is None else list(self.face_box_px),
                "mouth_box_px": None if self.mouth_box_px is None else list(self.mouth_box_px),
                "face_fraction": None if self.face_fraction is None else round(self.face_fraction, 3),
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
        and no face is searched. None: the mouth is found with the Haar cascade, and
        ``DEFAULT_ROI`` is used when no face is found.
    progress : callable, optional
        ``progress(fraction, description)``, called while frames are decoded.

    Returns
    -------
    SyncResult

    Raises
    ------
    MusevizError
        When the clip cannot be measured: no audio, silent audio, or too few decoded frames
        to search ``MAX_LAG_FRAMES`` either way. A measurement that is merely weak is
        returned, with a low confidence and ``keep`` False.
    """
    report = progress or (lambda _f, _d: None)
    name = os.path.basename(media.path)
    video = media.video
    if not media.audio.present or len(media.audio_16k) == 0:
        raise MusevizError(f"{name} has no audio: sync needs sound to compare the mouth with")
    if not np.any(media.audio_16k):
        raise MusevizError(f"{name} has silent audio: sync needs sound to compare the mouth with")
    min_frames = 2 * MAX_LAG_FRAMES + 1
    if video.n_frames < min_frames:
        raise MusevizError(f"{name} has {video.n_frames} frames: sync needs at least {min_frames} to search {MAX_LAG_FRAMES} frames either way")

    fps = video.fps
    times_s = video.frame_times_s
    mouth = _measure_mouth(media, roi, report)
    if np.count_nonzero(np.isfinite(mouth.signal)) < min_frames:
        raise MusevizError(f"{name}: only {np.count_nonzero(np.isfinite(mouth.signal))} of {video.n_frames} frames could be decoded: sync needs at least {min_frames}")
    report(0.9, "Correlating the mouth with the loudness")

    lags = np.arange(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1)
    shifted = shifted_loudness(media.audio_16k, times_s, lags, fps)
    sound = shifted[MAX_LAG_FRAMES]
    detrend_frames = max(3, round(DETREND_S * fps))
    mouth_hp = _highpass(mouth.signal, detrend_frames)
    shifted_hp = np.stack([_highpass(row, detrend_frames) for row in shifted])
    min_overlap = max(min_frames, round(MIN_OVERLAP_S * fps))

    curve = ncc_curve(mouth_hp, shifted_hp, min_overlap)
    offset_frames, confidence = _peak(lags, curve)
    track = _track(times_s, mouth_hp, shifted_hp, lags, fps, min_overlap)
    drift = _drift_ms_per_min(track, fps)
    offset_ms = offset_frames * 1000.0 / fps

    notes = list(mouth.notes)
    if abs(offset_frames) == MAX_LAG_FRAMES:
        notes.append(f"the best lag is at the edge of the search ({MAX_LAG_FRAMES} frames): the real offset may be larger")
    keep, reasons = _verdict(offset_frames, confidence, fps, drift, times_s)
    words = offset_words(offset_frames, fps, drift, confidence)
    fixable = offset_frames != 0 and drift is None and confidence >= KEEP_MIN_CONFIDENCE
    fix = itsoffset_fix(media.path, offset_frames, fps) if fixable else None
    report(1.0, "Sync measured")
    return SyncResult(
        offset_frames=offset_frames,
        offset_ms=offset_ms,
        confidence=confidence,
        method=METHOD,
        fps=fps,
        lags_frames=lags,
        curve=curve,
        track=track,
        drift_ms_per_min=drift,
        mouth_signal=mouth.signal,
        sound_signal=sound,
        roi_source=mouth.source,
        roi=mouth.roi,
        face_box_px=mouth.face_box_px,
        mouth_box_px=mouth.mouth_box_px,
        face_fraction=mouth.face_fraction,
        mouth_boxes_px=mouth.boxes_px,
        words=words,
        keep=keep,
        reasons=reasons,
        notes=notes,
        fix=fix,
    )


# --- sound ---------------------------------------------------------------------------------


def _cumulative_energy(audio: np.ndarray) -> np.ndarray:
    """(N + 1,) float64: element n is the sum of the first n squared samples."""
    return np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])


def _rms(energy: np.ndarray, times_s: np.ndarray, window_s: float) -> np.ndarray:
    """(T,) RMS amplitude over ``window_s`` centred on each of ``times_s``, from the audio's
    cumulative ``energy``; NaN where the window is not entirely inside the audio, so that a
    shift past either end is left out of a correlation rather than read as silence."""
    window = max(1, round(window_s * SAMPLE_RATE))
    n_samples = len(energy) - 1
    starts = np.round(times_s * SAMPLE_RATE - window / 2).astype(np.int64)
    inside = (starts >= 0) & (starts + window <= n_samples)
    first = np.clip(starts, 0, n_samples)
    last = np.clip(starts + window, 0, n_samples)
    rms = np.sqrt(np.maximum(energy[last] - energy[first], 0.0) / window)
    return np.where(inside, rms, np.nan)


def shifted_loudness(audio: np.ndarray, times_s: np.ndarray, lags_frames: np.ndarray, fps: float) -> np.ndarray:
    """The loudness each frame is compared with at each lag.

    Row k is the RMS of ``audio`` over one frame (``1 / fps``) centred on
    ``t_i - lags_frames[k] / fps``: frame i paired with the sound ``lags_frames[k]`` frames earlier, so a
    positive lag matches an audio that leads the video (SyncNet's sign).

    Returns
    -------
    np.ndarray, shape (n_lags, n_frames), float64
    """
    energy = _cumulative_energy(audio)
    times_s = np.asarray(times_s, dtype=float)
    return np.stack([_rms(energy, times_s - lag / fps, 1.0 / fps) for lag in lags_frames])


# --- correlation ---------------------------------------------------------------------------


def _highpass(signal: np.ndarray, span: int) -> np.ndarray:
    """``signal`` minus its centred moving average over ``span`` frames; NaNs are skipped
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


def ncc_curve(mouth: np.ndarray, shifted_sound: np.ndarray, min_overlap: int) -> np.ndarray:
    """Pearson correlation of ``mouth`` (n_frames,) with each row of ``shifted_sound``
    (n_lags, n_frames), over the frames where both are finite.

    Returns (n_lags,) float64 in [-1, 1]; NaN for a lag with fewer than ``min_overlap``
    such frames or a constant signal.
    """
    both = np.isfinite(mouth)[np.newaxis, :] & np.isfinite(shifted_sound)
    count = both.sum(axis=1)
    a = np.where(both, mouth[np.newaxis, :], 0.0)
    b = np.where(both, shifted_sound, 0.0)
    n = np.maximum(count, 1)
    a = np.where(both, a - (a.sum(axis=1) / n)[:, np.newaxis], 0.0)
    b = np.where(both, b - (b.sum(axis=1) / n)[:, np.newaxis], 0.0)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=1) / denominator
    return np.where((count >= min_overlap) & (denominator > 0), r, np.nan)


def _peak(lags: np.ndarray, curve: np.ndarray) -> tuple[int, float]:
    """(best lag, peak - median of the curve); (0, 0.0) when no lag has a correlation."""
    if not np.any(np.isfinite(curve)):
        return 0, 0.0
    best = int(np.nanargmax(curve))
    return int(lags[best]), float(curve[best] - np.nanmedian(curve))


def _track(times_s, mouth_hp, shifted_hp, lags, fps, min_overlap) -> list[TrackPoint]:
    """The offset over windows of ``TRACK_WINDOW_S`` every ``TRACK_HOP_S`` (one window for a shorter clip)."""
    first_s, last_s = float(times_s[0]), float(times_s[-1]) + 1.0 / fps
    span_s = last_s - first_s
    window_s = min(TRACK_WINDOW_S, span_s)
    n_windows = 1 + max(0, math.floor((span_s - window_s) / TRACK_HOP_S + 1e-9))
    points = []
    for k in range(n_windows):
        start_s = first_s + k * TRACK_HOP_S
        lo, hi = np.searchsorted(times_s, [start_s, start_s + window_s])  # frame times are sorted
        curve = ncc_curve(mouth_hp[lo:hi], shifted_hp[:, lo:hi], min(min_overlap, int(hi - lo)))
        offset, confidence = _peak(lags, curve)
        points.append(TrackPoint(start_s, start_s + window_s, offset, offset * 1000.0 / fps, confidence))
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


# --- verdict and words ---------------------------------------------------------------------


def _verdict(offset_frames: int, confidence: float, fps: float, drift: float | None, times_s) -> tuple[bool, list[str]]:
    """LatentSync's keep rule (confidence and |offset|), plus drift, with a sentence per failure."""
    reasons = []
    if confidence < KEEP_MIN_CONFIDENCE:
        reasons.append(f"confidence {confidence:.2f} is below {KEEP_MIN_CONFIDENCE}: the mouth and the sound do not clearly match at any lag")
    if abs(offset_frames) > KEEP_MAX_OFFSET_FRAMES:
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
    ``"in sync"``; the drift and a confidence below ``KEEP_MIN_CONFIDENCE`` are added when given."""
    if offset_frames == 0:
        text = "in sync"
    else:
        ms = abs(offset_frames) * 1000.0 / fps
        frames = f"{abs(offset_frames)} frame{'s' if abs(offset_frames) != 1 else ''}"
        if offset_frames < 0:
            text = f"the audio is {ms:.0f} ms late ({frames}): the sound comes after the mouth"
        else:
            text = f"the audio is {ms:.0f} ms early ({frames}): the sound comes before the mouth"
    if drift_ms_per_min is not None:
        way = "later" if drift_ms_per_min < 0 else "earlier"
        text += f"; it drifts: the audio gets {abs(drift_ms_per_min):.0f} ms {way} every minute"
    if confidence is not None and confidence < KEEP_MIN_CONFIDENCE:
        text += f"; low confidence ({confidence:.2f} < {KEEP_MIN_CONFIDENCE}): the sound may not be this mouth's"
    return text


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


# --- mouth ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Mouth:
    """The mouth signal of a clip and where it was measured (boxes in source pixels)."""

    signal: np.ndarray
    boxes_px: np.ndarray
    source: str
    roi: Roi | None
    face_box_px: tuple[int, int, int, int] | None
    mouth_box_px: tuple[int, int, int, int] | None
    face_fraction: float | None
    notes: list[str]


def _measure_mouth(media: Media, roi: Roi | None, report: Progress) -> _Mouth:
    """Decode every frame once; measure the darkness of the region (``roi`` or ``DEFAULT_ROI``)
    and, when no ``roi`` is given, of the mouth box under the tracked face."""
    video = media.video
    n_frames = video.n_frames
    height = video.display_size[1]  # frames arrive upright
    scale = min(1.0, ANALYSIS_MAX_HEIGHT / height) if height else 1.0
    region = roi or DEFAULT_ROI
    region_signal = np.full(n_frames, np.nan)
    region_box = None
    tracker = None if roi is not None else _FaceTracker(video.frame_times_s)
    step = max(1, n_frames // 20)
    for frame_idx, luma in iter_luma(media):
        gray = _shrunk(luma, scale)
        if region_box is None:
            region_box = region.box_px(gray.shape[1], gray.shape[0])
        region_signal[frame_idx] = darkness(gray, region_box)
        if tracker is not None:
            tracker.add(frame_idx, gray)
        if frame_idx % step == 0:
            report(0.9 * frame_idx / n_frames, "Measuring the mouth in each frame")

    region_boxes = np.tile(np.array(region_box if region_box else (np.nan,) * 4, float) / scale, (n_frames, 1))
    region_box_px = _int_box(region_boxes[0]) if region_box else None
    if tracker is None:
        return _Mouth(region_signal, region_boxes, ROI_USER, roi, None, region_box_px, None, [])
    tracker.finish()
    fraction = tracker.face_fraction
    if fraction >= MIN_FACE_FRACTION and np.count_nonzero(np.isfinite(tracker.signal)) >= 2 * MAX_LAG_FRAMES + 1:
        notes = []
        if fraction < FEW_FACES_FRACTION:
            notes.append(f"a face was found in {fraction:.0%} of the searched frames: frames far from a found face are left out")
        face_box = _int_box(np.nanmedian(tracker.face_boxes, axis=0) / scale)
        mouth_boxes = tracker.mouth_boxes / scale
        return _Mouth(tracker.signal, mouth_boxes, ROI_FACE, None, face_box, _int_box(np.nanmedian(mouth_boxes, axis=0)), fraction, notes)
    note = (
        f"no face found (in {fraction:.0%} of {tracker.n_searches} searched frames): the mouth was measured in the default "
        f"region, the lower centre of the frame ({DEFAULT_ROI} as x,y,w,h fractions); set the region to where the mouth is"
    )
    return _Mouth(region_signal, region_boxes, ROI_DEFAULT, DEFAULT_ROI, None, region_box_px, fraction, [note])


def _int_box(box: np.ndarray) -> tuple[int, int, int, int] | None:
    if box is None or not np.all(np.isfinite(box)):
        return None
    return tuple(int(round(v)) for v in box)


def _shrunk(gray: np.ndarray, scale: float) -> np.ndarray:
    """``gray`` shrunk by ``scale`` (area averaging)."""
    import cv2

    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray


def darkness(gray: np.ndarray, box) -> float:
    """255 minus the mean grey level inside ``box`` (x, y, w, h px, clipped to the picture); NaN when empty."""
    x, y, w, h = (int(round(v)) for v in box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(gray.shape[1], x + w), min(gray.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return math.nan
    return 255.0 - float(gray[y0:y1, x0:x1].mean())


def mouth_box(face_box: np.ndarray) -> np.ndarray:
    """(4,) mouth box (x, y, w, h) inside a face box, by ``MOUTH_IN_FACE``."""
    fx, fy, fw, fh = MOUTH_IN_FACE
    x, y, w, h = face_box
    return np.array([x + fx * w, y + fy * h, fw * w, fh * h])


class _FaceTracker:
    """Haar face search every ``DETECT_EVERY_S`` on the frames it is fed, and the mouth
    darkness of every frame.

    A search's face box is smoothed with its neighbours (weights ``SMOOTH_WEIGHTS`` over the
    previous, this and the next search: centred, so a moving head is not followed late),
    and a frame's box is interpolated between the two searches around it. So a frame is
    measured once the search after the next one has run: the tracker holds at most two
    search intervals of frames.
    """

    def __init__(self, frame_times_s: np.ndarray):
        import cv2

        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if self._cascade.empty():
            raise MusevizError("OpenCV's frontal-face Haar cascade could not be loaded: reinstall opencv-python-headless")
        self._times_s = frame_times_s
        n_frames = len(frame_times_s)
        self.signal = np.full(n_frames, np.nan)
        self.mouth_boxes = np.full((n_frames, 4), np.nan)
        self.face_boxes = np.full((n_frames, 4), np.nan)
        self.n_searches = 0
        self._n_found = 0
        self._next_search_s = -math.inf
        self._searches: list[tuple[int, float, np.ndarray | None]] = []  # the last 3: (frame_idx, t_s, box found)
        self._last_found: tuple[float, np.ndarray] | None = None  # (t_s, box) of the latest face found
        self._anchor: tuple[int, np.ndarray | None] | None = None  # (frame_idx, smoothed box) of the last settled search
        self._settled_found_s = -math.inf  # time of the latest settled search that found a face
        self._pending: list[tuple[int, np.ndarray]] = []

    @property
    def face_fraction(self) -> float:
        return self._n_found / self.n_searches if self.n_searches else 0.0

    def add(self, frame_idx: int, gray: np.ndarray) -> None:
        t_s = self._times_s[frame_idx]
        self._pending.append((frame_idx, gray))
        if t_s + 1e-9 < self._next_search_s:
            return
        self._next_search_s = t_s + DETECT_EVERY_S
        self.n_searches += 1
        found = self._search(gray, t_s)
        if found is not None:
            self._n_found += 1
            self._last_found = (t_s, found)
        self._searches = (self._searches + [(frame_idx, t_s, found)])[-3:]
        if len(self._searches) >= 2:
            self._settle(self._searches[-2], self._searches[-3:])

    def finish(self) -> None:
        """Settle the last search and measure the frames after it under its box."""
        if self._searches:
            self._settle(self._searches[-1], self._searches[-2:])
        if self._anchor is not None:
            self._measure_until(math.inf, (math.inf, self._anchor[1]))

    def _settle(self, search, neighbours) -> None:
        """Fix the smoothed box of ``search`` and measure the frames up to it."""
        frame_idx, t_s, found = search
        weights = [SMOOTH_WEIGHTS[1] if s is search else SMOOTH_WEIGHTS[0] for s in neighbours]
        boxes = [(w, s[2]) for w, s in zip(weights, neighbours) if s[2] is not None]
        if boxes:
            box = sum(w * b for w, b in boxes) / sum(w for w, _ in boxes)
        elif self._anchor is not None and self._anchor[1] is not None and t_s - self._settled_found_s <= MAX_HOLD_S:
            box = self._anchor[1]
        else:
            box = None
        if found is not None:
            self._settled_found_s = t_s
        self._measure_until(frame_idx, (frame_idx, box))
        self._anchor = (frame_idx, box)

    def _measure_until(self, last_idx: float, after) -> None:
        """Measure the pending frames up to ``last_idx`` under the box interpolated between
        the last anchor and ``after``."""
        keep = []
        for frame_idx, gray in self._pending:
            if frame_idx > last_idx:
                keep.append((frame_idx, gray))
                continue
            box = _between(self._anchor, after, frame_idx)
            if box is None:
                continue
            mouth = mouth_box(box)
            self.face_boxes[frame_idx] = box
            self.mouth_boxes[frame_idx] = mouth
            self.signal[frame_idx] = darkness(gray, mouth)
        self._pending = keep

    def _search(self, gray: np.ndarray, t_s: float) -> np.ndarray | None:
        """The face box (x, y, w, h analysis px) in ``gray``: near the last face found when it
        is recent, else the largest face in the whole picture; None when none is found."""
        if self._last_found is not None and t_s - self._last_found[0] <= MAX_HOLD_S:
            found = self._search_near(gray, self._last_found[1])
            if found is not None:
                return found
        return self._search_whole(gray)

    def _search_whole(self, gray: np.ndarray) -> np.ndarray | None:
        cv2 = self._cv2
        shrink = min(1.0, SEARCH_MAX_HEIGHT / gray.shape[0])
        small = gray if shrink == 1.0 else cv2.resize(gray, (max(1, round(gray.shape[1] * shrink)), SEARCH_MAX_HEIGHT), interpolation=cv2.INTER_AREA)
        min_px = max(HAAR_MIN_PX, round(small.shape[0] * SEARCH_MIN_FACE))
        faces = self._cascade.detectMultiScale(small, HAAR_SCALE_FACTOR, HAAR_MIN_NEIGHBORS, minSize=(min_px, min_px))
        if len(faces) == 0:
            return None
        largest = max(faces, key=lambda f: f[2] * f[3])
        return np.asarray(largest, float) / shrink

    def _search_near(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        cv2 = self._cv2
        x, y, w, h = box
        margin = TRACK_MARGIN * max(w, h)
        x0, y0 = int(max(0, x - margin)), int(max(0, y - margin))
        x1, y1 = int(min(gray.shape[1], x + w + margin)), int(min(gray.shape[0], y + h + margin))
        if x1 - x0 < HAAR_MIN_PX or y1 - y0 < HAAR_MIN_PX:
            return None
        shrink = min(1.0, TRACK_FACE_PX / w)
        crop = gray[y0:y1, x0:x1]
        if shrink < 1.0:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * shrink)), max(1, round(crop.shape[0] * shrink))), interpolation=cv2.INTER_AREA)
        face_px = w * shrink
        lo = max(HAAR_MIN_PX, int(face_px * TRACK_SIZE_RANGE[0]))
        hi = max(lo + 1, int(math.ceil(face_px * TRACK_SIZE_RANGE[1])))
        faces = self._cascade.detectMultiScale(crop, HAAR_SCALE_FACTOR, HAAR_MIN_NEIGHBORS, minSize=(lo, lo), maxSize=(hi, hi))
        if len(faces) == 0:
            return None
        centre = np.array([x + w / 2, y + h / 2])
        candidates = [np.asarray(f, float) / shrink + np.array([x0, y0, 0, 0]) for f in faces]
        return min(candidates, key=lambda f: np.hypot(*(f[:2] + f[2:] / 2 - centre)))


def _between(before, after, frame_idx: int) -> np.ndarray | None:
    """The face box at ``frame_idx`` between two searches ``(frame_idx, box or None)``:
    linear between two boxes, the one box when only one search found a face."""
    box_before = None if before is None else before[1]
    box_after = after[1]
    if box_before is None or box_after is None:
        return box_after if box_after is not None else box_before
    if not math.isfinite(after[0]) or after[0] == before[0]:
        return box_after
    weight = (frame_idx - before[0]) / (after[0] - before[0])
    return (1 - weight) * box_before + weight * box_after
