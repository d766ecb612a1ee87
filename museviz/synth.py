"""Synthetic talking-face clips whose timing is known exactly, for tests, examples and teaching.

A clip is the astronaut photo (scikit-image's public-domain ``astronaut``) with a mouth that
opens with the loudness of a speech signal. Every timing property is chosen here: the frame
presentation times (constant or variable rate), the audio offset against the mouth, the audio
length, and even which speech drives the mouth. A test can therefore check that museviz
measures exactly what was written.

The flow: :func:`speech_16k` (espeak-ng) -> :func:`loudness_envelope` -> :func:`face_frame`
-> :func:`write_clip`, configured by a :class:`ClipSpec`.
"""

from __future__ import annotations

import functools
import heapq
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from math import gcd
from operator import itemgetter
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from museviz.grid import SAMPLE_RATE  # speech and the signal that drives the mouth
from museviz.sync import NATURAL_LEAD_S  # real mouths open this long before the sound they shape
ESPEAK = "espeak-ng"
SPEECH_PEAK = 0.8  # peak amplitude of speech_16k, full scale 1.0
LOUDNESS_WINDOW_S = 0.04  # one frame at 25 fps

FPS_MAX_DENOMINATOR = 1001  # a float fps is read as the nearest fraction n / d, d <= 1001 (NTSC)
FINE_TICKS_PER_S = 90000  # the MPEG clock: time base for variable frame rate
FINE_TIME_BASE = Fraction(1, FINE_TICKS_PER_S)  # s per tick
VFR_SLOW_FACTOR = Fraction(3, 5)  # vfr_times alternates base_fps with base_fps * 3/5 (25 -> 15)
VFR_STRETCH_FRAMES = (8, 30)  # frames per constant-rate stretch in vfr_times, min and max

# The 512 x 512 astronaut photo, in its pixel coordinates.
FACE_BOX = (177, 66, 95, 95)  # x, y, w, h px: where the Haar cascade finds her face
MOUTH_CENTRE = (223.5, 145.0)  # x, y px: centre of her (smiling) mouth
MOUTH_HALF_WIDTH = 21.0  # px
LIPS_HALF_HEIGHT = 6.5  # px: closed lips cover the smile's teeth
MOUTH_MAX_OPEN = 7.0  # px: half-height of the dark opening at openness 1 (wider breaks Haar)
MOUTH_INNER_WIDTH = 0.85  # width of the dark opening / width of the lips
CLOSED_LINE_HALF_HEIGHT = 0.6  # px: the dark line between closed lips
JAW_DROP = 0.4  # the lips' centre moves down by this fraction of the opening
FACE_FRACTION = 0.6  # face box size / frame size in the tighter dimension (Haar needs a margin)

LIPS_RGB = (160, 78, 82)
MOUTH_RGB = (48, 14, 20)
SUBPIXEL_BITS = 4  # cv2 drawing: coordinates in 1/16 px

TEETH_RGB = (236, 232, 220)
TEETH_SHARE = 0.35  # of the opening's height, under the upper lip

FLICKER_HZ = (0.7, 3.1)  # a slow drift and a faster flicker of the light, mixed
HEAD_MOTION_HZ = (0.23, 0.31, 0.17)  # sideways, up and down, and turning and zooming (slow, incommensurate)
HEAD_TURN_DEG = 3.0  # at head_motion 0.1; scales with it
HEAD_ZOOM = 0.05  # relative size change at head_motion 0.1; scales with it

STAMP_RGB = ((255, 0, 0), (0, 255, 0), (0, 0, 255))  # the stamp band's colour cycles through these, frame by frame
STAMP_HEIGHT = 0.08  # of the frame's height: the band along the top, above the face

GRADIENT_SPEED = 60.0  # grey levels per second: the no-face picture scrolls at this speed
GRADIENT_PERIOD_S = 3.0  # s: period of the no-face picture's blue pulse

AUDIO_CHUNK_SAMPLES = 1024  # samples per audio frame handed to the encoder
AUDIO_BIT_RATE = 64000  # bit/s per channel, AAC and Opus

H264_OPTIONS = {"crf": "23", "preset": "medium"}
VP9_OPTIONS = {"crf": "34", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}


@dataclass(frozen=True)
class _Codecs:
    """Encoders for one container type."""

    video: str
    audio: str
    video_options: dict[str, str]
    odd_size_pix_fmt: str  # pixel format when width or height is odd (4:2:0 needs even sizes)
    variable_rate: bool  # whether the container stores per-frame times


_CODECS_BY_SUFFIX = {
    ".mp4": _Codecs("libx264", "aac", H264_OPTIONS, "yuv444p", True),
    ".mov": _Codecs("libx264", "aac", H264_OPTIONS, "yuv444p", True),
    ".mkv": _Codecs("libx264", "aac", H264_OPTIONS, "yuv444p", True),
    ".webm": _Codecs("libvpx-vp9", "libopus", VP9_OPTIONS, "yuv420p", True),
    # AVI has no edit list to hide an mp3 encoder delay, so its audio is PCM: sample 0 is sample 0.
    ".avi": _Codecs("mpeg4", "pcm_s16le", {}, "yuv420p", False),
}


def speech_16k(
    text: str, *, voice: str = "en-us", words_per_minute: int = 160, pitch: int = 50
) -> np.ndarray:
    """Synthesise real speech with espeak-ng.

    Parameters
    ----------
    text : str
        What to say.
    voice : str
        espeak-ng voice name (``espeak-ng --voices`` lists them).
    words_per_minute : int
        Speaking rate.
    pitch : int
        espeak-ng pitch, 0 to 99.

    Returns
    -------
    np.ndarray, shape (N,), float32
        Mono speech at 16 kHz with peak amplitude ``SPEECH_PEAK``.

    Raises
    ------
    RuntimeError
        If espeak-ng is not installed or fails.
    """
    if shutil.which(ESPEAK) is None:
        raise RuntimeError(f"{ESPEAK} is not installed; install it (apt-get install {ESPEAK}).")
    with tempfile.TemporaryDirectory(prefix="museviz-speech-") as tmp:
        wav_path = Path(tmp) / "speech.wav"
        args = [ESPEAK, "-v", voice, "-s", str(words_per_minute), "-p", str(pitch)]
        args += ["-w", str(wav_path), "--stdin"]
        done = subprocess.run(args, input=text.encode(), capture_output=True, check=False)
        if done.returncode != 0 or not wav_path.exists():
            message = done.stderr.decode(errors="replace").strip().splitlines() or ["it wrote no audio"]
            raise RuntimeError(f"{ESPEAK} failed: {message[0]}")
        samples, rate = _read_wav(wav_path)
    speech = _resample(samples, rate, SAMPLE_RATE)
    peak = np.max(np.abs(speech), initial=0.0)
    if peak > 0:
        speech *= SPEECH_PEAK / peak
    return speech.astype(np.float32)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV file: (samples float32 in [-1, 1], shape (N,), rate Hz); channels averaged."""
    with wave.open(str(path), "rb") as wav:
        rate, n_channels = wav.getframerate(), wav.getnchannels()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    samples = pcm.reshape(-1, n_channels).mean(axis=1) / 32768.0
    return samples.astype(np.float32), rate


def _resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling of (N,) samples from ``rate_in`` to ``rate_out`` Hz."""
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=True)
    step = gcd(rate_in, rate_out)
    return resample_poly(samples, rate_out // step, rate_in // step).astype(np.float32)


def loudness_envelope(
    audio: np.ndarray, sample_rate: int, times_s: np.ndarray, window_s: float = LOUDNESS_WINDOW_S
) -> np.ndarray:
    """RMS loudness around each time, relative to the loudest window in the whole signal.

    Parameters
    ----------
    audio : np.ndarray, shape (N,)
        Mono signal.
    sample_rate : int
        Hz.
    times_s : array-like, shape (T,)
        Window centres, seconds from the first sample.
    window_s : float
        Window length in seconds; samples outside the signal count as silence.

    Returns
    -------
    np.ndarray, shape (T,), float
        Loudness in [0, 1]: 1 for the loudest window of ``audio``, 0 for silence and for
        times outside the audio. The scale does not depend on ``times_s``, so calls for
        single frames agree with one call for all frames.
    """
    times_s = np.atleast_1d(np.asarray(times_s, dtype=float))
    window = max(1, round(window_s * sample_rate))
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(audio, dtype=float) ** 2)])
    n_samples = len(energy) - 1
    # The whole signal is the loudest "window" when it is shorter than one.
    loudest = np.max(energy[window:] - energy[:-window]) if n_samples >= window else energy[-1]
    if loudest <= 0:
        return np.zeros(len(times_s))
    starts = np.round(times_s * sample_rate - window / 2).astype(np.int64)
    first = np.clip(starts, 0, n_samples)
    last = np.clip(starts + window, 0, n_samples)
    return np.sqrt((energy[last] - energy[first]) / loudest)


def face_frame(openness: float, size: tuple[int, int] = (320, 240), teeth: bool = False) -> np.ndarray:
    """The astronaut's face with her mouth drawn open by ``openness``.

    Parameters
    ----------
    openness : float
        0 draws closed lips (a line), 1 a wide open dark mouth; clipped to [0, 1].
    size : tuple of int
        (width, height) of the picture in pixels.
    teeth : bool
        Draw upper teeth in the opening (``TEETH_SHARE`` of its height), as a smiling speaker shows.

    Returns
    -------
    np.ndarray, shape (height, width, 3), uint8
        RGB picture. The face spans ``FACE_FRACTION`` of the frame's height or width, whichever
        is tighter, and OpenCV's frontal-face Haar cascade finds it at every openness.
    """
    import cv2

    base, (mouth_x, mouth_y), scale = _face_base(tuple(size))
    picture = base.copy()
    opening = float(np.clip(openness, 0.0, 1.0)) * MOUTH_MAX_OPEN
    centre_y = mouth_y + JAW_DROP * opening * scale
    lips_axes = (MOUTH_HALF_WIDTH * scale, (LIPS_HALF_HEIGHT + opening) * scale)
    mouth_axes = (MOUTH_INNER_WIDTH * MOUTH_HALF_WIDTH * scale, max(opening, CLOSED_LINE_HALF_HEIGHT) * scale)
    for axes, colour in ((lips_axes, LIPS_RGB), (mouth_axes, MOUTH_RGB)):
        cv2.ellipse(
            picture,
            _fixed_point((mouth_x, centre_y)),
            _fixed_point(axes),
            0.0, 0.0, 360.0, colour, thickness=-1, lineType=cv2.LINE_AA, shift=SUBPIXEL_BITS,
        )
    if teeth and opening > 0:
        inside = np.zeros(picture.shape[:2], np.uint8)
        cv2.ellipse(inside, _fixed_point((mouth_x, centre_y)), _fixed_point(mouth_axes), 0.0, 0.0, 360.0, 255, -1, cv2.LINE_AA, SUBPIXEL_BITS)
        top = centre_y - mouth_axes[1]
        inside[int(np.ceil(top + 2 * TEETH_SHARE * mouth_axes[1])) :] = 0
        picture[inside > 127] = TEETH_RGB
    return picture


def moved(picture: np.ndarray, t_s: float, head_motion: float) -> np.ndarray:
    """``picture`` with the head moved at time ``t_s``: sideways and up and down by up to
    ``head_motion`` of the frame's width and height, turned by up to ``HEAD_TURN_DEG`` and
    zoomed by up to ``HEAD_ZOOM`` (both per 0.1 of ``head_motion``), all slow and smooth."""
    import cv2

    height, width = picture.shape[:2]
    fx, fy, fr = (np.sin(2 * np.pi * hz * t_s) for hz in HEAD_MOTION_HZ)
    strength = head_motion / 0.1
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), HEAD_TURN_DEG * strength * fr, 1 + HEAD_ZOOM * strength * fr)
    matrix[:, 2] += (head_motion * width * fx / 2, head_motion * height * fy / 2)
    return cv2.warpAffine(picture, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flickered(picture: np.ndarray, t_s: float, flicker: float) -> np.ndarray:
    """``picture`` lit brighter or darker by up to ``flicker`` (0.2: +-20%) at time ``t_s``."""
    gain = 1 + flicker * np.mean([np.sin(2 * np.pi * hz * t_s) for hz in FLICKER_HZ])
    return np.clip(picture.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def with_room_noise(speech: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """``speech`` (N,) with pink room noise added at ``snr_db`` below its loudness (RMS over
    the samples that are speech, within 40 dB of its peak)."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(len(speech)))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))  # 1/f power: pink
    noise = np.fft.irfft(spectrum, len(speech))
    voiced = np.abs(speech) > np.max(np.abs(speech)) * 10 ** (-40 / 20)
    speech_rms = np.sqrt(np.mean(np.square(speech[voiced]))) if voiced.any() else 0.0
    noise *= speech_rms * 10 ** (-snr_db / 20) / np.sqrt(np.mean(np.square(noise)))
    return (speech + noise).astype(np.float32)


def with_pauses(speech: np.ndarray, pause_s: float = 1.0, every_s: float = 2.0) -> np.ndarray:
    """``speech`` (N,) with ``pause_s`` of silence inserted every ``every_s`` of it (at its
    quietest moment near each point, so no word is cut)."""
    parts, start = [], 0
    step = round(every_s * SAMPLE_RATE)
    search = round(0.2 * SAMPLE_RATE)
    level = np.convolve(np.abs(speech), np.ones(400) / 400, mode="same")
    while start + step < len(speech):
        lo = start + step - search
        cut = lo + int(np.argmin(level[lo : start + step + search]))
        parts += [speech[start:cut], np.zeros(round(pause_s * SAMPLE_RATE), np.float32)]
        start = cut
    parts.append(speech[start:])
    return np.concatenate(parts).astype(np.float32)


def _fixed_point(xy: tuple[float, float]) -> tuple[int, int]:
    """Pixel coordinates as the integers cv2 draws with ``shift=SUBPIXEL_BITS``."""
    return tuple(round(v * (1 << SUBPIXEL_BITS)) for v in xy)


@functools.lru_cache(maxsize=16)
def _face_base(size: tuple[int, int]) -> tuple[np.ndarray, tuple[float, float], float]:
    """The photo cropped around the face and scaled to ``size`` = (width, height).

    Returns the read-only (height, width, 3) uint8 picture, the mouth centre (x, y) in its
    pixels, and its scale in output pixels per photo pixel.
    """
    import cv2
    from skimage.data import astronaut

    photo = astronaut()
    width, height = size
    photo_h, photo_w = photo.shape[:2]
    scale = min(width * FACE_FRACTION / FACE_BOX[2], height * FACE_FRACTION / FACE_BOX[3])
    # A frame wider or taller than the photo allows shows more of the photo, and a bigger face.
    scale = max(scale, width / photo_w, height / photo_h)
    crop_w, crop_h = min(photo_w, round(width / scale)), min(photo_h, round(height / scale))
    face_x, face_y = FACE_BOX[0] + FACE_BOX[2] / 2, FACE_BOX[1] + FACE_BOX[3] / 2
    left = int(np.clip(round(face_x - crop_w / 2), 0, photo_w - crop_w))
    top = int(np.clip(round(face_y - crop_h / 2), 0, photo_h - crop_h))
    crop = photo[top : top + crop_h, left : left + crop_w]
    interpolation = cv2.INTER_AREA if height < crop_h else cv2.INTER_CUBIC
    picture = cv2.resize(crop, (width, height), interpolation=interpolation)
    picture.flags.writeable = False
    scale_x, scale_y = width / crop_w, height / crop_h
    mouth = ((MOUTH_CENTRE[0] - left) * scale_x, (MOUTH_CENTRE[1] - top) * scale_y)
    return picture, mouth, (scale_x + scale_y) / 2


def gradient_frame(t_s: float, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A face-free picture that changes with time: a scrolling red ramp over a green ramp.

    Parameters
    ----------
    t_s : float
        Presentation time in seconds.
    size : tuple of int
        (width, height) in pixels.

    Returns
    -------
    np.ndarray, shape (height, width, 3), uint8
        RGB picture.
    """
    width, height = size
    red = (np.arange(width) * 255.0 / width + GRADIENT_SPEED * t_s) % 256
    green = np.arange(height) * 255.0 / height
    blue = 128 + 100 * np.sin(2 * np.pi * t_s / GRADIENT_PERIOD_S)
    picture = np.empty((height, width, 3), np.uint8)
    picture[..., 0] = red[np.newaxis, :]
    picture[..., 1] = green[:, np.newaxis]
    picture[..., 2] = round(blue)
    return picture


def vfr_times(duration_s: float, base_fps: int = 25, seed: int = 0) -> tuple[float, ...]:
    """Variable-frame-rate presentation times: stretches at ``base_fps`` and ``base_fps * 3/5``.

    Stretch lengths (``VFR_STRETCH_FRAMES`` frames) are drawn from ``seed``. Every time is a whole
    number of ``FINE_TIME_BASE`` ticks, so a 1/90000 time base stores it exactly.

    Parameters
    ----------
    duration_s : float
        Frames start before this time.
    base_fps : int
        The faster of the two rates (25 gives stretches at 25 and 15 fps).
    seed : int
        Seed of the stretch lengths.

    Returns
    -------
    tuple of float, shape (n_frames,)
        Strictly increasing times in seconds, starting at 0.
    """
    rng = np.random.default_rng(seed)
    tick_s = FINE_TIME_BASE
    intervals = [round(1 / (base_fps * tick_s)), round(1 / (base_fps * VFR_SLOW_FACTOR * tick_s))]
    limit = round(duration_s / tick_s)
    ticks, now, stretch = [], 0, 0
    while now < limit:
        for _ in range(rng.integers(VFR_STRETCH_FRAMES[0], VFR_STRETCH_FRAMES[1] + 1)):
            if now >= limit:
                break
            ticks.append(now)
            now += intervals[stretch % 2]
        stretch += 1
    return tuple(float(tick * tick_s) for tick in ticks)


@dataclass(frozen=True)
class ClipSpec:
    """What :func:`write_clip` writes.

    Attributes
    ----------
    fps : Fraction
        Nominal frame rate; the stream's time base is 1/fps, so frame i is at exactly i / fps s.
    duration_s : float
        Video duration; ``n_frames = round(duration_s * fps)``.
    size : tuple of int
        (width, height) in pixels; odd sizes are written as they are.
    frame_times_s : tuple of float, optional
        Explicit presentation times in seconds (variable frame rate); overrides ``fps`` and
        ``duration_s`` for the frame times.
    audio : np.ndarray, shape (N,), optional
        16 kHz mono speech; None writes no audio stream.
    audio_rate : int
        Sample rate written to the file, Hz.
    audio_channels : int
        Channels written, each a copy of the mono signal.
    audio_delay_s : float
        Positive: the sound comes later than the mouth that makes it (audio late); negative:
        audio early. Done by shifting samples, so every decoder sees it.
    audio_duration_s : float, optional
        Written audio length after the shift (trimmed or zero-padded); None: the video duration.
    audio_start_s : float
        The audio track's first timestamp: a container-level offset between the streams,
        which players honour and frame-0-with-sample-0 pipelines ignore (unlike
        ``audio_delay_s``, which moves the samples themselves).
    mouth_audio : np.ndarray, shape (M,), optional
        16 kHz signal that drives the mouth; None: ``audio`` before the delay (and a closed
        mouth when there is no audio either).
    mouth_lead_s : float
        The mouth shows the loudness this long ahead, as real mouths open before the sound
        they shape (``museviz.sync.NATURAL_LEAD_S``, measured on real faces); an offset is
        the audio's delay on top of it.
    teeth : bool
        Upper teeth show in the open mouth.
    flicker : float
        The light changes by up to this share (0.2: +-20%), slowly and quickly mixed.
    head_motion : float
        The head moves by up to this share of the frame (0.1: 10%), turning and zooming a little.
    face : bool
        False: a plain moving gradient picture, no face.
    rotation : int
        A phone video's display rotation, degrees counter-clockwise (0, 90, 180, 270): the
        picture is stored turned the other way, and players turn it upright to ``size``.
    stamp : bool
        A band along the top whose colour cycles through ``STAMP_RGB`` from frame to frame,
        so that neighbouring frames always differ: a test can tell which frame a re-timed
        copy shows.
    """

    fps: Fraction = Fraction(25)
    duration_s: float = 6.0
    size: tuple[int, int] = (320, 240)
    frame_times_s: tuple[float, ...] | None = None
    audio: np.ndarray | None = None
    audio_rate: int = SAMPLE_RATE
    audio_channels: int = 1
    audio_delay_s: float = 0.0
    audio_duration_s: float | None = None
    audio_start_s: float = 0.0
    mouth_audio: np.ndarray | None = None
    mouth_lead_s: float = NATURAL_LEAD_S
    teeth: bool = False
    flicker: float = 0.0
    head_motion: float = 0.0
    face: bool = True
    rotation: int = 0
    stamp: bool = False

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) as encoded: ``size`` turned back by ``rotation``."""
        return self.size[::-1] if self.rotation in (90, 270) else self.size


def _fps(spec: ClipSpec) -> Fraction:
    """``spec.fps`` as a Fraction (29.97 as given stays 2997/100; pass Fraction(30000, 1001) for NTSC)."""
    return Fraction(spec.fps).limit_denominator(FPS_MAX_DENOMINATOR)


def frame_pts(spec: ClipSpec) -> tuple[np.ndarray, Fraction]:
    """Presentation timestamps of the clip's frames and their time base.

    Returns
    -------
    pts : np.ndarray, shape (n_frames,), int64
        Frame i is shown at ``pts[i] * time_base`` seconds.
    time_base : Fraction
        Seconds per tick: ``1 / fps`` for a constant rate, ``FINE_TIME_BASE`` for explicit times.
    """
    if spec.frame_times_s is None:
        n_frames = round(spec.duration_s * _fps(spec))
        return np.arange(n_frames, dtype=np.int64), 1 / _fps(spec)
    ticks = np.round(np.asarray(spec.frame_times_s, dtype=float) * FINE_TICKS_PER_S)
    return ticks.astype(np.int64), FINE_TIME_BASE


def video_duration_s(spec: ClipSpec) -> float:
    """Seconds from the first frame's start to the last frame's end.

    For explicit frame times the last frame lasts as long as the interval before it.
    """
    if spec.frame_times_s is None:
        return float(round(spec.duration_s * _fps(spec)) / _fps(spec))
    times = spec.frame_times_s
    last_interval = times[-1] - times[-2] if len(times) > 1 else float(1 / _fps(spec))
    return times[-1] + last_interval


def written_audio(spec: ClipSpec) -> np.ndarray:
    """The audio samples :func:`write_clip` writes, before encoding.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32
        Mono at ``spec.audio_rate``: ``spec.audio`` resampled, shifted by ``audio_delay_s``
        (zeros in front when late, samples dropped when early), then trimmed or zero-padded to
        ``audio_duration_s`` (default: the video duration).
    """
    samples = _resample(np.asarray(spec.audio, dtype=np.float32), SAMPLE_RATE, spec.audio_rate)
    shift = round(spec.audio_delay_s * spec.audio_rate)
    if shift >= 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    else:
        samples = samples[-shift:]
    duration_s = video_duration_s(spec) if spec.audio_duration_s is None else spec.audio_duration_s
    n_samples = round(duration_s * spec.audio_rate)
    return np.pad(samples[:n_samples], (0, max(0, n_samples - len(samples))))


def write_clip(path: str | os.PathLike, spec: ClipSpec) -> Path:
    """Write a synthetic clip: the face (or gradient) video and the speech, with exact timing.

    Containers and codecs by suffix: .mp4/.mov/.mkv H.264 + AAC; .webm VP9 + Opus (which
    always decodes at 48 kHz); .avi MPEG-4 part 2 + 16-bit PCM, constant frame rate only
    (AVI cannot signal an AAC or mp3 encoder delay, which would make the audio 64-69 ms late).
    H.264 is yuv420p, or yuv444p when the width or height is odd, because libx264 needs even
    sizes for 4:2:0. Frame i's mouth openness is the loudness of ``mouth_audio``
    ``mouth_lead_s`` after its presentation time. Frames are drawn and encoded one at a time, interleaved with the audio.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; its suffix picks the container.
    spec : ClipSpec
        What to write.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        For an unknown suffix, or explicit frame times in an .avi.
    """
    import av

    path = Path(path)
    codecs = _codecs_for(path, spec)
    with av.open(str(path), "w") as container:
        video = _add_video_stream(container, codecs, spec)
        tracks = [_video_frames(video, spec)]
        if spec.audio is not None:
            audio = _add_audio_stream(container, codecs, spec)
            tracks.append(_audio_frames(audio, written_audio(spec), spec.audio_channels, spec.audio_start_s))
        for _, stream, frame in heapq.merge(*tracks, key=itemgetter(0)):
            container.mux(stream.encode(frame))
        for stream in container.streams:
            container.mux(stream.encode())
    return path


def _codecs_for(path: Path, spec: ClipSpec) -> _Codecs:
    """The encoders for ``path``'s suffix; rejects what that container cannot store."""
    codecs = _CODECS_BY_SUFFIX.get(path.suffix.lower())
    if codecs is None:
        raise ValueError(f"cannot write {path.name}: use one of {', '.join(_CODECS_BY_SUFFIX)}")
    if spec.frame_times_s is not None and not codecs.variable_rate:
        raise ValueError(f"{path.suffix} stores a constant frame rate only; use .mp4 for frame_times_s")
    return codecs


def _declared_rate(spec: ClipSpec) -> Fraction:
    """The frame rate the stream header states: ``fps``, or the mean rate of explicit times."""
    if spec.frame_times_s is None:
        return _fps(spec)
    mean_rate = len(spec.frame_times_s) / Fraction(video_duration_s(spec))
    return mean_rate.limit_denominator(FINE_TICKS_PER_S)


def _add_video_stream(container, codecs: _Codecs, spec: ClipSpec):
    """Add the video stream to ``container`` (an open PyAV output), in the time base of its pts."""
    width, height = spec.stored_size
    video = container.add_stream(
        codecs.video,
        rate=_declared_rate(spec),
        time_base=frame_pts(spec)[1],
        options=dict(codecs.video_options),
    )
    video.width, video.height = width, height
    video.pix_fmt = codecs.odd_size_pix_fmt if width % 2 or height % 2 else "yuv420p"
    if spec.rotation:
        video.set_display_rotation(spec.rotation)
    return video


def _add_audio_stream(container, codecs: _Codecs, spec: ClipSpec):
    """Add the audio stream to ``container`` (an open PyAV output)."""
    audio = container.add_stream(codecs.audio, rate=spec.audio_rate)
    audio.layout = f"{spec.audio_channels}c"
    if codecs.audio != "pcm_s16le":
        audio.bit_rate = AUDIO_BIT_RATE * spec.audio_channels
    return audio


def _video_frames(video, spec: ClipSpec):
    """Yield (time s, ``video``, PyAV frame) for each frame of the clip, drawn on demand."""
    import av

    pts, time_base = frame_pts(spec)
    times_s = pts * float(time_base)
    mouth = spec.audio if spec.mouth_audio is None else spec.mouth_audio
    openness = np.zeros(len(pts)) if mouth is None else loudness_envelope(mouth, SAMPLE_RATE, times_s + spec.mouth_lead_s)
    for frame_idx, (tick, t_s, mouth_open) in enumerate(zip(pts, times_s, openness)):
        picture = face_frame(mouth_open, spec.size, spec.teeth) if spec.face else gradient_frame(t_s, spec.size)
        if spec.head_motion:
            picture = moved(picture, t_s, spec.head_motion)
        if spec.flicker:
            picture = flickered(picture, t_s, spec.flicker)
        if spec.stamp:
            picture[: max(1, round(STAMP_HEIGHT * spec.size[1]))] = STAMP_RGB[frame_idx % len(STAMP_RGB)]
        stored = np.ascontiguousarray(np.rot90(picture, k=-spec.rotation // 90)) if spec.rotation else picture
        frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
        frame.pts, frame.time_base = int(tick), time_base
        yield t_s, video, frame


def _audio_frames(audio, samples: np.ndarray, channels: int, start_s: float = 0.0):
    """Yield (time s, ``audio``, PyAV frame) for chunks of (N,) ``samples``, each channel a
    copy, the first stamped at ``start_s``."""
    import av

    rate = audio.codec_context.sample_rate
    layout = f"{channels}c"
    first = round(start_s * rate)
    for start in range(0, len(samples), AUDIO_CHUNK_SAMPLES):
        chunk = samples[start : start + AUDIO_CHUNK_SAMPLES]
        planes = np.ascontiguousarray(np.broadcast_to(chunk, (channels, len(chunk))))
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, first + start, Fraction(1, rate)
        yield (first + start) / rate, audio, frame
