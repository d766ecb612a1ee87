"""Fix a clip, not only diagnose it: a constant frame rate, the audio in sync, matching lengths.

What the ffmpeg commands in the checks do, done with PyAV, and proved: ``fix_clip`` writes
the fixed clip, re-analyses what it wrote (probe, checks, the sync estimate) and reports
each check it acts on before and after.

The output's clock starts at the source's first frame:

- video: output frame k, at ``k / fps`` s, shows the source frame on screen at the first
  frame's time plus ``k / fps``: the last frame whose presentation time is not after it
  (ffmpeg's ``fps=FPS:round=up`` picks the same frames). ``round(duration * fps)`` frames,
  so the video lasts as long as the source's within half a frame, every timestamp exactly
  ``k / fps``. H.264 at crf 18 with the preset ffmpeg's ``-c:v libx264 -crf 18`` uses.
- audio: sample 0 is heard with frame 0, so a stream-start offset is gone (the audio before
  the first frame cut, or silence put in front of an audio track that starts late); then
  the samples move by the offset to remove. The offset is in SyncNet's sign, as museviz
  measures it (positive: the audio is early): an offset of k frames moves the audio
  ``k / fps`` s later, ``fps`` the source's; ``auto`` moves it by the estimate's offset in
  ms (measured to a quarter frame), not rounded to whole frames, so that what is left is
  below a frame at any output rate, and leaves it alone when the estimate is 0 frames. The audio keeps its length, or with ``trim``
  is cut or padded with silence to the video's. AAC at the source's sample rate (or the
  one asked), or the source's packets copied when nothing about the audio changes.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from museviz.checks import DEFAULT_DURATION_TOLERANCE_S, TARGET_FPS, Check, sync_check
from museviz.errors import MusevizError
from museviz.lse import CROP_FACE, LseResult
from museviz.media import Limits, Media, read_media
from museviz.mouth import Roi
from museviz.remux import COPYABLE_AUDIO_CODECS, MP4_OPTIONS, AudioTrack, decode_packet, written
from museviz.sync import SyncResult

VIDEO_CODEC = "libx264"
VIDEO_OPTIONS = {"crf": "18", "preset": "medium"}  # ffmpeg's -c:v libx264 -crf 18
VIDEO_PIX_FMT = "yuv420p"  # what players and browsers decode
ODD_SIZE_PIX_FMT = "yuv444p"  # 4:2:0 needs even sizes: an odd-sized picture keeps its size in 4:4:4
START_TOLERANCE_S = 0.001  # streams starting this close to 0 and to each other start together

MIN_FPS, MAX_FPS = 1, 240  # output rates accepted
FPS_MAX_DENOMINATOR = 1001  # a rate given as a decimal is the nearest n / d, d <= 1001
NTSC_RATES = {"23.976": Fraction(24000, 1001), "29.97": Fraction(30000, 1001), "59.94": Fraction(60000, 1001)}
AAC_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)  # Hz

AUTO = "auto"
OFFSET_SYNTAX = re.compile(r"^(?P<value>[+-]?\d+(?:\.\d+)?)(?P<unit>f|ms)?$")
OFFSET_HELP = "auto (the measured offset), a whole number of frames as -3f, or milliseconds as 120ms (SyncNet's sign: negative = the audio is late)"

# The checks the fix acts on, in the order the before -> after table shows them.
FIX_CHECK_IDS = ("fps-not-25", "vfr", "duration-mismatch", "training-window-short", "stream-start-offset", "sync-offset")

Progress = Callable[[float, str], None]


# --- what the user asks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Offset:
    """The audio-visual offset the fix removes, SyncNet's sign: ``auto`` (measured), or
    ``value`` in ``unit`` ``"f"`` (frames of the source's rate) or ``"ms"``."""

    unit: str
    value: float = 0.0

    @property
    def auto(self) -> bool:
        return self.unit == AUTO

    def __str__(self) -> str:
        if self.auto:
            return AUTO
        return f"{self.value:+g}{self.unit}" if self.value else "0"


def parse_offset(text: str) -> Offset:
    """``"auto"``, ``"0"``, ``"-3f"`` (frames) or ``"120ms"``; anything else is a ``MusevizError``.

    A number without a unit is refused unless it is 0: ``-3`` could mean frames or
    milliseconds, and a wrong guess moves the audio by the wrong amount.
    """
    text = "".join(str(text).split()).lower()
    if text == AUTO:
        return Offset(AUTO)
    match = OFFSET_SYNTAX.match(text)
    if match is None:
        raise MusevizError(f"offset {text!r} is not one museviz reads: give {OFFSET_HELP}")
    value, unit = float(match["value"]), match["unit"]
    if unit is None and value != 0:
        raise MusevizError(f"offset {text!r} has no unit: write {text}f for frames or {text}ms for milliseconds")
    if unit == "f" and value != int(value):
        raise MusevizError(f"offset {text!r} is not a whole number of frames: give milliseconds instead ({value * 1000 / TARGET_FPS:g}ms at {TARGET_FPS} fps)")
    return Offset(unit or "f", value)


def parse_fps(text: str) -> Fraction | None:
    """``"25"``, ``"30000/1001"``, ``"29.97"`` (the NTSC rate, as 23.976 and 59.94 are), or
    ``"source"`` (None: the source's average rate); a ``MusevizError`` otherwise."""
    text = str(text).strip().lower()
    if text == "source":
        return None
    try:
        fps = NTSC_RATES.get(text) or Fraction(text).limit_denominator(FPS_MAX_DENOMINATOR)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise MusevizError(f"frame rate {text!r} is not one museviz reads: give 25, source, or a rate such as 30 or 30000/1001") from None
    if not MIN_FPS <= fps <= MAX_FPS:
        raise MusevizError(f"frame rate {text} is outside {MIN_FPS} to {MAX_FPS} fps: give a rate in that range")
    return fps


def parse_sample_rate(text: str | int | None) -> int | None:
    """An AAC sample rate in Hz; ``None``, ``""`` or ``"keep"``: the source's."""
    if text is None or str(text).strip().lower() in ("", "keep"):
        return None
    try:
        rate = int(str(text).strip())
    except ValueError:
        rate = None
    if rate not in AAC_SAMPLE_RATES:
        raise MusevizError(f"sample rate {text!r} is not one AAC stores: give one of {', '.join(map(str, AAC_SAMPLE_RATES))} Hz, or keep")
    return rate


@dataclass(frozen=True)
class FixOptions:
    """What to fix. ``fps`` None keeps the source's average rate (made constant);
    ``sample_rate`` None keeps the audio's; ``roi`` is the sync estimate's mouth region."""

    offset: Offset = Offset(AUTO)
    fps: Fraction | None = Fraction(TARGET_FPS)
    trim: bool = False
    sample_rate: int | None = None
    roi: Roi | None = None
    duration_tolerance_s: float = DEFAULT_DURATION_TOLERANCE_S
    limits: Limits = Limits()


# --- what museviz finds on a clip -----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Findings:
    """A clip as the fix sees it: probed, checked (``checks`` ends with ``sync-offset``), its
    offset estimated (``sync``, or None with ``sync_error`` saying why), and LSE when asked
    for (``lse``, or None with ``lse_error``)."""

    media: Media
    checks: list[Check]
    sync: SyncResult | None
    sync_error: str | None
    lse: LseResult | None = None
    lse_error: str | None = None

    def check(self, check_id: str) -> Check:
        return next(c for c in self.checks if c.id == check_id)


def measure(path: str | os.PathLike, roi: Roi | None = None, duration_tolerance_s: float = DEFAULT_DURATION_TOLERANCE_S,
            limits: Limits = Limits(), progress: Progress | None = None) -> Findings:
    """Probe ``path``, run the checks and estimate its offset (when it has sound)."""
    media = read_media(path, limits)
    return findings_of(media, roi, duration_tolerance_s, progress)


def findings_of(media: Media, roi: Roi | None = None, duration_tolerance_s: float = DEFAULT_DURATION_TOLERANCE_S,
                progress: Progress | None = None, syncnet: str | None = None, lse_crop: str = CROP_FACE) -> Findings:
    """The checks and the offset estimate of a probed clip, and LSE with the ``syncnet``
    weights given, all in one pass over its pictures (``museviz.analysis.measure_pictures``)."""
    from museviz.analysis import Options, measure_pictures, probe_clip

    options = Options(duration_tolerance_s=duration_tolerance_s, roi=roi, syncnet_checkpoint=syncnet, syncnet_download=False,
                      lse_crop=lse_crop, lse=syncnet is not None)
    checks = probe_clip(media, options).checks
    if not (media.audio.present and media.audio.n_samples_16k):
        error = "the clip has no audio"
        return Findings(media, [*checks, sync_check(None, error, media.path)], None, error)
    report = progress or (lambda _f, _d: None)
    measured = measure_pictures(media, options, progress=lambda f: report(f, "Measuring the mouth in each frame"))
    sync, error = measured.sync, measured.sync_error
    return Findings(media, [*checks, sync_check(sync, error, media.path)], sync, error, measured.lse, measured.lse_error)


# --- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Plan:
    """How the fixed clip is made from the source.

    ``source_frames`` (n_frames,) int: the source frame (an index into the source's
    ``frame_times_s``) each output frame shows. ``offset_s``: the offset removed, in s
    (SyncNet's sign), ``offset_frames`` the same in source frames when given or measured
    so; ``offset_measured`` whether it is the estimate's. ``audio_shift_s``: seconds the
    audio samples move later against the source's first sample (the offset minus the
    stream-start offset); ``audio_length_s`` the re-timed audio's length (the video's when
    ``trimmed``, else the source audio's) and ``audio_start_s`` 0, both None when the audio
    keeps its samples and timestamps.
    """

    fps: Fraction
    source_frames: np.ndarray
    offset_s: float
    offset_frames: int | None
    offset_measured: bool
    audio: bool
    audio_shift_s: float
    audio_length_s: float | None
    audio_start_s: float | None
    trimmed: bool
    sample_rate: int | None

    @property
    def n_frames(self) -> int:
        return len(self.source_frames)


def plan_fix(before: Findings, options: FixOptions) -> Plan:
    """The plan for ``before``'s clip, or a ``MusevizError`` saying in one sentence why the
    fix cannot be made: no audio to shift or trim, an offset that is not measured reliably
    (``auto``), or one beyond the clip."""
    media = before.media
    video, audio = media.video, media.audio
    name = os.path.basename(media.path)
    has_audio = audio.present and audio.n_samples_16k > 0
    offset = options.offset
    if not has_audio and (offset.auto or offset.value):
        raise MusevizError(f"{name} has no audio to shift: set the offset to 0 to fix only its pictures")
    if not has_audio and options.trim:
        raise MusevizError(f"{name} has no audio to trim: fix it without trimming")
    offset_s, offset_frames = _offset_seconds(before, offset)
    if has_audio and abs(offset_s) >= min(video.duration_s, audio.duration_s):
        raise MusevizError(
            f"an offset of {offset} ({offset_s * 1000:+.0f} ms) is beyond {name}, which has {video.duration_s:.2f} s of video and "
            f"{audio.duration_s:.2f} s of audio: no sound would stay under the pictures"
        )
    fps = options.fps or video.fps_fraction.limit_denominator(FPS_MAX_DENOMINATOR)
    n_frames = max(1, round(video.duration_s * fps))
    start_offset_s = video.start_offset_s
    audio_starts_at_zero = abs(float(video.frame_pts[0] * video.time_base) - start_offset_s) <= START_TOLERANCE_S
    retimed = offset_s != 0 or abs(start_offset_s) > START_TOLERANCE_S or not audio_starts_at_zero or options.trim or options.sample_rate is not None
    return Plan(
        fps=fps,
        source_frames=source_frames(video.frame_pts, video.time_base, fps, n_frames),
        offset_s=offset_s,
        offset_frames=offset_frames,
        offset_measured=offset.auto,
        audio=has_audio,
        audio_shift_s=offset_s - start_offset_s if retimed else 0.0,
        audio_length_s=float(n_frames / fps) if options.trim else audio.duration_s if retimed else None,
        audio_start_s=0.0 if retimed else None,
        trimmed=options.trim,
        sample_rate=options.sample_rate,
    )


def _offset_seconds(before: Findings, offset: Offset) -> tuple[float, int | None]:
    """The offset to remove in s (SyncNet's sign), and in source frames when given in frames
    or measured (then rounded; the seconds are the estimate's, to a quarter frame)."""
    fps = before.media.video.fps
    name = os.path.basename(before.media.path)
    if not offset.auto:
        if offset.unit == "f":
            return offset.value / fps, int(offset.value)
        return offset.value / 1000.0, None
    sync = before.sync
    instead = "give the offset yourself (-3f, 120ms) or 0 to leave the audio where it is"
    if sync is None:
        raise MusevizError(f"{name}: the offset cannot be measured ({before.sync_error}); {instead}")
    if not sync.reliable:
        why = "; ".join(sync.notes or sync.reasons)
        raise MusevizError(f"{name}: the offset is not measured reliably (confidence {sync.confidence:.2f}{': ' + why if why else ''}); {instead}")
    if sync.drift_ms_per_min is not None:
        raise MusevizError(f"{name}: {sync.words}, and one shift cannot fix a drift; {instead}")
    # In sync to the frame, the quarter-frame remainder is within the estimate's noise: nothing moves.
    return (sync.offset_ms / 1000.0 if sync.offset_frames else 0.0), sync.offset_frames


def source_frames(frame_pts: np.ndarray, time_base: Fraction, fps: Fraction, n_frames: int) -> np.ndarray:
    """(n_frames,) int: for output frame k, the source frame on screen at ``k / fps`` s after
    the first one: the last whose presentation time is not after it.

    Exact: the comparison ``(pts_i - pts_0) * time_base <= k / fps`` is made in integers,
    so a frame shown exactly at an output instant is the one picked.
    """
    ticks = [int(p) - int(frame_pts[0]) for p in frame_pts]
    scale_frames = time_base.numerator * fps.numerator
    scale_slots = time_base.denominator * fps.denominator
    frames = np.array([t * scale_frames for t in ticks], dtype=object)
    slots = np.array([k * scale_slots for k in range(n_frames)], dtype=object)
    return (np.searchsorted(frames, slots, side="right") - 1).astype(np.int64)


# --- writing -------------------------------------------------------------------------------


def write_fixed(media: Media, plan: Plan, out_path: str | os.PathLike, progress: Progress | None = None) -> Path:
    """Write the fixed clip to ``out_path`` (mp4) in one pass over the source: each decoded
    frame is encoded once for every output frame that shows it, the audio re-timed on the
    way. Written under a temporary name and renamed, so a failure leaves nothing.

    Raises
    ------
    MusevizError
        When the source cannot be read again or the output cannot be written.
    """
    out_path = Path(out_path)
    report = progress or (lambda _f, _d: None)
    try:
        source = av.open(media.path)
    except (av.FFmpegError, OSError) as exc:
        raise MusevizError(f"{os.path.basename(media.path)} cannot be read again ({getattr(exc, 'strerror', None) or exc})") from None
    pts_to_idx = {int(p): i for i, p in enumerate(media.video.frame_pts)}
    with source, written(out_path) as part:
        with av.open(str(part), "w", format="mp4", options=MP4_OPTIONS) as output:
            in_video = source.streams.video[0]
            in_video.thread_type = "AUTO"
            in_audio = source.streams.audio[0] if plan.audio else None
            video = VideoTrack(output, _video_stream(output, media, plan.fps), plan.source_frames, report)
            audio = AudioTrack(output, in_audio, plan.audio_shift_s, plan.sample_rate, plan.audio_length_s, plan.audio_start_s) if in_audio else None
            decoded = 0
            for packet in source.demux([in_video] + ([in_audio] if in_audio else [])):
                if packet.stream.type == "audio":
                    audio.feed(packet)
                    continue
                for frame in decode_packet(packet):
                    frame_idx = pts_to_idx.get(frame.pts, decoded if frame.pts is None else None)
                    decoded += 1
                    if frame_idx is not None:
                        video.add(frame_idx, frame)
            if not video.finish():
                raise MusevizError(f"{os.path.basename(media.path)} has no frame that decodes: nothing to fix")
            if audio is not None:
                audio.finish()
    return out_path


class VideoTrack:
    """Source frames, decoded in presentation order, into the output: each one encoded once
    for every output frame that shows it (``shown[k]``: the source frame output frame k
    shows), with pts k in the stream's time base ``1 / fps``. A source frame that never
    decodes is stood in for by the one before it."""

    def __init__(self, output, stream, shown: np.ndarray, progress: Progress):
        self.output, self.stream, self.shown, self.progress = output, stream, shown, progress
        self.next_out = 0  # the next output frame to encode
        self.last = None  # the latest source frame added
        self.every = max(1, len(shown) // 50)  # output frames between progress reports

    def add(self, frame_idx: int, frame) -> None:
        frame.pict_type = av.video.frame.PictureType.NONE  # the encoder chooses its own frame types
        self._encode_until(frame_idx, self.last if self.last is not None else frame)
        self.last = frame

    def finish(self) -> bool:
        """Encode the output frames left; False when no source frame was added."""
        if self.last is None:
            return False
        self._encode_until(math.inf, self.last)
        self.output.mux(self.stream.encode(None))
        return True

    def _encode_until(self, frame_idx: float, frame) -> None:
        """``frame`` as every output frame still to encode that shows a source frame before ``frame_idx``."""
        n_out = len(self.shown)
        while self.next_out < n_out and self.shown[self.next_out] < frame_idx:
            frame.pts, frame.time_base = self.next_out, self.stream.codec_context.time_base
            self.output.mux(self.stream.encode(frame))
            self.next_out += 1
            if self.next_out % self.every == 0:
                self.progress(self.next_out / n_out, f"Writing frame {self.next_out} of {n_out}")


def _video_stream(output, media: Media, fps: Fraction):
    """H.264 at ``fps``, in the time base ``1 / fps``: output frame k has pts k."""
    width, height = media.video.width, media.video.height
    stream = output.add_stream(VIDEO_CODEC, rate=fps, options=dict(VIDEO_OPTIONS))
    stream.width, stream.height = width, height
    stream.pix_fmt = VIDEO_PIX_FMT if width % 2 == 0 and height % 2 == 0 else ODD_SIZE_PIX_FMT
    stream.time_base = stream.codec_context.time_base = 1 / fps
    stream.codec_context.thread_type = "AUTO"
    if media.video.rotation:
        stream.set_display_rotation(media.video.rotation)
    return stream


# --- the whole fix, and its proof ----------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One check before and after the fix, with its state in a few words."""

    id: str
    before: Check
    after: Check
    before_text: str
    after_text: str

    def to_dict(self) -> dict:
        return {"id": self.id, "before": _side(self.before, self.before_text), "after": _side(self.after, self.after_text)}


def _side(check: Check, text: str) -> dict:
    return {"level": check.level, "text": text, "value": check.value, "message": check.message}


@dataclass(frozen=True, eq=False)
class FixResult:
    """The fixed clip at ``out_path``, how it was made, and the clip before and after."""

    source: str
    out_path: Path
    plan: Plan
    before: Findings
    after: Findings

    @property
    def changes(self) -> list[Change]:
        return [Change(i, self.before.check(i), self.after.check(i), state_text(i, self.before), state_text(i, self.after)) for i in FIX_CHECK_IDS]

    def to_dict(self) -> dict:
        """The fix as data: what was done, and each check before and after."""
        plan = self.plan
        return {
            "source": self.source,
            "output": str(self.out_path),
            "done": {
                "fps": f"{plan.fps.numerator}/{plan.fps.denominator}",
                "n_frames": plan.n_frames,
                "offset_removed_ms": round(plan.offset_s * 1000, 1),
                "offset_removed_frames": plan.offset_frames,
                "offset_measured": plan.offset_measured,
                "audio_moved_ms": round(plan.audio_shift_s * 1000, 1) if plan.audio else None,
                "audio_trimmed_to_s": round(plan.audio_length_s, 4) if plan.trimmed else None,
                "sample_rate": self.after.media.audio.sample_rate,
                "words": done_words(self),
            },
            "checks": [c.to_dict() for c in self.changes],
            "before": clip_dict(self.before),
            "after": clip_dict(self.after),
        }


def check_output(source: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """``out_path`` as a Path, or a ``MusevizError`` when it cannot be the fixed clip: not
    an .mp4 name, the source itself, or in a folder that does not exist or cannot be written."""
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".mp4":
        raise MusevizError(f"{out_path.name}: the fixed clip is written as mp4: give a name ending in .mp4")
    if os.path.abspath(out_path) == os.path.abspath(source) or (out_path.exists() and os.path.exists(source) and os.path.samefile(out_path, source)):
        raise MusevizError(f"{out_path} is the source itself: museviz never overwrites it; give the fixed clip another name")
    folder = out_path.parent
    if not folder.is_dir():
        raise MusevizError(f"cannot write {out_path}: the folder {folder} does not exist")
    try:  # before a minute of work, not after it
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise MusevizError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    return out_path


def fix_clip(source: str | os.PathLike, out_path: str | os.PathLike, options: FixOptions = FixOptions(),
             before: Findings | None = None, progress: Progress | None = None) -> FixResult:
    """Fix ``source`` into ``out_path`` and prove it.

    Parameters
    ----------
    source : path
        The clip; never written to.
    out_path : path
        The fixed clip (.mp4), written under a temporary name and renamed.
    options : FixOptions
    before : Findings, optional
        What is already known about ``source`` (the app's analysis, the audit's row), so
        that it is not measured again; None: measured here.
    progress : callable, optional
        ``progress(fraction, description)``.

    Raises
    ------
    MusevizError
        One sentence, with nothing written: an unreadable source, a name that cannot be the
        output, no audio to shift or trim, an offset not measured reliably (``auto``) or
        beyond the clip, an output that cannot be written.
    """
    report = progress or (lambda _f, _d: None)
    source = os.fspath(source)
    out_path = check_output(source, out_path)
    if before is None:
        report(0.0, "Measuring the clip")
        before = measure(source, options.roi, options.duration_tolerance_s, options.limits, lambda f, d: report(0.3 * f, d))
    plan = plan_fix(before, options)
    write_fixed(before.media, plan, out_path, lambda f, d: report(0.3 + 0.5 * f, d))
    try:
        report(0.8, "Checking the fixed clip")
        after = measure(out_path, options.roi, options.duration_tolerance_s, Limits(), lambda f, d: report(0.8 + 0.2 * f, d))
    except BaseException:
        out_path.unlink(missing_ok=True)  # a fix that cannot be checked is not handed out
        raise
    report(1.0, "Fixed")
    return FixResult(source, out_path, plan, before, after)


# --- words ---------------------------------------------------------------------------------


def state_text(check_id: str, findings: Findings) -> str:
    """What one check looks at, in a few words: ``"29.970 fps"``, ``"audio +500 ms"`` (than the video)."""
    video, audio = findings.media.video, findings.media.audio
    check = findings.check(check_id)
    if check_id == "fps-not-25":
        return f"{video.fps:.3f} fps"
    if check_id == "vfr":
        return "variable" if video.vfr else "constant"
    if check_id == "stream-start-offset":
        return f"streams start {video.start_offset_s * 1000:+.0f} ms apart"
    if not audio.present:
        return "no audio"
    if check_id == "duration-mismatch":
        return f"audio {(audio.duration_s - video.duration_s) * 1000:+.0f} ms"
    if check_id == "training-window-short":
        return f"{check.value:.0f} frames dropped" if check.level != "ok" else "none dropped"
    sync = findings.sync
    if sync is None:
        return f"not measured ({findings.sync_error})"
    if not sync.reliable:
        return f"not measured reliably (confidence {sync.confidence:.2f})"
    return f"{sync.offset_frames:+d} frames ({sync.offset_ms:+.0f} ms), confidence {sync.confidence:.2f}"


def done_words(result: FixResult) -> str:
    """What the fix did, in a line."""
    plan, before, after = result.plan, result.before.media, result.after.media
    parts = [f"{plan.n_frames} frames at {plan.fps.numerator}/{plan.fps.denominator} fps (from {before.video.n_frames} at {before.video.fps:.3f}"
             f"{', variable' if before.video.vfr else ''}), H.264 crf {VIDEO_OPTIONS['crf']}"]
    if plan.audio:
        if plan.offset_s:
            way = "later" if plan.offset_s > 0 else "earlier"
            given = f"{plan.offset_frames:+d}f" if plan.offset_frames is not None else f"{plan.offset_s * 1000:+g}ms"
            how = "the offset measured" if plan.offset_measured else f"offset {given} as given"
            parts.append(f"audio moved {abs(plan.offset_s) * 1000:.0f} ms {way} ({how})")
        elif plan.offset_measured:
            parts.append("audio not moved (measured in sync)")
        audio_start = abs(before.video.start_offset_s) > START_TOLERANCE_S
        if audio_start:
            parts.append(f"streams aligned (the first frame was {before.video.start_offset_s * 1000:+.0f} ms from the first sample)")
        codec = "copied" if plan.audio_start_s is None and before.audio.codec in COPYABLE_AUDIO_CODECS else "AAC"
        parts.append(f"audio {codec}, {after.audio.sample_rate} Hz" + (f", cut or padded to the video's {plan.audio_length_s:.3f} s" if plan.trimmed else ""))
    return "; ".join(parts)


def clip_dict(findings: Findings) -> dict:
    """A clip's numbers as the fix reports them."""
    video, audio, sync = findings.media.video, findings.media.audio, findings.sync
    return {
        "fps_fraction": video.fps_text,
        "fps": round(video.fps, 6),
        "vfr": video.vfr,
        "n_frames": video.n_frames,
        "video_duration_s": round(video.duration_s, 4),
        "audio_duration_s": round(audio.duration_s, 4) if audio.present else None,
        "sample_rate": audio.sample_rate,
        "start_offset_s": round(video.start_offset_s, 4),
        "sync": None if sync is None else {
            "offset_frames": sync.offset_frames,
            "offset_ms": round(sync.offset_ms, 1),
            "confidence": round(sync.confidence, 3),
            "reliable": sync.reliable,
            "words": sync.words,
        },
        "sync_error": findings.sync_error,
    }
