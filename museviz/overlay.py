"""The overlay video: every source frame above a strip that shows what each rule reads.

The strip reads like a video editor's audio lanes. Both feature streams (mel80 and
whisper50) are colour-mapped lanes that scroll past a fixed playhead at the frame's real
time; under each lane, one bracket per selected rule marks the window that rule pairs with
this frame, in the rule's palette colour; a table below gives the numbers.

Rendering is a consumer of decoded frames: ``OverlayWriter`` takes the source frames, in
display order, from whatever loop decodes the clip (``add``), paints each one's strip,
encodes and muxes it; it reads the source's audio packets itself, in step with the video,
and copies them (or re-encodes them when shifted). ``render_overlay`` is the loop for a
caller that wants the overlay alone. Nothing grows with the clip but the lane images,
which hold one column per feature. The picture is copied in YUV, untouched; the strip is
painted in YUV too, from parts converted from RGB once.

Geometry is in pixels at ``UNIT_WIDTH``, scaled with the output width (``unit``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from museviz.analysis import Analysis
from museviz.errors import MusevizError
from museviz.grid import SOURCE_FALLBACK
from museviz.media import VideoInfo, placed_frames, plane_array, upright
from museviz.palette import LEVEL_COLORS, rule_rgb
from museviz.remux import MP4_OPTIONS, AudioTrack
from museviz.rules import MEL80, STREAM_RATES, WHISPER50, Schedule

DEFAULT_OVERLAY_RULES = ("exact", "musetalk-v1", "musetalk-v1.5", "wav2lip")

# Encoding: what a browser plays. The benchmark's plain re-encode uses the same settings.
# No B-frames, the smallest motion search, no sub-block partitions: the strip's lanes and
# ruler move every frame, and searching them both ways cost x264 1.66x its time on the
# picture padded with black under veryfast's defaults, 1.27x so (600 frames at 640x622, one
# thread), for files a quarter bigger at the same quality (PSNR of picture and strip
# within 0.3 dB).
VIDEO_CODEC = "libx264"
VIDEO_PIX_FMT = "yuv420p"  # 4:2:0 needs even sizes: odd ones get a 1 px pad
VIDEO_OPTIONS = {"preset": "veryfast", "crf": "23", "bf": "0", "x264-params": "me=dia:subme=1:partitions=none"}

# Size of the output.
MIN_OUTPUT_WIDTH = 640  # px: narrower sources are upscaled so the strip text stays legible
MAX_UPSCALED_HEIGHT = 1080  # px: ... unless that would make the picture taller than this
UNIT_WIDTH = 640  # px: the strip below is laid out for this width, and scaled with it
MAX_UNIT = 3.0  # the strip stops growing at 3 x (1920 px wide)

# The strip, in px at unit 1.
LANE_PX_PER_S = 300  # lanes scroll at this speed: about 2 s of context around the playhead
HEADER_H = 22
RULER_H = 22  # second labels above, one tick per video frame below
LANE_H = 48
BRACKET_ROW_H = 12
TABLE_TOP_PAD = 4
TABLE_ROW_H = 16
MARGIN = 6
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.4
SMALL_FONT_SCALE = 0.34
HATCH_PERIOD = 6  # px: diagonal stripes where there is no audio
MACROBLOCK = 16  # px: H.264 codes blocks this big; the playhead stays inside one column of them
LANE_NAMES_W = 112  # px: the lanes' names stand in a column this wide (whole macroblocks) left of them
SCROLL_TILE_WIDTHS = 4  # the ruler and the lanes are drawn this many output widths at a time
MAX_TEXT_PATCHES = 2048  # rendered labels kept for reuse
AUDIO_AHEAD_S = 0.5  # audio is muxed up to this far past the video frame just written
# Output frames, painted in turn and handed to the encoder's thread, which gives each back
# once encoded. With the encoding in the caller's thread the overlay took 1.45-1.66x the
# padded re-encode (bench_overlay's a'), with this thread 1.29-1.40x, the same with 2 to 8
# frames waiting. Frames made anew for each one and freed in the other thread fragmented
# the heap: a 10 minute 1280x720 analysis grew from 620 to 970 MB.
ENCODE_FRAMES = 4

STRIP_RGB = (246, 246, 246)
TEXT_RGB = (30, 30, 30)
MUTED_RGB = (110, 110, 110)
HATCH_RGB = ((150, 150, 150), (185, 185, 185))
PLAYHEAD_EDGE_RGB = (0, 0, 0)
MISSING_RGB = tuple(int(LEVEL_COLORS["error"][i : i + 2], 16) for i in (1, 3, 5))  # "no chunk" text

LANE_COLORMAPS = {MEL80: cv2.COLORMAP_MAGMA, WHISPER50: cv2.COLORMAP_VIRIDIS}
ROBUST_PERCENTILES = (1.0, 99.5)  # colour range of a lane, over the whole clip
ENCODER_Z_RANGE = 2.5  # encoder states: per-dimension z-scores shown over +-2.5

Progress = Callable[[float, str], None]


def render_overlay(
    analysis: Analysis,
    out_path: str | os.PathLike,
    *,
    rules: Sequence[str] = DEFAULT_OVERLAY_RULES,
    shift_ms: float = 0.0,
    layer: int = -1,
    progress: Progress | None = None,
) -> Path:
    """Write the overlay video of an analysed clip to ``out_path`` (an mp4).

    Decodes the source once and hands every frame to an ``OverlayWriter`` (see there for
    what the output holds); a loop that decodes the clip for other reasons too can feed
    the writer itself instead.

    Parameters
    ----------
    analysis : Analysis
        From ``museviz.analysis.analyze``; its file is read again for the pictures.
    out_path : str or os.PathLike
        The mp4 to write (H.264 yuv420p + AAC); nothing is left there if rendering fails.
    rules, shift_ms, layer
        As for ``OverlayWriter``.
    progress : callable (fraction, message), optional

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    MusevizError
        For an unknown rule or layer, or a source or destination that cannot be used.
    """
    report = progress or (lambda _f, _d: None)
    report(0.0, "Colour-mapping the feature lanes")
    n_frames = analysis.media.video.n_frames
    every = max(1, n_frames // 100)
    with OverlayWriter(analysis, out_path, rules=rules, shift_ms=shift_ms, layer=layer) as writer:
        for done, (frame_idx, frame) in enumerate(placed_frames(analysis.media), start=1):
            writer.add(frame_idx, frame)
            if done % every == 0:
                report(done / n_frames, f"Rendering frame {done} of {n_frames}")
    report(1.0, "Done")
    return Path(out_path)


class OverlayWriter:
    """The overlay video of an analysed clip, written from decoded source frames.

    Each output frame is the source frame (upscaled when narrower than
    ``MIN_OUTPUT_WIDTH``, padded to even sizes) above the strip; it keeps the source
    frame's presentation timestamp and time base, so a writer fed every frame writes the
    source's frame count and every frame time. The source audio is copied packet for
    packet when ``shift_ms`` is 0 and its codec fits mp4; otherwise it is decoded and
    re-encoded as AAC at its own rate and channel layout. The writer reads the audio from
    the source file itself, in step with the frames it is given.

    The caller decodes: ``add(frame_idx, frame)`` for each frame in display order (as
    decoded, not yet turned upright), then ``finish()``, or use the writer as a context
    manager. ``add`` paints the frame's strip and puts the picture above it, in the
    caller's thread, and hands the frame to a thread of the writer's that encodes and muxes
    it (``_Encoder``): x264 spreads each frame over threads of its own but makes the call
    wait for them, and meanwhile the caller decodes and paints the next frames. The writer
    paints into ``ENCODE_FRAMES`` output frames in turn, so memory does not grow with the
    clip. The file appears at ``out_path`` when ``finish`` succeeds; ``close`` (or an
    exception in the ``with`` block, or in ``add``) discards it.

    Parameters
    ----------
    analysis : Analysis
        From ``museviz.analysis.analyze``.
    out_path : str or os.PathLike
        The mp4 to write (H.264 yuv420p + AAC).
    rules : sequence of str
        Rules (names in ``museviz.rules.RULES``, scheduled in ``analysis.schedules``) whose
        windows are bracketed.
    shift_ms : float
        Re-time the audio: > 0 delays it (sound later), < 0 advances it. Samples are padded
        and dropped so the audio keeps its duration, and the lanes show the shifted audio's
        features (the clip's features moved, not recomputed) under the same rule windows:
        what the clip would look like re-timed.
    layer : int
        Which layer of ``analysis.whisper.features`` (W, layers, dim) the whisper50 lane shows.

    Raises
    ------
    MusevizError
        For an unknown rule or layer, or a source or destination that cannot be used.
    """

    def __init__(
        self,
        analysis: Analysis,
        out_path: str | os.PathLike,
        *,
        rules: Sequence[str] = DEFAULT_OVERLAY_RULES,
        shift_ms: float = 0.0,
        layer: int = -1,
    ):
        out_path = Path(out_path)
        rules = [rules] if isinstance(rules, str) else list(rules)
        _check_rules(rules, analysis)
        _check_layer(analysis, layer)
        if out_path.exists() and out_path.samefile(analysis.media.path):
            raise MusevizError(f"{out_path.name} is the video being read: write the overlay to another file")
        self.video = analysis.media.video
        self.geometry = _geometry(*self.video.display_size, len(rules))
        self.strip = _Strip(analysis, rules, self.geometry, shift_ms / 1000, layer)
        self.out_path = out_path
        self._part = out_path.with_name(f".{out_path.name}.part")
        try:
            self._output = av.open(str(self._part), "w", format="mp4", options=MP4_OPTIONS)
        except (av.FFmpegError, OSError) as exc:
            raise MusevizError(f"cannot write {out_path}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            self._stream = _add_video_stream(self._output, self.video, self.geometry)
            self._audio = _SourceAudio.open(analysis.media.path, self._output, shift_ms / 1000)
        except BaseException:
            self._discard()
            raise
        self._encoder = _Encoder(self._output, self._stream, self._audio, lambda: _output_frame(self.geometry))
        self._last_frame = -1
        self._state = "open"

    def add(self, frame_idx: int, frame: av.VideoFrame) -> None:
        """Write source frame ``frame_idx`` (an index into ``frame_times_s``) above its strip."""
        if self._state != "open":
            raise RuntimeError(f"this OverlayWriter is {self._state}")
        if not 0 <= frame_idx < self.video.n_frames:
            raise ValueError(f"frame {frame_idx} does not exist: the clip has frames 0 to {self.video.n_frames - 1}")
        if frame_idx <= self._last_frame:
            raise ValueError(f"frame {frame_idx} comes after frame {self._last_frame}: hand the frames over in display order")
        self._last_frame = frame_idx
        try:
            out = self._encoder.frame()
            _paint_strip(out, self.strip, frame_idx)
            _compose(_upright(frame, self.video.rotation), out, self.geometry)
            out.pts = int(self.video.frame_pts[frame_idx])
            out.time_base = self.video.time_base
            self._encoder.put(out)
        except (av.FFmpegError, OSError) as exc:  # met by the encoder's thread (the file opens with the first frame muxed)
            self._discard()
            raise MusevizError(f"cannot write {self.out_path}: {getattr(exc, 'strerror', None) or exc}") from None
        except BaseException:
            self._discard()
            raise

    def finish(self) -> Path:
        """Flush the encoder, add the rest of the audio and write the file; returns its path."""
        if self._state != "open":
            raise RuntimeError(f"this OverlayWriter is {self._state}")
        try:
            self._encoder.join()
            self._output.mux(self._stream.encode())
            if self._audio is not None:
                self._audio.finish()
            self._output.close()
            if self._audio is not None:
                self._audio.close()
            os.replace(self._part, self.out_path)
        except (av.FFmpegError, OSError) as exc:
            self._discard()
            raise MusevizError(f"cannot write {self.out_path}: {getattr(exc, 'strerror', None) or exc}") from None
        except BaseException:
            self._discard()
            raise
        self._state = "finished"
        return self.out_path

    def close(self) -> None:
        """Stop and discard the file, unless ``finish`` wrote it."""
        if self._state == "open":
            self._discard()

    def __enter__(self) -> OverlayWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()

    def _discard(self) -> None:
        self._state = "closed"
        if getattr(self, "_encoder", None) is not None:
            self._encoder.stop()
        for container in (getattr(self, "_output", None), getattr(getattr(self, "_audio", None), "container", None)):
            if container is not None:
                try:
                    container.close()
                except (av.FFmpegError, OSError):
                    pass
        self._part.unlink(missing_ok=True)


class FrameView:
    """The overlay's picture of any one frame, drawn on demand without writing a video:
    the frame above the strip of both streams and each rule's window (a few ms a frame)."""

    def __init__(self, analysis: Analysis, rules: Sequence[str] = DEFAULT_OVERLAY_RULES, layer: int = -1):
        rules = list(rules)
        _check_rules(rules, analysis)
        _check_layer(analysis, layer)
        self.geometry = _geometry(*analysis.media.video.display_size, len(rules))
        self.strip = _Strip(analysis, rules, self.geometry, 0.0, layer)

    def render(self, frame_idx: int, picture: np.ndarray | None) -> np.ndarray:
        """(height, width, 3) uint8 RGB: ``picture`` (any size, scaled to fit; black when
        None) above the strip of frame ``frame_idx``."""
        g = self.geometry
        out = np.zeros((g.height, g.width, 3), np.uint8)
        if picture is not None:
            scaled = cv2.resize(picture, (g.picture_w, g.picture_h), interpolation=cv2.INTER_LINEAR)
            out[: g.picture_h, g.picture_x : g.picture_x + g.picture_w] = scaled
        out[g.picture_area_h :] = self.strip.draw(frame_idx)
        return out


def _check_rules(rules: list[str], analysis: Analysis) -> None:
    unknown = [name for name in rules if name not in analysis.schedules]
    if unknown:
        raise MusevizError(f"unknown rule {unknown[0]!r}: choose from {', '.join(analysis.schedules)}")


def _check_layer(analysis: Analysis, layer: int) -> None:
    n_layers = analysis.whisper.features.shape[1]
    if not -n_layers <= layer < n_layers:
        raise MusevizError(f"whisper50 layer {layer} does not exist: these features have {n_layers} (0 to {n_layers - 1}, or -1 for the last)")


# --- Geometry -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """Where things go in an output frame, in px. The picture sits at (picture_x, 0)."""

    picture_w: int
    picture_h: int
    picture_x: int
    width: int  # of the output frame; even
    picture_area_h: int  # picture_h rounded up to even
    strip_h: int  # even
    unit: float

    @property
    def height(self) -> int:
        return self.picture_area_h + self.strip_h

    def px(self, unit_px: float) -> int:
        """A size given at unit 1, at this output's scale."""
        return max(1, round(unit_px * self.unit))

    def even_px(self, unit_px: float) -> int:
        """``px``, rounded up to even: the height of a part of the strip, on the chroma grid."""
        return _even(self.px(unit_px))


def _geometry(src_w: int, src_h: int, n_rules: int) -> _Geometry:
    """Upscale narrow sources (within ``MAX_UPSCALED_HEIGHT``), pad to even, size the strip."""
    scale = max(1.0, min(MIN_OUTPUT_WIDTH / src_w, MAX_UPSCALED_HEIGHT / src_h))
    picture_w, picture_h = (src_w, src_h) if scale == 1.0 else (_even(src_w * scale), _even(src_h * scale))
    width = _even(max(picture_w, MIN_OUTPUT_WIDTH))
    unit = min(width / UNIT_WIDTH, MAX_UNIT)
    geometry = _Geometry(picture_w, picture_h, (width - picture_w) // 4 * 2, width, _even(picture_h), 0, unit)  # x even: chroma is half size
    px = geometry.even_px
    strip_h = px(HEADER_H) + px(RULER_H) + 2 * px(LANE_H) + n_rules * (px(BRACKET_ROW_H) + px(TABLE_ROW_H)) + px(TABLE_TOP_PAD) + px(MARGIN)
    return dataclasses.replace(geometry, strip_h=strip_h)


def _even(n: float) -> int:
    return 2 * math.ceil(round(n, 6) / 2)


# --- The strip ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Lane:
    """A stream colour-mapped once for the whole clip.

    ``image`` (lane_h, n_features + 2, 3) uint8 RGB: column ``j + 1`` is feature ``j``;
    columns 0 and ``n_features + 1`` stand for "no audio" before and after.
    """

    stream: str
    label: str  # lines of its name, shown left of the lane
    image: np.ndarray

    @property
    def n_features(self) -> int:
        return self.image.shape[1] - 2


@dataclass(frozen=True, eq=False)
class _Track:
    """One rule on the strip: its schedule, the chunk shown with each frame (-1: none), and
    per chunk its window's centre (s) and what happens at its edges."""

    name: str
    schedule: Schedule
    rgb: tuple[int, int, int]
    yuv: tuple[int, int, int]
    chunk_of_frame: np.ndarray
    centre_s: np.ndarray
    windows_s: np.ndarray  # (n_chunks, 4): window start, end; the part over the audio
    notes: list[str]

    @property
    def label(self) -> str:
        """The rule's name, with the grid it reads when that is not the lane's."""
        s = self.schedule
        return self.name if s.grid == s.stream else f"{self.name} ({s.grid})"


@dataclass(frozen=True, eq=False)
class _Patch:
    """A piece of the strip ready to paste into I420 planes: ``y`` (h, w) and, when it has
    colour, ``u`` and ``v`` (h / 2, w / 2); a grey patch (None) leaves the chroma as it is.
    ``baseline``: the row of a text's baseline."""

    y: np.ndarray
    u: np.ndarray | None
    v: np.ndarray | None
    baseline: int = 0


Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y (h, w), U and V (h / 2, w / 2) of the strip


class _Strip:
    """Paints the strip under one frame into I420 planes; everything that does not move is
    prepared here, in I420 too, so a frame costs copies and a few glyphs.

    The background and the scrolling parts (ruler and lanes) are drawn in RGB once and
    converted; per frame, text that is grey touches only the luma plane, and coloured
    marks are placed on the 2 x 2 chroma grid. ``paint`` (the writer) and ``draw`` (the app's
    Inspect view, from its threads) only read the prepared state, apart from the caches of
    rendered text and of the scrolling parts.
    """

    def __init__(self, analysis: Analysis, rules: Sequence[str], geometry: _Geometry, shift_s: float, layer: int):
        g = self.g = geometry
        self.times_s = analysis.timeline.frame_times_s
        self.shift_s = shift_s
        self.px_per_s = LANE_PX_PER_S * g.unit
        self.font_scale, self.small_scale = FONT_SCALE * g.unit, SMALL_FONT_SCALE * g.unit
        self.thickness = max(1, round(g.unit))
        # The ruler and the lanes scroll right of a column of names, whole macroblocks wide,
        # with the playhead in their middle, inside one column of macroblocks: the encoder
        # codes anew on every frame each block where a still mark meets moving ones.
        self.lanes_x = -(-g.px(LANE_NAMES_W) // MACROBLOCK) * MACROBLOCK
        middle = (self.lanes_x + g.width) // 2
        self.playhead_x = middle // MACROBLOCK * MACROBLOCK + (MACROBLOCK - 3 * self.thickness) // 2 + self.thickness
        self.margin, self.row_h, self.table_row_h, self.lane_h = g.px(MARGIN), g.even_px(BRACKET_ROW_H), g.even_px(TABLE_ROW_H), g.even_px(LANE_H)
        self.fps_text = _fps_text(analysis)
        self.fps = analysis.timeline.fps
        self.shift_text = f"audio shifted {shift_s * 1000:+.0f} ms ({'later' if shift_s > 0 else 'earlier'})" if shift_s else ""
        self.tracks = [_track(name, analysis.schedules[name], len(self.times_s)) for name in rules]
        self.windows_px = {t.name: (t.windows_s * self.px_per_s).tolist() for t in self.tracks}
        self.lanes = [
            _Lane(MEL80, "mel80  80 Hz", _lane_image(analysis.mel80, self.lane_h, MEL80, robust=True)),
            _whisper_lane(analysis, layer, self.lane_h),
        ]
        self.layout = self._layout()
        self.table_columns = self._table_columns()
        self.patches: dict[tuple, _Patch] = {}
        self.background = _i420(self._background())
        self.text_y = _yuv(TEXT_RGB)[0]
        self.edge_y = _yuv(PLAYHEAD_EDGE_RGB)[0]
        self.tile: tuple[int, dict[str, Planes]] | None = None  # (first x, each scrolling part)

    def _layout(self) -> dict[str, int]:
        """Top y of each part of the strip, in strip px: even, for the chroma grid."""
        g = self.g
        y = g.even_px(HEADER_H)
        layout = {"ruler": y, "ruler-base": y + g.even_px(RULER_H) - g.px(7)}
        y += g.even_px(RULER_H)
        for lane in self.lanes:
            layout[lane.stream] = y
            y += self.lane_h
            layout[lane.stream + "-rows"] = y
            y += self.row_h * sum(t.schedule.stream == lane.stream for t in self.tracks)
        layout["lanes-end"] = y
        layout["table"] = y + g.even_px(TABLE_TOP_PAD)
        return layout

    def _background(self) -> np.ndarray:
        """The parts that never move, in RGB: background, the lanes' and the rules' names,
        table swatches, the shift."""
        g = self.g
        strip = np.empty((g.strip_h, g.width, 3), np.uint8)
        strip[:] = STRIP_RGB
        line_h = self._text_size("Ag", small=True)[1] + g.px(4)
        for lane in self.lanes:
            for i, line in enumerate(lane.label.split("\n")):
                line = self._fitted(line, self.lanes_x - 2 * self.margin)
                self._text_rgb(strip, line, (self.margin, self.layout[lane.stream] + (i + 1) * line_h - g.px(2)), TEXT_RGB if i == 0 else MUTED_RGB, small=True)
        for lane in self.lanes:
            for row, track in enumerate(self._rows(lane)):
                top = self.layout[lane.stream + "-rows"] + row * self.row_h
                self._text_rgb(strip, track.label, (self.margin, top + g.px(9)), track.rgb, small=True)
        for row, track in enumerate(self.tracks):
            top = self.layout["table"] + row * self.table_row_h
            swatch = g.px(10)
            cv2.rectangle(strip, (self.margin, top + g.px(3)), (self.margin + swatch, top + g.px(3) + swatch), track.rgb, -1)
            self._text_rgb(strip, track.label, (self.margin + g.px(16), top + g.px(12)), TEXT_RGB)
        if self.shift_text:
            x = g.width - self._text_size(self.shift_text)[0] - self.margin
            self._text_rgb(strip, self.shift_text, (x, g.px(15)), MISSING_RGB)
        return strip

    def _rows(self, lane: _Lane) -> list[_Track]:
        """The tracks bracketed under ``lane``, top to bottom."""
        return [t for t in self.tracks if t.schedule.stream == lane.stream]

    def draw(self, frame_idx: int) -> np.ndarray:
        """The strip under frame ``frame_idx``: (strip_h, width, 3) uint8 RGB, as the video shows it."""
        g = self.g
        buffer = np.empty((g.strip_h * 3 // 2, g.width), np.uint8)
        self.paint(frame_idx, _i420_planes(buffer.ravel(), g.width, g.strip_h))
        return cv2.cvtColor(buffer, cv2.COLOR_YUV2RGB_I420)

    def paint(self, frame_idx: int, planes: Planes) -> None:
        """Paint the strip under frame ``frame_idx`` into ``planes`` (views of the output frame)."""
        t_s = float(self.times_s[frame_idx])
        for plane, background in zip(planes, self.background):
            plane[:] = background
        self._header(planes[0], frame_idx, t_s)
        self._scrolling(planes, t_s)
        for lane in self.lanes:
            for row, track in enumerate(self._rows(lane)):
                self._bracket(planes, track, frame_idx, t_s, self.layout[lane.stream + "-rows"] + row * self.row_h)
        self._playhead(planes)
        for row, track in enumerate(self.tracks):
            self._table_row(planes, track, frame_idx, t_s, self.layout["table"] + row * self.table_row_h)

    def x_of(self, t_s, now_s: float):
        """Strip x of audio time ``t_s`` (float or array) when the playhead is at ``now_s``.

        Audio time ``t`` has the place ``t * px_per_s`` on one long axis; strip column ``x``
        shows its place ``_first_x(now_s) + x`` (the lanes and the ruler fill the columns
        from ``lanes_x`` on): an even number, so that the strips of successive frames are
        exact shifts of one another on the chroma grid too, and the encoder finds them so.
        """
        return t_s * self.px_per_s - self._first_x(now_s)

    def _first_x(self, now_s: float) -> int:
        """The place, on the long axis, of strip column 0 when the playhead is at ``now_s``."""
        return 2 * round((now_s * self.px_per_s - self.playhead_x) / 2)

    def _header(self, luma: np.ndarray, frame_idx: int, t_s: float) -> None:
        text = f"frame {frame_idx} / {len(self.times_s)}    t = {t_s:.3f} s    {self.fps_text}"
        cv2.putText(luma, text, (self.margin, self.g.px(15)), FONT, self.font_scale, self.text_y, self.thickness, cv2.LINE_AA)

    def _scrolling(self, planes: Planes, t_s: float) -> None:
        """The ruler and the lanes around ``t_s``: cut from images of them along the long
        axis, drawn ``SCROLL_TILE_WIDTHS`` strip widths at a time (a tile)."""
        g = self.g
        first_x = self._first_x(t_s) + self.lanes_x  # the place of the first column shown
        width = g.width - self.lanes_x
        tile = self.tile
        if tile is None or not tile[0] <= first_x <= tile[0] + (SCROLL_TILE_WIDTHS - 1) * g.width:
            start = first_x - g.width // 4 * 2  # some room behind too: FrameView's slider goes both ways
            tile = start, {part: _i420(image) for part, image in self._tile(start, SCROLL_TILE_WIDTHS * g.width).items()}
            self.tile = tile  # one assignment: threads drawing at once each see a whole tile
        x = first_x - tile[0]
        for part, part_planes in tile[1].items():
            top = self.layout[part]
            for shift, plane, image in zip((0, 1, 1), planes, part_planes):
                plane[top >> shift : (top >> shift) + image.shape[0], self.lanes_x >> shift :] = image[:, x >> shift : (x + width) >> shift]

    def _tile(self, first_x: int, n: int) -> dict[str, np.ndarray]:
        """The scrolling parts of the strip, in RGB, at places ``first_x`` to ``first_x + n`` of the long axis."""
        return {"ruler": self._ruler_tile(first_x, n), **{lane.stream: self._lane_tile(lane, first_x, n) for lane in self.lanes}}

    def _ruler_tile(self, first_x: int, n: int) -> np.ndarray:
        """Seconds labelled every 0.5 s, ticks every 0.1 s, and one tick per video frame below."""
        g = self.g
        tile = np.empty((g.even_px(RULER_H), n, 3), np.uint8)
        tile[:] = STRIP_RGB
        base = self.layout["ruler-base"] - self.layout["ruler"]
        tile[base] = MUTED_RGB
        reach = self._text_size("-0000.0 s", small=True)[0]  # labels of ticks outside the tile reach into it
        tenths = np.arange(math.floor((first_x - reach) / self.px_per_s * 10), math.ceil((first_x + n + reach) / self.px_per_s * 10) + 1)
        xs = np.round(tenths / 10 * self.px_per_s).astype(np.intp) - first_x
        inside = (xs >= 0) & (xs < n)
        major = tenths % 5 == 0
        tile[base - g.px(2) : base, xs[inside & ~major]] = MUTED_RGB
        tile[base - g.px(5) : base, xs[inside & major]] = MUTED_RGB
        for tenth, x in zip(tenths[major], xs[major]):
            label = f"{tenth / 10:g} s"
            self._text_rgb(tile, label, (x - self._text_size(label, small=True)[0] // 2, base - g.px(7)), MUTED_RGB, small=True)
        lo, hi = np.searchsorted(self.times_s, [first_x / self.px_per_s, (first_x + n) / self.px_per_s])
        frame_xs = np.round(self.times_s[lo:hi] * self.px_per_s).astype(np.intp) - first_x
        tile[base + 1 : base + g.px(5), frame_xs[(frame_xs >= 0) & (frame_xs < n)]] = MUTED_RGB
        return tile

    def _lane_tile(self, lane: _Lane, first_x: int, n: int) -> np.ndarray:
        """The lane image resampled at each place (nearest feature); hatched where there is no audio."""
        g = self.g
        rate = STREAM_RATES[lane.stream]
        xs = np.arange(first_x, first_x + n)
        times_s = xs / self.px_per_s
        feature = np.floor((times_s - self.shift_s) * rate + 0.5)
        # Shifted audio keeps its length: its last features are cut, not moved past the end.
        feature[np.floor(times_s * rate + 0.5) >= lane.n_features] = lane.n_features
        column = np.clip(feature, -1, lane.n_features).astype(np.intp) + 1
        tile = np.take(lane.image, column, axis=1)
        silent = (column == 0) | (column == lane.n_features + 1)
        if silent.any():
            stripes = (xs[silent][None, :] + np.arange(self.lane_h)[:, None]) // g.px(HATCH_PERIOD) % 2
            tile[:, silent] = np.asarray(HATCH_RGB, np.uint8)[stripes]
        return tile

    def _bracket(self, planes: Planes, track: _Track, frame_idx: int, t_s: float, top: int) -> None:
        """The window as ``|____|`` under the lane: thick where it reads audio, thin outside it."""
        g = self.g
        k = track.chunk_of_frame[frame_idx]
        if k < 0:
            return
        first_x = self._first_x(t_s)
        start, end, inside0, inside1 = self.windows_px[track.name][k]
        x0, x1 = round(start - first_x), round(end - first_x)
        inside = (round(inside0 - first_x), round(inside1 - first_x)) if inside1 > inside0 else None
        shown, right = self.lanes_x, g.width - 1  # the columns under the lanes
        if x1 < shown or x0 > right:
            offset_s = float(track.centre_s[k]) - t_s
            text = f"<< window {offset_s:+.2f} s" if x1 < shown else f"window {offset_s:+.2f} s >>"
            x = self.table_columns[0] if x1 < shown else g.width - self._text_size(text, small=True)[0] - self.margin
            self._text(planes, text, (x, top + g.px(9)), track.rgb, small=True)
        elif x0 - self.thickness >= shown and x1 + self.thickness <= right:
            # Whole: a bracket of this shape is drawn once and pasted, from an even column.
            left = x0 - self.thickness & ~1
            key = ("bracket", track.name, x0 - left, x1 - left, None if inside is None else (inside[0] - left, inside[1] - left))
            sprite = self.patches.get(key) or self._bracket_sprite(key, track)
            _paste(planes, sprite, left, top)
        else:
            self._bracket_marks(planes, track, x0, x1, inside, top, shown, right)

    def _bracket_sprite(self, key: tuple, track: _Track) -> _Patch:
        _kind, _name, x0, x1, inside = key
        width = _even(x1 + self.thickness + 1)
        planes = tuple(np.full(shape, value, np.uint8) for shape, value in zip(((self.row_h, width), (self.row_h // 2, width // 2), (self.row_h // 2, width // 2)), _yuv(STRIP_RGB)))
        self._bracket_marks(planes, track, x0, x1, inside, 0, 0, width - 1)
        self.patches[key] = sprite = _Patch(*planes)
        return sprite

    def _bracket_marks(self, planes: Planes, track: _Track, x0: int, x1: int, inside: tuple[int, int] | None, top: int, shown: int, right: int) -> None:
        """The bracket's bottom line, its thick part over the audio and its two ends, cut to columns ``shown``..``right``."""
        g = self.g
        bottom = top + self.row_h - g.px(2)
        _fill(planes, max(x0, shown), bottom, min(x1, right), bottom, track.yuv)
        if inside is not None:
            _fill(planes, max(inside[0], shown), bottom - g.px(3) + 1, min(inside[1], right), bottom, track.yuv)
        for x in (x0, x1):
            if shown <= x <= right:
                left = x - (self.thickness - 1) // 2
                _fill(planes, max(left, shown), top + g.px(1), min(left + self.thickness - 1, right), bottom, track.yuv)

    def _playhead(self, planes: Planes) -> None:
        """A marker on the ruler pointing down at the lanes, and a black line through the
        rows under each lane; the lanes themselves stay whole (the encoder would code every
        block a line cuts through them anew on every frame)."""
        g = self.g
        luma, u, v = planes
        x, edge = self.playhead_x, self.thickness
        top = self.layout["ruler-base"]
        spans = [(top, self.layout[self.lanes[0].stream])]
        spans += [(self.layout[lane.stream] + self.lane_h, self.layout[later.stream]) for lane, later in zip(self.lanes, self.lanes[1:])]
        spans.append((self.layout[self.lanes[-1].stream] + self.lane_h, self.layout["lanes-end"]))
        for start, end in spans:
            luma[start:end, x - edge : x + 2 * edge] = self.edge_y
            u[start // 2 : end // 2, (x - edge) // 2 : (x + 2 * edge + 1) // 2] = 128
            v[start // 2 : end // 2, (x - edge) // 2 : (x + 2 * edge + 1) // 2] = 128
        size = g.px(5)
        triangle = np.array([[x - size, top - size], [x + size + edge, top - size], [x + edge // 2, top]], np.int32)
        cv2.fillConvexPoly(luma, triangle, self.edge_y, cv2.LINE_AA)

    def _table_columns(self) -> list[int]:
        """x of the table's columns (name, chunk, window, centre, edges), from the widest cell each can hold."""
        widest = [
            max((f"chunk {t.schedule.n_chunks}" for t in self.tracks), key=len, default=""),
            max((_widest_window_text(t.schedule) for t in self.tracks), key=len, default=""),
            max((f"centre {np.nanmax(np.abs(t.schedule.drift_s), initial=0) * -1000:+.0f} ms" for t in self.tracks), key=len, default=""),
        ]
        gap = self.g.px(12)
        x = self.margin + self.g.px(16) + max((self._text_size(t.label)[0] for t in self.tracks), default=0) + gap
        columns = [x]
        for cell in widest:
            x += self._text_size(cell)[0] + gap
            columns.append(x)
        return columns

    def _table_row(self, planes: Planes, track: _Track, frame_idx: int, t_s: float, top: int) -> None:
        k = track.chunk_of_frame[frame_idx]
        y = top + self.g.px(12)
        if k < 0:
            self._text(planes, _missing_text(track.schedule, frame_idx, self.fps), (self.table_columns[0], y), MISSING_RGB)
            return
        for x, cell in zip(self.table_columns, _window_cells(track, k, t_s)):
            if cell:
                self._text(planes, cell, (x, y), TEXT_RGB)

    def _fitted(self, text: str, width: int) -> str:
        """``text``, cut short with ".." to fit ``width`` px in the small font."""
        if self._text_size(text, small=True)[0] <= width:
            return text
        while text and self._text_size(text + "..", small=True)[0] > width:
            text = text[:-1]
        return text + ".."

    def _text_size(self, text: str, small: bool = False) -> tuple[int, int]:
        return cv2.getTextSize(text, FONT, self.small_scale if small else self.font_scale, 1 if small else self.thickness)[0]

    def _text(self, planes: Planes, text: str, origin: tuple[int, int], rgb, small: bool = False) -> None:
        """Paste ``text`` with its baseline at ``origin``, drawn once (on the strip's
        background) for as long as it recurs; coloured text goes to the chroma grid."""
        patch = self.patches.get((text, rgb, STRIP_RGB, small, 0)) or self._patch(text, rgb, STRIP_RGB, small)
        x, y = origin[0], origin[1] - patch.baseline
        if patch.u is not None:
            x, y = x & ~1, y & ~1
        _paste(planes, patch, x, y)

    def _text_rgb(self, image: np.ndarray, text: str, origin: tuple[int, int], rgb, small: bool = False) -> None:
        """Write ``text`` into an RGB image, with its baseline at ``origin``."""
        cv2.putText(image, text, origin, FONT, self.small_scale if small else self.font_scale, rgb, 1 if small else self.thickness, cv2.LINE_AA)

    def _patch(self, text: str, rgb, background, small: bool, pad: int = 0) -> _Patch:
        """``text`` on ``background`` with ``pad`` px around (and room for descenders), even in size.

        Grey on grey is drawn straight into a luma patch (a blend of two greys is the same
        blend of their lumas); colour is drawn in RGB and converted.
        """
        key = (text, rgb, background, small, pad)
        patch = self.patches.get(key)
        if patch is None:
            if len(self.patches) > MAX_TEXT_PATCHES:
                self.patches.clear()
            width, height = self._text_size(text, small)
            size = (_even(height + self._descent(small) + 2 * pad), _even(width + 2 * pad))
            origin, scale, thickness = (pad, pad + height), self.small_scale if small else self.font_scale, 1 if small else self.thickness
            if len({*rgb}) == len({*background}) == 1 and background == STRIP_RGB:
                luma = np.full(size, _yuv(background)[0], np.uint8)
                cv2.putText(luma, text, origin, FONT, scale, _yuv(rgb)[0], thickness, cv2.LINE_AA)
                patch = _Patch(luma, None, None, pad + height)
            else:
                image = np.empty((*size, 3), np.uint8)
                image[:] = background
                cv2.putText(image, text, origin, FONT, scale, rgb, thickness, cv2.LINE_AA)
                patch = _Patch(*_i420(image), pad + height)
            self.patches[key] = patch
        return patch

    def _descent(self, small: bool) -> int:
        """px below the baseline that a patch keeps, for descenders."""
        return self.g.px(3 if small else 4)


def _i420(rgb: np.ndarray) -> Planes:
    """An (h, w, 3) RGB image, h and w even, as its Y, U and V planes."""
    height, width = rgb.shape[:2]
    return _i420_planes(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).ravel(), width, height)


@functools.lru_cache(maxsize=None)
def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """A colour's Y, U and V, as the strip's conversion makes them."""
    return tuple(int(plane[0, 0]) for plane in _i420(np.full((2, 2, 3), rgb, np.uint8)))


def _paste(planes: Planes, patch: _Patch, x: int, y: int) -> None:
    """Put ``patch`` with its top left at (x, y), cut at the edges; (x, y) even for a coloured patch."""
    luma = planes[0]
    height, width = patch.y.shape
    if x >= 0 and y >= 0 and x + width <= luma.shape[1] and y + height <= luma.shape[0]:  # most patches: whole
        luma[y : y + height, x : x + width] = patch.y
        if patch.u is not None:
            planes[1][y // 2 : (y + height) // 2, x // 2 : (x + width) // 2] = patch.u
            planes[2][y // 2 : (y + height) // 2, x // 2 : (x + width) // 2] = patch.v
        return
    left, top = max(x, 0), max(y, 0)
    right, bottom = min(x + width, luma.shape[1]), min(y + height, luma.shape[0])
    if right <= left or bottom <= top:
        return
    luma[top:bottom, left:right] = patch.y[top - y : bottom - y, left - x : right - x]
    if patch.u is not None:
        for plane, chroma in zip(planes[1:], (patch.u, patch.v)):
            plane[top // 2 : bottom // 2, left // 2 : right // 2] = chroma[(top - y) // 2 : (bottom - y) // 2, (left - x) // 2 : (right - x) // 2]


def _fill(planes: Planes, x0: int, y0: int, x1: int, y1: int, yuv: tuple[int, int, int]) -> None:
    """Fill the luma rectangle x0..x1, y0..y1 (inclusive) with a colour, and the chroma
    samples it touches (a thin mark is coloured in full, not blended into its neighbours)."""
    if x1 < x0 or y1 < y0:
        return
    planes[0][y0 : y1 + 1, x0 : x1 + 1] = yuv[0]
    planes[1][y0 // 2 : y1 // 2 + 1, x0 // 2 : x1 // 2 + 1] = yuv[1]
    planes[2][y0 // 2 : y1 // 2 + 1, x0 // 2 : x1 // 2 + 1] = yuv[2]


def _track(name: str, schedule: Schedule, n_frames: int) -> _Track:
    """A rule's schedule, looked up per frame as ``chunk_for_frame`` does (the first chunk)."""
    chunk_of_frame = np.full(n_frames, -1, np.int64)
    shown = np.flatnonzero((schedule.source_frame >= 0) & (schedule.source_frame < n_frames))
    frames, first = np.unique(schedule.source_frame[shown], return_index=True)
    chunk_of_frame[frames] = shown[first]
    flags = [
        (schedule.clamped, "edge-clamped"),
        (schedule.zero_padded, "zero-padded"),
        (schedule.pinned, "pinned to end"),
        (schedule.past_audio, "past audio"),
        (schedule.dropped, "skipped"),
    ]
    codes = np.zeros(schedule.n_chunks, np.intp)  # bit i: flag i
    for bit, (flag, _note) in enumerate(flags):
        codes |= flag.astype(np.intp) << bit
    text = {code: ", ".join(note for bit, (_flag, note) in enumerate(flags) if code >> bit & 1) for code in np.unique(codes).tolist()}
    notes = [text[code] for code in codes.tolist()]
    windows_s = np.concatenate([schedule.windows_s(), schedule.windows_s(within_audio=True)], axis=1)
    rgb = rule_rgb(name)
    return _Track(name, schedule, rgb, _yuv(rgb), chunk_of_frame, schedule.centre_s, windows_s, notes)


def _widest_window_text(s: Schedule) -> str:
    """The longest ``window_text`` a schedule can show, for sizing a column (its first and
    last chunks hold its extremes)."""
    return max((s.window_text(k) for k in {0, s.n_chunks - 1} if s.n_chunks), key=len, default="")


def _window_cells(track: _Track, k: int, t_s: float) -> tuple[str, str, str, str]:
    """``chunk 12``, ``tokens 20..29``, ``centre +10 ms`` (window centre minus frame time), edges."""
    s = track.schedule
    drift_ms = (float(track.centre_s[k]) - t_s) * 1000
    return f"chunk {k}", s.window_text(k), f"centre {drift_ms:+.0f} ms", track.notes[k]


def _missing_text(s: Schedule, frame_idx: int, fps: float | None = None) -> str:
    """Why no chunk goes with this frame (``fps``: the clip's rate, to tell a system that
    makes fewer frames a second)."""
    if s.exit_frame is not None and frame_idx >= s.exit_frame:
        return f"no chunk: the process exits at frame {s.exit_frame}"
    if s.error and not s.n_chunks:
        return "no chunk: " + s.error.split(":")[0]
    shown = s.source_frame[s.source_frame >= 0]
    if len(shown) and frame_idx > shown.max():
        return f"no chunk: its {s.n_chunks} chunks end at frame {shown.max()} (audio ends)"
    if fps is not None and s.fps_used < fps - 1e-9:
        return f"no chunk: it makes {s.fps_used:g} frames a second"
    return "no chunk shows this frame"


def _fps_text(analysis: Analysis) -> str:
    video = analysis.media.video
    rate = video.fps_fraction
    if video.vfr:
        return f"variable frame rate (average {float(rate):.3f} fps)"
    exact = f"{rate.numerator}/{rate.denominator}" if rate.denominator != 1 else f"{rate.numerator}"
    return f"{float(rate):.3f} fps ({exact})" if rate.denominator != 1 else f"{exact} fps"


def _whisper_lane(analysis: Analysis, layer: int, lane_h: int) -> _Lane:
    """whisper50 at ``layer``: encoder states per dimension, or the log-mel fallback."""
    w = analysis.whisper
    features = w.features[:, layer, :].T  # (dim, W)
    n_layers = w.features.shape[1]
    if w.source == SOURCE_FALLBACK:
        label = f"whisper50  50 Hz\n{SOURCE_FALLBACK}\n(no weights)"
        return _Lane(WHISPER50, label, _lane_image(features, lane_h, WHISPER50, robust=True))
    label = f"whisper50  50 Hz\n{w.model or 'encoder'}\nlayer {layer % n_layers} of 0..{n_layers - 1}"
    return _Lane(WHISPER50, label, _lane_image(features, lane_h, WHISPER50, robust=False))


def _lane_image(features: np.ndarray, lane_h: int, stream: str, robust: bool) -> np.ndarray:
    """Colour-map (dim, n) features to a (lane_h, n + 2, 3) uint8 lane, dimension 0 at the bottom.

    ``robust``: one colour range for the whole array (its percentiles), for spectrograms;
    otherwise each dimension is z-scored, for encoder states whose dimensions differ in scale.
    """
    unit = np.array(features, np.float32)  # one copy, scaled in place (a 10 minute clip's states are 46 MB)
    if unit.size and robust:
        lo, hi = np.percentile(unit, ROBUST_PERCENTILES)
        unit -= lo
        unit /= max(hi - lo, 1e-6)
    elif unit.size:
        spread = unit.std(axis=1, keepdims=True) + 1e-6
        unit -= unit.mean(axis=1, keepdims=True)
        unit /= spread
        unit += ENCODER_Z_RANGE
        unit /= 2 * ENCODER_Z_RANGE
    rows = _rows_to_height(unit, lane_h)[::-1]
    levels = np.round(np.clip(rows, 0, 1) * 255).astype(np.uint8)
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], LANE_COLORMAPS[stream])[:, 0, ::-1]
    image = np.zeros((lane_h, levels.shape[1] + 2, 3), np.uint8)
    image[:, 1:-1] = lut[levels]
    return image


def _rows_to_height(values: np.ndarray, height: int) -> np.ndarray:
    """(dim, n) -> (height, n): rows averaged in groups, or repeated, to fill ``height``."""
    dim = values.shape[0]
    if dim == 0:
        return np.zeros((height, values.shape[1]), np.float32)
    starts = np.arange(height) * dim // height
    counts = np.maximum(np.diff(np.append(starts, dim)), 1)
    return np.add.reduceat(values, starts, axis=0) / counts[:, None]


# --- Encoding -------------------------------------------------------------------------


class _Encoder:
    """Encodes and muxes an ``OverlayWriter``'s frames, with the audio beside them, in a
    thread of its own.

    It owns ``ENCODE_FRAMES`` output frames (made by ``new_frame``): the writer takes one
    (``frame``, which waits while all are queued), paints it and hands it over (``put``);
    the thread gives it back once encoded (x264 has copied it by then). The first error the
    thread meets is kept and raised to the writer by the next ``frame``, ``put`` or
    ``join``; the frames after it are given back unencoded, so the writer never waits for
    nothing.
    """

    def __init__(self, output, stream, audio: _SourceAudio | None, new_frame: Callable[[], av.VideoFrame]):
        self._output, self._stream, self._audio = output, stream, audio
        self._free: queue.SimpleQueue[av.VideoFrame] = queue.SimpleQueue()
        for _ in range(ENCODE_FRAMES):
            self._free.put(new_frame())
        self._frames: queue.SimpleQueue[av.VideoFrame | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="museviz-overlay-encoder", daemon=True)
        self._thread.start()

    def frame(self) -> av.VideoFrame:
        """An output frame to paint, free once the thread has encoded what it held."""
        self._raise()
        return self._free.get()

    def put(self, frame: av.VideoFrame) -> None:
        self._raise()
        self._frames.put(frame)

    def join(self) -> None:
        """Wait until every frame put is muxed; raises the thread's error, if any."""
        self.stop()
        self._raise()

    def stop(self) -> None:
        """Let the thread finish what is queued and end; errors stay kept."""
        if self._thread.is_alive():
            self._frames.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (frame := self._frames.get()) is not None:
            if self._error is None:
                try:
                    self._output.mux(self._stream.encode(frame))
                    if self._audio is not None:
                        self._audio.until(float(frame.pts * frame.time_base) + AUDIO_AHEAD_S)
                except BaseException as exc:  # handed to the writer's thread, which raises it
                    self._error = exc
            self._free.put(frame)


@dataclass(eq=False)
class _SourceAudio:
    """The source's audio packets into the output, read from the source file in step with
    the video written (``until``), so the mp4 interleaves them."""

    container: av.container.InputContainer
    track: AudioTrack
    packets: Iterator
    time_base: Fraction
    waiting: av.Packet | None = None

    @classmethod
    def open(cls, path: str, output, shift_s: float) -> _SourceAudio | None:
        """None when the source has no audio."""
        try:
            container = av.open(path)
        except (av.FFmpegError, OSError) as exc:
            raise MusevizError(f"{os.path.basename(path)} cannot be read again for the overlay ({exc})") from None
        if not container.streams.audio:
            container.close()
            return None
        stream = container.streams.audio[0]
        return cls(container, AudioTrack(output, stream, shift_s), container.demux(stream), stream.time_base)

    def until(self, t_s: float) -> None:
        """Mux the packets that start at or before ``t_s`` (container time, s)."""
        while True:
            packet = self.waiting or next(self.packets, None)
            if packet is None:
                return
            if packet.pts is not None and packet.pts * self.time_base > t_s:
                self.waiting = packet
                return
            self.waiting = None
            self.track.feed(packet)

    def finish(self) -> None:
        self.until(math.inf)
        self.track.finish()

    def close(self) -> None:
        self.container.close()


def _add_video_stream(output, video: VideoInfo, g: _Geometry):
    """libx264 in the source's time base, so every pts is kept as it is."""
    stream = output.add_stream(VIDEO_CODEC, rate=video.fps_fraction or Fraction(25), options=dict(VIDEO_OPTIONS))
    stream.width, stream.height, stream.pix_fmt = g.width, g.height, VIDEO_PIX_FMT
    stream.time_base = video.time_base
    stream.codec_context.time_base = video.time_base
    stream.codec_context.thread_type = "AUTO"
    return stream


def _upright(frame: av.VideoFrame, rotation: int) -> av.VideoFrame:
    """A phone video's frame turned as players show it (a slower RGB path, only when rotated)."""
    if not rotation:
        return frame
    return av.VideoFrame.from_ndarray(upright(frame.to_ndarray(format="rgb24"), rotation), format="rgb24")


def _output_frame(g: _Geometry) -> av.VideoFrame:
    """An output frame, black where the picture goes (around a narrow one, and in its 1 px pad, it stays so)."""
    out = av.VideoFrame(g.width, g.height, VIDEO_PIX_FMT)
    for shift, black, plane in zip((0, 1, 1), (16, 128, 128), out.planes):
        plane_array(plane)[: g.picture_area_h >> shift] = black
    return out


def _paint_strip(out: av.VideoFrame, strip: _Strip, frame_idx: int) -> None:
    """Paint the strip of frame ``frame_idx`` into an output frame."""
    g = strip.g
    strip.paint(frame_idx, tuple(plane_array(plane)[g.picture_area_h >> shift :] for shift, plane in zip((0, 1, 1), out.planes)))


def _compose(frame: av.VideoFrame, out: av.VideoFrame, g: _Geometry) -> None:
    """The source picture's YUV planes as they are (scaled only to upscale) into ``out``, above its strip."""
    if frame.format.name != VIDEO_PIX_FMT or (frame.width, frame.height) != (g.picture_w, g.picture_h):
        frame = frame.reformat(width=g.picture_w, height=g.picture_h, format=VIDEO_PIX_FMT)
    for shift, out_plane, picture_plane in zip((0, 1, 1), out.planes, frame.planes):
        target, picture = plane_array(out_plane), plane_array(picture_plane)
        x = g.picture_x >> shift
        target[: picture.shape[0], x : x + picture.shape[1]] = picture


def _i420_planes(buffer: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y (height, width), U and V (height / 2, width / 2) planes of a flat I420 buffer."""
    luma, chroma = width * height, width * height // 4
    return (
        buffer[:luma].reshape(height, width),
        buffer[luma : luma + chroma].reshape(height // 2, width // 2),
        buffer[luma + chroma :].reshape(height // 2, width // 2),
    )
