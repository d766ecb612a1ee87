"""Write a clip's streams again: the audio copied, or re-timed and re-encoded, beside new video.

The overlay and the fix both keep the source's audio but may move it: ``AudioTrack`` moves
the samples themselves (zeros in front for a delay, samples dropped for an advance, the
length kept), so that a pipeline that pairs frame 0 with audio sample 0 sees the shift,
and not only a player that honours timestamps. The fix may also resample it, start it at
0, and cut or pad it to a length.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from museviz.errors import MusevizError

AUDIO_CODEC = "aac"
AUDIO_BIT_RATE = 64000  # bit/s per channel
AAC_FRAME_SAMPLES = 1024  # samples per AAC frame: decoders output the last one whole, padding included
COPYABLE_AUDIO_CODECS = frozenset({"aac", "mp3"})  # remuxed into mp4 as they are
MP4_OPTIONS = {"movflags": "+faststart"}  # index first: a browser starts playing at once


def decode_packet(packet) -> list:
    """The frames of ``packet``; none for a damaged stretch (skipped, as in museviz.media)."""
    try:
        return packet.decode()
    except av.FFmpegError:
        return []


def shift_audio(source_path: str | os.PathLike, out_path: str | os.PathLike, shift_s: float) -> Path:
    """Copy ``source_path`` to ``out_path`` (mp4) with its audio samples moved ``shift_s``
    later (negative: earlier); the video packets are copied as they are.

    Raises
    ------
    MusevizError
        When the source cannot be read, has no audio, or the output cannot be written.
    """
    out_path = Path(out_path)
    name = os.path.basename(os.fspath(source_path))
    try:
        source = av.open(os.fspath(source_path))
    except (av.FFmpegError, OSError) as exc:
        raise MusevizError(f"{name} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    with source:
        if not source.streams.video:
            raise MusevizError(f"{name} has no video track")
        if not source.streams.audio:
            raise MusevizError(f"{name} has no audio to shift")
        with written(out_path) as part:
            with av.open(str(part), "w", format="mp4", options=MP4_OPTIONS) as output:
                in_video, in_audio = source.streams.video[0], source.streams.audio[0]
                out_video = output.add_stream_from_template(in_video)
                audio = AudioTrack(output, in_audio, shift_s)
                for packet in source.demux([in_video, in_audio]):
                    if packet.stream.type == "audio":
                        audio.feed(packet)
                    elif packet.dts is not None:
                        packet.stream = out_video
                        output.mux(packet)
                audio.finish()
    return out_path


@contextmanager
def written(out_path: Path):
    """A temporary name beside ``out_path`` to write to; renamed to ``out_path`` when the
    block ends without error, removed when it fails, so no half-written file is left."""
    part = out_path.with_name(f".{out_path.name}.part")
    try:
        yield part
        os.replace(part, out_path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise MusevizError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise


class AudioTrack:
    """The source audio into the output: packets copied, or decoded, shifted and re-encoded.

    A delay puts ``shift`` zero samples first and cuts as many at the end; an advance drops
    samples at the start and pads zeros at the end. Either way the track keeps its length
    and starts where the source's did, unless ``length_s`` or ``start_s`` say otherwise.
    At most ``shift`` samples wait in ``pending``; with ``length_s``, none.

    Parameters
    ----------
    shift_s : float
        Seconds the samples move later (negative: earlier).
    rate : int, optional
        The output's sample rate in Hz; None: the source's.
    length_s : float, optional
        The track's length: samples past it are cut, silence pads up to it. None: the
        source's length. Decoders output the last AAC frame whole, so a track whose length
        is not a whole number of frames would decode longer; a silent lead-in before the
        first sample makes it whole, and the container's edit list, which decoders honour,
        skips the lead-in: the track decodes to exactly this length.
    start_s : float, optional
        The output time of the first sample; None: the source's first timestamp.
    """

    def __init__(self, output, in_audio, shift_s: float, rate: int | None = None, length_s: float | None = None, start_s: float | None = None):
        ctx = in_audio.codec_context
        self.output = output
        unchanged = shift_s == 0 and rate in (None, ctx.sample_rate) and length_s is None and start_s is None
        self.copy = unchanged and ctx.name in COPYABLE_AUDIO_CODECS
        if self.copy:
            self.stream = output.add_stream_from_template(in_audio)
            return
        self.rate, self.channels = rate or ctx.sample_rate, ctx.channels
        # A layout without a name ("1 channels": PCM from AVI) becomes the usual one for its channel count.
        self.layout = av.AudioLayout(f"{self.channels}c").name if ctx.layout.name.endswith("channels") else ctx.layout.name
        self.stream = output.add_stream(AUDIO_CODEC, rate=self.rate, layout=self.layout)
        self.stream.bit_rate = AUDIO_BIT_RATE * self.channels
        self.resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
        shift = round(shift_s * self.rate)  # samples
        self.to_drop = max(-shift, 0)
        self.pending = np.zeros((self.channels, max(shift, 0)), np.float32)
        self.length = None if length_s is None else max(1, round(length_s * self.rate))
        self.lead_in = 0 if self.length is None else -self.length % AAC_FRAME_SAMPLES  # samples, before the first
        self.read = 0  # source samples decoded
        self.written = 0  # samples encoded: at most what was read, or the length when given
        self.start = None if start_s is None else round(start_s * self.rate)  # pts of the first sample, in 1 / rate

    def feed(self, packet) -> None:
        if self.copy:
            if packet.dts is not None:  # not the demuxer's empty flush packet
                packet.stream = self.stream
                self.output.mux(packet)
            return
        for frame in decode_packet(packet):
            if self.start is None:
                self.start = round(frame.time * self.rate) if frame.time is not None else 0
            for resampled in self.resampler.resample(frame):
                self._take(resampled.to_ndarray())

    def finish(self) -> None:
        if self.copy:
            return
        for resampled in self.resampler.resample(None):
            self._take(resampled.to_ndarray())
        self._encode(np.zeros((self.channels, self._total() - self.written), np.float32))
        self.output.mux(self.stream.encode(None))

    def _total(self) -> int:
        """Samples the track will hold, as far as known: its length, or what was read so far."""
        return self.read if self.length is None else self.length

    def _take(self, samples: np.ndarray) -> None:
        """Source samples (channels, n), in order."""
        self.read += samples.shape[1]
        dropped = min(self.to_drop, samples.shape[1])
        self.to_drop -= dropped
        queue = np.concatenate([self.pending, samples[:, dropped:]], axis=1)
        ready = max(self._total() - self.written, 0)
        # Past a given length nothing more is written; without one, only the delay's tail waits.
        self.pending = queue[:, ready:] if self.length is None else queue[:, :0]
        self._encode(queue[:, :ready])

    def _encode(self, samples: np.ndarray) -> None:
        if not samples.shape[1]:
            return
        if self.lead_in:
            self._encode_at(np.zeros((self.channels, self.lead_in), np.float32), (self.start or 0) - self.lead_in)
            self.lead_in = 0
        self._encode_at(samples, (self.start or 0) + self.written)
        self.written += samples.shape[1]

    def _encode_at(self, samples: np.ndarray, pts: int) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32), format="fltp", layout=self.layout)
        frame.sample_rate = self.rate
        frame.pts = pts
        frame.time_base = Fraction(1, self.rate)
        self.output.mux(self.stream.encode(frame))
