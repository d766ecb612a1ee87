"""One decoding pass over a clip's pictures, handed to every consumer that needs them.

The sync estimate's mouth reader, the face track, the Inspect thumbnails, SyncNet's crops
and the overlay all read the same frames; decoding them once and converting each frame
only into the forms that are asked for (its grey Y plane, its RGB picture, the decoded
frame itself) is cheaper than a pass each. Consumers take frames in display order and keep
only what they need, so memory does not grow with the clip.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

import av
import numpy as np

from museviz.media import LumaPicture, Media, RgbPicture, placed_frames


class Picture:
    """One decoded frame, converted on demand, each form at most once.

    ``frame`` the decoded ``av.VideoFrame`` as stored (not turned); ``luma`` the upright
    (h, w) uint8 grey picture; ``rgb`` the upright (h, w, 3) uint8 RGB picture.
    """

    def __init__(self, frame: av.VideoFrame, forms: _Forms):
        self.frame = frame
        self._forms = forms

    @functools.cached_property
    def luma(self) -> np.ndarray:
        return self._forms.luma(self.frame)

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        return self._forms.rgb(self.frame)


class _Forms:
    """The converters of one clip (each keeps its own reformatter)."""

    def __init__(self, rotation: int):
        self.luma = LumaPicture(rotation)
        self.rgb = RgbPicture(rotation)


class FrameConsumer(Protocol):
    """What the pass feeds: every placed frame in display order, then ``finish``."""

    def add(self, frame_idx: int, picture: Picture) -> None: ...

    def finish(self) -> None: ...


def run_pass(media: Media, consumers: Sequence[FrameConsumer], progress: Callable[[float], None] | None = None) -> None:
    """Decode ``media`` once, give every frame to each consumer in turn, then finish them all.

    ``progress(fraction)`` is called about 50 times.
    """
    forms = _Forms(media.video.rotation)
    n_frames = media.video.n_frames
    step = max(1, n_frames // 50)
    for frame_idx, frame in placed_frames(media):
        picture = Picture(frame, forms)
        for consumer in consumers:
            consumer.add(frame_idx, picture)
        if progress and frame_idx % step == 0:
            progress(frame_idx / n_frames)
    for consumer in consumers:
        consumer.finish()


# The pass fills any queue within a second and then waits for the features either way: a
# queue of 16 MB instead of 64 took 80 MB off a 10 min 1280x720 analysis (frames and the
# decoder's buffers for them) and cost the 60 s clip's analysis nothing measurable.
WAITING_BYTES = 16 * 2**20


class Deferred:
    """A consumer that can only start once something computed meanwhile is ready (the
    overlay needs the Whisper features): until ``ready`` resolves, frames wait in a queue of
    at most ``max_waiting_bytes`` of decoded pictures; a full queue makes the pass wait.
    ``make(ready.result())`` builds the consumer, which then gets the waiting frames and the
    rest in order; ``consumer`` is it (None before). Memory: the queue, never the clip.
    """

    def __init__(self, ready: Future, make: Callable[[object], FrameConsumer], max_waiting_bytes: int = WAITING_BYTES):
        self._ready = ready
        self._make = make
        self._limit = max_waiting_bytes
        self._waiting: deque = deque()
        self._waiting_bytes = 0
        self.consumer: FrameConsumer | None = None

    def add(self, frame_idx: int, picture: Picture) -> None:
        if self.consumer is None:
            self._waiting.append((frame_idx, picture))
            self._waiting_bytes += _frame_bytes(picture.frame)
            if not self._ready.done() and self._waiting_bytes <= self._limit:
                return
            self._start()
        else:
            self.consumer.add(frame_idx, picture)

    def finish(self) -> None:
        if self.consumer is None:
            self._start()
        self.consumer.finish()

    def _start(self) -> None:
        self.consumer = self._make(self._ready.result())
        while self._waiting:
            self.consumer.add(*self._waiting.popleft())
        self._waiting_bytes = 0


def _frame_bytes(frame: av.VideoFrame) -> int:
    return sum(plane.buffer_size for plane in frame.planes)
