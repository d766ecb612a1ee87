"""Every frame of a clip kept as a small JPEG, so one frame can be shown at once.

Seeking into H.264 means decoding from the previous keyframe, which can be hundreds of
frames away; the Inspect view must answer a slider move in well under a second, so the
frames are decoded once, scaled down and compressed, within a memory budget.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from museviz.media import Media, RgbPicture

MAX_WIDTH = 480  # px: the Inspect view shows frames about this wide
MIN_WIDTH = 96  # px: never smaller than this, even for very long clips
BUDGET_BYTES = 64 * 2**20  # all thumbnails of one clip together
JPEG_BYTES_PER_PIXEL = 0.2  # a generous estimate at JPEG_QUALITY
JPEG_QUALITY = 85


class FrameStore:
    """Thumbnails of every decoded frame, indexed like ``media.video.frame_times_s``."""

    def __init__(self, jpegs: list[bytes | None]):
        self._jpegs = jpegs

    def frame(self, frame_idx: int) -> np.ndarray | None:
        """Frame ``frame_idx`` as (h, w, 3) uint8 RGB, or None if it could not be decoded."""
        data = self._jpegs[frame_idx]
        if data is None:
            return None
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


class ThumbnailKeeper:
    """A consumer of the decoding pass (``museviz.videopass``): each frame scaled down and
    kept as a JPEG; ``finish`` gives the ``FrameStore`` (also kept as ``store``)."""

    def __init__(self, media: Media):
        self._to_rgb = RgbPicture(media.video.rotation, thumbnail_size(*media.video.display_size, media.video.n_frames))
        self._jpegs: list[bytes | None] = [None] * media.video.n_frames
        self.store: FrameStore | None = None

    def add(self, frame_idx: int, picture) -> None:
        ok, data = cv2.imencode(".jpg", self._to_rgb(picture.frame)[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        self._jpegs[frame_idx] = data.tobytes() if ok else None

    def finish(self) -> FrameStore:
        self.store = FrameStore(self._jpegs)
        return self.store


def thumbnail_size(width: int, height: int, n_frames: int) -> tuple[int, int]:
    """(w, h) no wider than ``MAX_WIDTH`` with all frames fitting ``BUDGET_BYTES``; even sizes."""
    per_frame_px = BUDGET_BYTES / max(n_frames, 1) / JPEG_BYTES_PER_PIXEL
    fit_width = math.sqrt(per_frame_px * width / max(height, 1))
    thumb_w = int(max(min(MAX_WIDTH, width, fit_width), min(MIN_WIDTH, width)))
    thumb_h = max(round(height * thumb_w / max(width, 1)), 2)
    return thumb_w // 2 * 2 or 2, thumb_h // 2 * 2
