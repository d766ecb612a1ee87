"""How open the mouth is in one frame: the dark share of the mouth, cut out upright.

An open mouth shows its dark inside; closed lips, lips pressed together for /p b m/, and
teeth show none. So the mouth is cut out of the grey picture along the face's own axes
(centred on the 20 lip landmarks, level with the eyes, ``MOUTH_CROP_EYES`` eye distances
wide, so its size follows the face and not the camera), and its openness is how much of
the crop's middle is darker than ``DARK_FRACTION`` of the crop's median grey: a ratio, so
a light that brightens or dims the whole face by 20% changes nothing, and bright teeth
count as closed. On real faces this follows speech better than the distance between the
lip landmarks, which tracks a smile as much as an opening (see ``museviz.sync``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from museviz.errors import MusevizError
from museviz.face import LEFT_EYE, LIPS, RIGHT_EYE, FaceTracker, eye_distance, face_boxes, yaw_ratio

CROP_W, CROP_H = 32, 20  # px of the mouth crop
MOUTH_CROP_EYES = 1.3  # crop width in eye distances: the lips and a margin of cheek
SAMPLE_MAX_W = 128  # px: the crop is first sampled at most this wide, then area-averaged down (no aliasing)
DARK_FRACTION = 0.7  # a pixel darker than this share of the crop's median grey is (partly) the mouth's inside
INSIDE = (slice(5, 15), slice(9, 23))  # rows, columns of the crop where the inside of an open mouth appears
LANDMARK_EVERY_S = 0.1  # s between landmark fits (every third frame at 25 and 30 fps); frames between are interpolated
ROI_FACE, ROI_USER, ROI_DEFAULT = "face", "user", "default"  # where the mouth was measured


def anchors(landmarks: np.ndarray) -> np.ndarray:
    """(..., 6) the points the mouth crop hangs on, of (..., 68, 2) landmarks: the centres of
    the left eye, the right eye and the lips, (x, y) each."""
    return np.concatenate([landmarks[..., LEFT_EYE, :].mean(axis=-2), landmarks[..., RIGHT_EYE, :].mean(axis=-2), landmarks[..., LIPS, :].mean(axis=-2)], axis=-1)


def mouth_transform(anchor) -> tuple[np.ndarray, int, int]:
    """The affine map (2, 3) from source pixels to an upright mouth crop of (width, height) px,
    for the 6 ``anchors`` of a face; the crop is ``CROP_W`` x ``CROP_H`` or a larger multiple of it.

    The crop is level with the eyes, ``MOUTH_CROP_EYES`` eye distances wide, centred on the lips.
    """
    left_x, left_y, right_x, right_y, centre_x, centre_y = (float(v) for v in anchor)
    eyes = math.hypot(right_x - left_x, right_y - left_y)
    width = int(min(max(round(MOUTH_CROP_EYES * eyes), CROP_W), SAMPLE_MAX_W))
    height = round(width * CROP_H / CROP_W)
    angle = math.atan2(right_y - left_y, right_x - left_x)
    scale = width / (MOUTH_CROP_EYES * eyes)
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)  # rotate by -angle (level the eyes), then scale
    matrix = np.array([
        [cos, sin, width / 2 - cos * centre_x - sin * centre_y],
        [-sin, cos, height / 2 + sin * centre_x - cos * centre_y],
    ])
    return matrix, width, height


def mouth_crop(gray: np.ndarray, anchor) -> np.ndarray:
    """(CROP_H, CROP_W) uint8: the mouth of ``gray`` (h, w) cut out upright around a face's 6 ``anchors``."""
    import cv2

    matrix, width, height = mouth_transform(anchor)
    crop = cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop if width == CROP_W else cv2.resize(crop, (CROP_W, CROP_H), interpolation=cv2.INTER_AREA)


def mouth_boxes(anchor: np.ndarray) -> np.ndarray:
    """(n, 4) bounding boxes (x, y, w, h px) of the mouth crops of (n, 6) ``anchors``."""
    across = anchor[:, 2:4] - anchor[:, 0:2]
    width = MOUTH_CROP_EYES * np.hypot(across[:, 0], across[:, 1])
    height = width * CROP_H / CROP_W
    angle = np.arctan2(across[:, 1], across[:, 0])
    cos, sin = np.abs(np.cos(angle)), np.abs(np.sin(angle))
    half_x, half_y = (width * cos + height * sin) / 2, (width * sin + height * cos) / 2
    centre = anchor[:, 4:6]
    return np.stack([centre[:, 0] - half_x, centre[:, 1] - half_y, 2 * half_x, 2 * half_y], axis=1)


def region_crop(gray: np.ndarray, box_px: tuple[int, int, int, int]) -> np.ndarray:
    """(CROP_H, CROP_W) uint8: a fixed region (x, y, w, h px) of ``gray``, for a mouth region the user gives."""
    import cv2

    x, y, w, h = box_px
    return cv2.resize(gray[y : y + h, x : x + w], (CROP_W, CROP_H), interpolation=cv2.INTER_AREA)


def darkness(crop: np.ndarray) -> float:
    """How much of the crop's ``INSIDE`` is dark (0..1): each pixel counts by how far it falls
    below ``DARK_FRACTION`` of the crop's median grey (0 at that level, 1 at black), so a
    mouth opening or closing changes the measure smoothly rather than a pixel at a time."""
    level = DARK_FRACTION * float(np.median(crop))
    if level <= 0:
        return math.nan
    inside = crop[INSIDE].astype(np.float32)
    return float(np.clip(level - inside, 0.0, None).mean() / level)


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


@dataclass(frozen=True, eq=False)
class MouthTrack:
    """The mouth of every frame: ``signal`` (n_frames,) darkness (NaN where not measured);
    ``face_boxes_px`` and ``mouth_boxes_px`` (n_frames, 4) x, y, w, h in source pixels (NaN
    where none); where it was measured (``source``: "face", "user" or "default" and the
    ``roi`` used) and how good the face was."""

    signal: np.ndarray
    face_boxes_px: np.ndarray
    mouth_boxes_px: np.ndarray
    source: str
    roi: Roi | None
    face_fraction: float | None
    eye_distance_px: float | None
    yaw_ratio: float | None
    notes: list[str]


class MouthReader:
    """A consumer of the decoding pass (``museviz.videopass``): fed every frame in order
    (``add``), ``finish`` gives the ``MouthTrack`` (also kept as ``track``).

    With no ``roi`` the face is tracked (``museviz.face``) and the mouth crop follows its
    landmarks, fitted every ``LANDMARK_EVERY_S``; in between, the crop's anchors and the face
    box are interpolated (a head moves a few pixels in 0.1 s, and the darkness is still read
    in every frame: fitting every frame measured the same on the real clips, at three times
    the cost). In frames without a face the darkness of ``DEFAULT_ROI`` is read instead, for
    when no face is found at all. With a ``roi`` the mouth is that region of every frame.
    The frames between two fits wait for the second one.
    """

    def __init__(self, frame_times_s: np.ndarray, display_size: tuple[int, int], roi: Roi | None = None, min_frames: int = 1):
        n_frames = len(frame_times_s)
        self._times_s = frame_times_s
        self._roi = roi
        self._min_frames = min_frames
        self._region_box = (roi or DEFAULT_ROI).box_px(*display_size)
        self._region_signal = np.full(n_frames, np.nan)
        self._face_signal = np.full(n_frames, np.nan)
        self._anchors = np.full((n_frames, 6), np.nan)
        self._boxes = np.full((n_frames, 4), np.nan)
        self._fitted = np.full((n_frames, 68, 2), np.nan, np.float32)  # landmarks where they were fitted
        self._tracker = None if roi is not None else FaceTracker(frame_times_s)
        self._last_fit: tuple[int, np.ndarray | None] | None = None  # (frame_idx, anchors and face box) of the latest fit
        self._waiting: list[tuple[int, np.ndarray]] = []
        self.settled = -1  # frames up to this one are measured: their face boxes are final

    def face_box(self, frame_idx: int) -> np.ndarray | None:
        """(4,) the face box (x, y, w, h px) of a settled frame, None where it has no face."""
        box = self._boxes[frame_idx]
        return box if np.isfinite(box[0]) else None

    def add(self, frame_idx: int, picture) -> None:
        """Frame ``frame_idx`` (a ``museviz.videopass.Picture``: its upright grey picture is read)."""
        gray = picture.luma
        if self._tracker is None:
            self._region_signal[frame_idx] = darkness(region_crop(gray, self._region_box))
            return
        if self._last_fit is not None and self._times_s[frame_idx] - self._times_s[self._last_fit[0]] < LANDMARK_EVERY_S - 1e-9:
            self._waiting.append((frame_idx, gray))
            return
        landmarks = self._tracker.add(frame_idx, gray)
        placed = None  # the crop's anchors and the face box, side by side
        if landmarks is not None:
            self._fitted[frame_idx] = landmarks
            placed = np.concatenate([anchors(landmarks), face_boxes(landmarks[np.newaxis])[0]])
        for waiting_idx, waiting_gray in self._waiting:
            self._measure(waiting_idx, waiting_gray, _between(self._last_fit, (frame_idx, placed), waiting_idx))
        self._waiting = []
        self._measure(frame_idx, gray, placed)
        self._last_fit = (frame_idx, placed)
        self.settled = frame_idx

    def finish(self) -> MouthTrack:
        self.track = self._track()
        return self.track

    def _track(self) -> MouthTrack:
        n_frames = len(self._region_signal)
        region_boxes = np.tile(np.array(self._region_box, float), (n_frames, 1))
        no_faces = np.full((n_frames, 4), np.nan)
        if self._tracker is None:
            return MouthTrack(self._region_signal, no_faces, region_boxes, ROI_USER, self._roi, None, None, None, [])
        for waiting_idx, waiting_gray in self._waiting:
            self._measure(waiting_idx, waiting_gray, self._last_fit[1])
        self._waiting = []
        self.settled = n_frames - 1
        found = np.isfinite(self._face_signal)
        fraction = float(found.mean()) if n_frames else 0.0
        if np.count_nonzero(found) >= self._min_frames:
            landmarks = self._fitted[np.isfinite(self._fitted[:, 0, 0])]
            mouths = np.full((n_frames, 4), np.nan)
            mouths[found] = mouth_boxes(self._anchors[found])
            eyes, yaw = float(np.median(eye_distance(landmarks))), float(np.nanmedian(yaw_ratio(landmarks)))
            return MouthTrack(self._face_signal, self._boxes, mouths, ROI_FACE, None, fraction, eyes, yaw, [])
        note = (
            f"no face found (in {fraction:.0%} of the frames): the mouth was measured in the default region, the lower centre "
            f"of the frame ({DEFAULT_ROI} as x,y,w,h fractions); set the region to where the mouth is"
        )
        return MouthTrack(self._region_signal, no_faces, region_boxes, ROI_DEFAULT, DEFAULT_ROI, fraction, None, None, [note])

    def _measure(self, frame_idx: int, gray: np.ndarray, placed: np.ndarray | None) -> None:
        if placed is None:
            self._region_signal[frame_idx] = darkness(region_crop(gray, self._region_box))
            return
        self._face_signal[frame_idx] = darkness(mouth_crop(gray, placed[:6]))
        self._anchors[frame_idx] = placed[:6]
        self._boxes[frame_idx] = placed[6:]


def _between(before: tuple[int, np.ndarray | None] | None, after: tuple[int, np.ndarray | None], frame_idx: int) -> np.ndarray | None:
    """Where the face is at ``frame_idx`` between two fits ``(frame_idx, placement or None)``:
    linear between two faces, the one face when only one fit found it."""
    first = None if before is None else before[1]
    if first is None or after[1] is None:
        return after[1] if after[1] is not None else first
    weight = (frame_idx - before[0]) / (after[0] - before[0])
    return (1 - weight) * first + weight * after[1]
