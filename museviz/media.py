"""Probe and decode a video file with PyAV: exact frame times, 16 kHz mono audio.

Every time here is on one clock: seconds since the first audio sample (sample 0 of
``audio_16k``). A clip without audio is timed from its first frame instead. Lip-sync
pipelines pair frame 0 with audio sample 0, so a frame time that is not ``i / fps`` on
this clock is exactly the error they make.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE

FALLBACK_FPS = Fraction(25)  # for a stream that states no rate and has a single frame
# Pixel formats whose first plane is 8-bit luma at full size.
LUMA_PLANE_FORMATS = frozenset({"gray", "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "yuv411p", "nv12", "nv21"})
VFR_MIN_JITTER_S = 0.0005  # frame intervals may wobble this much (or 1.5 ticks) and still count as constant


@dataclass(frozen=True, eq=False)
class VideoInfo:
    """The picture track as a decoder sees it.

    ``frame_times_s`` (n_frames,) float64 are presentation times in display order;
    ``frame_pts`` (n_frames,) int64 the same in ``time_base`` ticks.
    """

    fps_fraction: Fraction
    n_frames: int
    frame_times_s: np.ndarray
    frame_pts: np.ndarray
    time_base: Fraction
    duration_s: float
    vfr: bool
    width: int
    height: int
    codec: str
    start_offset_s: float  # first frame's time minus the first audio sample's time
    rotation: int = 0  # degrees counter-clockwise the picture is turned for display (phone videos)

    @property
    def fps(self) -> float:
        """The container's average frame rate as a float: what OpenCV's CAP_PROP_FPS reports."""
        return float(self.fps_fraction)

    @property
    def fps_text(self) -> str:
        """The exact rate as a fraction: ``"30000/1001"``."""
        return f"{self.fps_fraction.numerator}/{self.fps_fraction.denominator}"

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the upright picture: the coded size, turned by ``rotation``."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


@dataclass(frozen=True)
class AudioInfo:
    """The sound track: its source format and its length once resampled to 16 kHz mono."""

    present: bool
    sample_rate: int | None = None
    channels: int | None = None
    codec: str | None = None
    duration_s: float = 0.0
    n_samples_16k: int = 0


@dataclass(frozen=True)
class Limits:
    """What a server is willing to spend on one clip (None: no limit)."""

    max_duration_s: float | None = None  # longer clips are refused before they are decoded
    decode_timeout_s: float | None = None  # seconds of decoding one pass over the file may take


@dataclass(frozen=True, eq=False)
class Media:
    """A probed clip: ``audio_16k`` (N,) float32 mono at ``SAMPLE_RATE``; ``limits`` also
    bound the later passes over its frames."""

    path: str
    video: VideoInfo
    audio: AudioInfo
    audio_16k: np.ndarray = field(repr=False)
    limits: Limits = Limits()
    damage: str | None = None  # what could not be read, when the file is truncated or damaged


def read_media(path: str | os.PathLike, limits: Limits = Limits()) -> Media:
    """Probe ``path`` and decode its audio in one pass over the file.

    Frame times come from the demuxed video packets (sorted presentation timestamps,
    packets the container marks as discarded left out), which is what a decoder emits,
    without paying for decoding the pictures. Audio is decoded and resampled to 16 kHz mono
    float32 on the way.

    Raises
    ------
    MusevizError
        When the file is missing, empty, not a media file, a still image, has no video
        track, is longer than ``limits.max_duration_s`` or takes longer than
        ``limits.decode_timeout_s`` to decode.
    """
    path = os.fspath(path)
    with _open(path) as container:
        _require_video(container, path, limits)
        vstream = container.streams.video[0]
        astream = container.streams.audio[0] if container.streams.audio else None
        packets, audio_16k, audio_src_samples, audio_start_s, damage = _demux(container, vstream, astream, limits)
        has_audio = astream is not None
        # Stream objects must not outlive their container: read what is needed now.
        time_base = vstream.time_base
        declared_rate = vstream.average_rate
        width, height, codec = vstream.codec_context.width, vstream.codec_context.height, vstream.codec_context.name
        if has_audio:
            a_ctx = astream.codec_context
            audio = AudioInfo(present=True, sample_rate=a_ctx.sample_rate or astream.rate, channels=a_ctx.channels, codec=a_ctx.name)

    pts, durations = _video_pts(path, time_base, declared_rate, packets)
    frame_start_s = float(pts[0] * time_base)
    origin_s = audio_start_s if has_audio and audio_start_s is not None else frame_start_s
    frame_times_s = (pts * float(time_base)) - origin_s
    fps_fraction = _average_rate(declared_rate, pts, time_base)
    video = VideoInfo(
        fps_fraction=fps_fraction,
        n_frames=len(pts),
        frame_times_s=frame_times_s,
        frame_pts=pts,
        time_base=time_base,
        duration_s=_video_duration_s(pts, durations, time_base, fps_fraction),
        vfr=is_variable_rate(frame_times_s, float(time_base)),
        width=width,
        height=height,
        codec=codec,
        start_offset_s=frame_start_s - origin_s,
        rotation=_rotation(path),
    )
    if not has_audio:
        audio = AudioInfo(present=False)
    else:
        source_s = audio_src_samples / audio.sample_rate if audio.sample_rate else len(audio_16k) / SAMPLE_RATE
        audio = dataclasses.replace(audio, duration_s=source_s, n_samples_16k=len(audio_16k))
    return Media(path=path, video=video, audio=audio, audio_16k=audio_16k, limits=limits, damage=damage)


def is_variable_rate(frame_times_s: np.ndarray, tick_s: float = 0.0) -> bool:
    """True when frame intervals differ by more than timestamp rounding explains.

    An interval may deviate from the median interval by ``max(1.5 ticks, 0.5 ms)``: a
    29.97 fps stream in a 1 ms time base alternates 33 and 34 ms and is still constant.
    """
    if len(frame_times_s) < 3:
        return False
    intervals_s = np.diff(frame_times_s)
    tolerance_s = max(1.5 * tick_s, VFR_MIN_JITTER_S)
    return bool(np.max(np.abs(intervals_s - np.median(intervals_s))) > tolerance_s)


def iter_frames(media: Media, size: tuple[int, int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the pictures one at a time as ``(frame_idx, rgb)``.

    ``rgb`` is the upright picture (turned by the display rotation), (height, width, 3)
    uint8, scaled to ``size`` = (width, height) of the upright picture when given.
    ``frame_idx`` indexes ``media.video.frame_times_s``; frames the decoder cannot place
    there (a damaged stream) are skipped rather than mislabelled.
    """
    to_rgb = RgbPicture(media.video.rotation, size)
    for frame_idx, frame in placed_frames(media):
        yield frame_idx, to_rgb(frame)


def iter_luma(media: Media) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the pictures one at a time as ``(frame_idx, luma)``: the upright grey picture,
    (height, width) uint8, indexed as in ``iter_frames`` (see ``LumaPicture``)."""
    to_luma = LumaPicture(media.video.rotation)
    for frame_idx, frame in placed_frames(media):
        yield frame_idx, to_luma(frame)


class RgbPicture:
    """A decoded frame as its upright RGB picture, (height, width, 3) uint8, scaled to
    ``size`` = (width, height) of the upright picture when given."""

    def __init__(self, rotation: int, size: tuple[int, int] | None = None):
        width, height = size if size else (None, None)
        self._size = (height, width) if rotation in (90, 270) else (width, height)
        self._rotation = rotation
        # One reformatter for the whole clip: frame.to_ndarray sets up a new conversion per frame.
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        return upright(self._reformatter.reformat(frame, *self._size, format="rgb24").to_ndarray(), self._rotation)


class LumaPicture:
    """A decoded frame as its upright grey picture, (height, width) uint8, C-contiguous.

    An 8-bit YUV frame gives its Y plane as it is, with no colour conversion (three times
    faster than RGB on 640x360 H.264). Its levels are the video's: usually 16-235, a scale
    and an offset away from an RGB-to-grey conversion.
    """

    def __init__(self, rotation: int):
        self._rotation = rotation
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if frame.format.name in LUMA_PLANE_FORMATS:
            luma = plane_array(frame.planes[0]).copy()
        else:
            luma = self._reformatter.reformat(frame, format="gray").to_ndarray()
        return upright(luma, self._rotation)


def plane_array(plane) -> np.ndarray:
    """A (height, width) uint8 view of an 8-bit frame plane, without its row padding."""
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def placed_frames(media: Media) -> Iterator[tuple[int, av.VideoFrame]]:
    """Every decoded frame, in display order, with its index in ``media.video.frame_times_s``;
    frames that cannot be placed there are skipped. The one decoding loop of museviz."""
    pts_to_idx = {int(p): i for i, p in enumerate(media.video.frame_pts)}
    with _open(media.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for idx_guess, frame in enumerate(_decode_quietly(container, stream, media.limits.decode_timeout_s)):
            frame_idx = pts_to_idx.get(frame.pts, idx_guess if frame.pts is None else None)
            if frame_idx is not None and frame_idx < media.video.n_frames:
                yield frame_idx, frame


def check_video(path: str | os.PathLike, limits: Limits = Limits()) -> None:
    """Raise ``MusevizError`` unless ``path`` opens as a video within ``limits``.

    Costs only opening the file: interfaces call it before loading anything heavy.
    """
    path = os.fspath(path)
    with _open(path) as container:
        _require_video(container, path, limits)


def _require_video(container, path: str, limits: Limits) -> None:
    """A video track, not a still image, and no longer than the limit says (when the header tells)."""
    name = os.path.basename(path)
    # FFmpeg reads single pictures with its "image2" and "<codec>_pipe" demuxers.
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        raise MusevizError(f"{name} is a still image: museviz needs a video with sound")
    if not container.streams.video:
        raise MusevizError(f"{name} has no video track: museviz needs a video with pictures")
    if container.duration and limits.max_duration_s is not None:
        _check_duration(name, container.duration / av.time_base, limits.max_duration_s)


def _check_duration(name: str, duration_s: float, max_s: float) -> None:
    if duration_s > max_s:
        raise MusevizError(
            f"{name} lasts {duration_s:.0f} s; museviz analyses up to {max_s:.0f} s here: cut it first "
            f"(ffmpeg -i {shlex.quote(name)} -t {max_s:.0f} -c copy part.mp4)"
        )


def read_frame(media: Media, frame_idx: int) -> np.ndarray | None:
    """Decode one frame as (height, width, 3) uint8 RGB, seeking to the keyframe before it.

    Costs up to a keyframe interval of decoding; ``museviz.frames.FrameStore`` keeps every
    frame for repeated access. None when the decoder cannot reach the frame.
    """
    target = int(media.video.frame_pts[frame_idx])
    with _open(media.path) as container:
        stream = container.streams.video[0]
        container.seek(target, stream=stream, backward=True)
        for frame in _decode_quietly(container, stream):
            if frame.pts is not None and frame.pts >= target:
                return upright(frame.to_ndarray(format="rgb24"), media.video.rotation) if frame.pts == target else None
    return None


def upright(picture: np.ndarray, rotation: int) -> np.ndarray:
    """``picture`` (h, w, 3) or (h, w) turned ``rotation`` degrees counter-clockwise, as players show it."""
    return np.ascontiguousarray(np.rot90(picture, k=rotation // 90)) if rotation else picture


def _rotation(path: str) -> int:
    """The display rotation of the first decodable frame: 0, 90, 180 or 270 degrees."""
    with _open(path) as container:
        for frame in _decode_quietly(container, container.streams.video[0]):
            return round(frame.rotation / 90) * 90 % 360
    return 0


def _open(path: str) -> av.container.InputContainer:
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise MusevizError(f"{name}: no such file")
    if os.path.getsize(path) == 0:
        raise MusevizError(f"{name} is empty (0 bytes): upload the video file itself")
    try:
        return av.open(path, mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MusevizError(
            f"{name} is not a video museviz can read ({_reason(exc)}): it may be truncated or damaged; export it again as mp4 (H.264 + AAC)"
        ) from None


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(":")[0] or type(exc).__name__


def _decode_quietly(container, stream, timeout_s: float | None = None) -> Iterator[av.VideoFrame]:
    """Decode ``stream``, skipping packets the decoder rejects (a damaged stretch).

    Stops with ``MusevizError`` once decoding itself (not the caller's work between frames)
    has taken ``timeout_s``.
    """
    spent_s = 0.0
    for packet in container.demux(stream):
        start = time.perf_counter()
        try:
            frames = packet.decode()
        except av.FFmpegError:
            continue
        spent_s += time.perf_counter() - start
        if timeout_s is not None and spent_s > timeout_s:
            raise MusevizError(_timeout_message(container, timeout_s))
        yield from frames


def _timeout_message(container, timeout_s: float) -> str:
    return f"decoding {os.path.basename(container.name)} took longer than {timeout_s:g} s: the file may be damaged, or too long for this server"


def _demux(container, vstream, astream, limits: Limits):
    """One pass: keep the video packets' timing, decode and resample the audio.

    Returns the video packets' (pts, duration), the 16 kHz audio, the source sample count,
    the first audio sample's time, and what could not be read (None for a sound file).
    """
    deadline = None if limits.decode_timeout_s is None else time.perf_counter() + limits.decode_timeout_s
    packets = []
    chunks = []
    src_samples = 0
    audio_start_s = None
    damage = None
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE) if astream else None
    streams = [vstream] + ([astream] if astream else [])
    try:
        for packet in container.demux(streams):
            if deadline is not None and time.perf_counter() > deadline:
                raise MusevizError(_timeout_message(container, limits.decode_timeout_s))
            if packet.stream.type == "video":
                if packet.size and not packet.is_discard:
                    packets.append((packet.pts, packet.duration))
                    if limits.max_duration_s is not None and packet.pts is not None:
                        _check_duration(os.path.basename(container.name), float(packet.pts * packet.time_base), limits.max_duration_s)
                continue
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                damage = damage or f"an audio packet at {float(packet.pts * packet.time_base) if packet.pts is not None else 0:.2f} s could not be decoded ({_reason(exc)})"
                continue
            for frame in frames:
                if audio_start_s is None and frame.time is not None:
                    audio_start_s = float(frame.time)
                src_samples += frame.samples
                chunks.extend(out.to_ndarray()[0] for out in resampler.resample(frame))
    except av.FFmpegError as exc:
        if not packets:
            raise MusevizError(f"{os.path.basename(container.name)} could not be decoded ({_reason(exc)}): the file may be truncated or damaged") from None
        damage = f"reading stopped after {len(packets)} frames ({_reason(exc)})"
    if resampler is not None:
        chunks.extend(out.to_ndarray()[0] for out in resampler.resample(None))
    audio_16k = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return packets, audio_16k, src_samples, audio_start_s, damage


def _video_pts(path: str, time_base: Fraction, declared_rate: Fraction | None, packets) -> tuple[np.ndarray, np.ndarray]:
    """Sorted presentation timestamps (ticks) and matching durations of the video frames."""
    if packets and all(p is not None for p, _ in packets):
        order = sorted(packets, key=lambda pd: pd[0])
        pts = np.array([p for p, _ in order], dtype=np.int64)
        durations = np.array([d or 0 for _, d in order], dtype=np.int64)
        return pts, durations
    with _open(path) as container:
        stream = container.streams.video[0]
        frames = [(f.pts, f.duration) for f in _decode_quietly(container, stream)]
    if not frames:
        raise MusevizError(f"{os.path.basename(path)} has a video track with no decodable frames: the file may be truncated or damaged")
    if any(p is None for p, _ in frames):
        ticks_per_frame = 1 / (time_base * (declared_rate or FALLBACK_FPS))
        pts = np.round(np.arange(len(frames)) * float(ticks_per_frame)).astype(np.int64)  # no error piling up
        return pts, np.full(len(frames), round(ticks_per_frame), dtype=np.int64)
    pts = np.array(sorted(p for p, _ in frames), dtype=np.int64)
    return pts, np.zeros(len(pts), dtype=np.int64)


def _average_rate(declared_rate: Fraction | None, pts: np.ndarray, time_base: Fraction) -> Fraction:
    """The container's average frame rate; from the frame times when it states none."""
    if declared_rate:
        return Fraction(declared_rate)
    if len(pts) > 1:
        span = (int(pts[-1]) - int(pts[0])) * time_base
        if span:
            return Fraction(len(pts) - 1) / span
    return FALLBACK_FPS


def _video_duration_s(pts: np.ndarray, durations: np.ndarray, time_base: Fraction, fps: Fraction) -> float:
    """From the first frame's start to the last frame's end."""
    last_ticks = int(durations[-1]) if len(durations) and durations[-1] > 0 else None
    if last_ticks is None:
        last_ticks = int(np.median(np.diff(pts))) if len(pts) > 1 else round(1 / (fps * time_base))
    return float((int(pts[-1]) - int(pts[0]) + last_ticks) * time_base)
