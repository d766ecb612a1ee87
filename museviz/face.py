"""Find a face and its 68 landmarks in every frame, offline, with dlib.

The face is found with dlib's HOG frontal-face detector every ``DETECT_EVERY_S`` (and
whenever it is lost); in between, each frame's landmarks are fitted inside a box drawn
around the previous frame's landmarks, so every frame gets its own 68 points for about
1 ms. The points follow iBUG 300-W's numbering: jaw 0-16, brows 17-26, nose 27-35, eyes
36-47, outer lips 48-59, inner lips 60-67.

The landmark model is ``shape_predictor_68_face_landmarks.dat`` from the
``face-recognition-models`` package; it was trained on iBUG 300-W, whose licence excludes
commercial use.

Everything here works on the upright grey picture in source pixels: ``(x, y)`` with x to
the right and y down.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from dataclasses import dataclass

import numpy as np

from museviz.errors import MusevizError

LANDMARK_MODEL = "shape_predictor_68_face_landmarks.dat"
N_LANDMARKS = 68
LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)  # the eyes on the left and on the right of the picture
LIPS = slice(48, 68)
NOSE_TIP, CHIN, JAW_LEFT, JAW_RIGHT = 30, 8, 0, 16

DETECT_EVERY_S = 2.0  # s between detector runs (the landmarks follow the face in between)
DETECT_MAX_HEIGHT = 360  # px: a search of the whole picture looks at it shrunk to at most this tall
SMALL_FACE_SEARCH_EVERY_S = 4.0  # s between searches at twice that size (faces down to 40 px there), while no face is tracked
TRACKED_FACE_PX = 100  # px: a tracked face is searched for near where it was, shrunk to about this wide (the detector's smallest is 80)
TRACKED_SEARCH_MARGIN = 0.5  # face widths of margin around the tracked box in that search
MAX_TRACK_S = 2.0  # s: landmarks follow a face this long after the detector last saw it
# dlib's detector box around the landmarks' bounding box (measured on 53 detections in three real
# clips: mean offsets of its edges in box widths; the box is 2.44 interocular distances wide).
BOX_WIDTH_OVER_LANDMARKS = 1 / 0.927
BOX_TOP_ABOVE_LANDMARKS = 0.09  # box widths above the highest landmark (the brows)
BOX_BOTTOM_ABOVE_LANDMARKS = 0.074  # box widths above the lowest landmark (the chin)
FIT_MARGIN = 0.5  # face widths of picture around the box the landmarks are fitted in (they stay well inside)
MIN_EYE_DISTANCE_PX = 4.0  # landmarks with the eyes closer than this are a failed fit


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """The face of every frame.

    ``landmarks`` (n_frames, 68, 2) float32 source pixels, NaN where no face was found;
    ``detected`` (n_frames,) bool, the frames where the detector itself ran and found the
    face (the others were tracked).
    """

    landmarks: np.ndarray
    detected: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """(n_frames,) bool: frames with landmarks."""
        return np.isfinite(self.landmarks[:, 0, 0])

    @property
    def face_fraction(self) -> float:
        """The share of frames with a face."""
        return float(self.found.mean()) if len(self.found) else 0.0


def eye_distance(landmarks: np.ndarray) -> np.ndarray:
    """(...,) px between the centres of the two eyes of (..., 68, 2) landmarks: the face's scale."""
    return np.linalg.norm(landmarks[..., RIGHT_EYE, :].mean(axis=-2) - landmarks[..., LEFT_EYE, :].mean(axis=-2), axis=-1)


def face_boxes(landmarks: np.ndarray) -> np.ndarray:
    """(n, 4) face boxes (x, y, w, h px) of (n, 68, 2) landmarks, drawn as dlib's detector draws
    them (brows to a little above the chin); NaN where the landmarks are."""
    low, high = landmarks.min(axis=1), landmarks.max(axis=1)
    width = (high[:, 0] - low[:, 0]) * BOX_WIDTH_OVER_LANDMARKS
    centre_x = (low[:, 0] + high[:, 0]) / 2
    top = low[:, 1] - BOX_TOP_ABOVE_LANDMARKS * width
    bottom = high[:, 1] - BOX_BOTTOM_ABOVE_LANDMARKS * width
    return np.stack([centre_x - width / 2, top, width, bottom - top], axis=1)


def yaw_ratio(landmarks: np.ndarray) -> np.ndarray:
    """(...,) how far the head is turned: the nose tip's horizontal distance to the nearer jaw
    edge over its distance to the farther one; 1 for a frontal face, towards 0 in profile."""
    nose = landmarks[..., NOSE_TIP, 0]
    left = np.abs(nose - landmarks[..., JAW_LEFT, 0])
    right = np.abs(landmarks[..., JAW_RIGHT, 0] - nose)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.minimum(left, right) / np.maximum(left, right)


@functools.lru_cache(maxsize=1)
def _models():
    """dlib's face detector and the 68-point landmark predictor, loaded once per process."""
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(landmark_model_path())


def landmark_model_path() -> str:
    """Where ``face-recognition-models`` keeps the 68-point model.

    The package is located without importing it: its ``__init__`` needs ``pkg_resources``,
    which recent setuptools no longer ship.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = os.path.join(folder, "models", LANDMARK_MODEL)
        if os.path.isfile(path):
            return path
    raise MusevizError(f"the face landmark model {LANDMARK_MODEL} is missing: pip install face-recognition-models")


class FaceTracker:
    """Feed it every frame's grey picture in order (``add``); ``finish`` gives the ``FaceTrack``.

    Parameters
    ----------
    frame_times_s : np.ndarray, shape (n_frames,)
        Presentation times of the frames, to pace the detector.
    """

    def __init__(self, frame_times_s: np.ndarray):
        self._detector, self._predictor = _models()
        self._times_s = frame_times_s
        self._landmarks = np.full((len(frame_times_s), N_LANDMARKS, 2), np.nan, np.float32)
        self._detected = np.zeros(len(frame_times_s), bool)
        self._box: tuple[float, float, float, float] | None = None  # (left, top, right, bottom) to fit in
        self._last_detect_s = -math.inf
        self._last_small_search_s = -math.inf
        self._last_seen_s = -math.inf

    def add(self, frame_idx: int, gray: np.ndarray) -> np.ndarray | None:
        """Fit the landmarks of frame ``frame_idx`` (``gray``: (h, w) uint8, upright, C-contiguous);
        returns its (68, 2) landmarks or None when no face is found."""
        t_s = float(self._times_s[frame_idx])
        if self._box is None or t_s - self._last_detect_s >= DETECT_EVERY_S - 1e-9:
            self._last_detect_s = t_s
            found = self._detect(gray)
            if found is not None:
                self._box, self._last_seen_s = found, t_s
                self._detected[frame_idx] = True
            elif t_s - self._last_seen_s > MAX_TRACK_S:
                self._box = None
        if self._box is None:
            return None
        points = self._fit(gray, self._box)
        if points is None:
            self._box = None
            return None
        self._landmarks[frame_idx] = points
        box = face_boxes(points[np.newaxis])[0]
        self._box = (box[0], box[1], box[0] + box[2], box[1] + box[3])
        return points

    def finish(self) -> FaceTrack:
        return FaceTrack(self._landmarks, self._detected)

    def _fit(self, gray: np.ndarray, box) -> np.ndarray | None:
        import dlib

        left, top, right, bottom = (int(round(v)) for v in box)
        # Fitted in a packed copy of the face and its surroundings: the predictor reads a few
        # thousand scattered pixels, and in a fresh frame each would be a cache miss.
        margin = int(FIT_MARGIN * (right - left))
        x0, y0 = max(0, left - margin), max(0, top - margin)
        near = np.ascontiguousarray(gray[y0 : max(y0, bottom + margin), x0 : max(x0, right + margin)])
        shape = self._predictor(near, dlib.rectangle(left - x0, top - y0, right - x0, bottom - y0))
        points = np.array([(p.x + x0, p.y + y0) for p in shape.parts()], np.float32)
        if eye_distance(points) < MIN_EYE_DISTANCE_PX:
            return None
        return points

    def _detect(self, gray: np.ndarray):
        """The face box (left, top, right, bottom px): near the tracked face when there is
        one, else the largest in the picture; None when the detector finds none."""
        if self._box is not None:
            found = self._detect_near(gray, self._box)
            if found is not None:
                return found
        height = gray.shape[0]
        scale = min(1.0, DETECT_MAX_HEIGHT / height)
        faces = self._run_detector(gray, (0, 0, gray.shape[1], height), scale, upsample=0)
        t_s = self._last_detect_s
        if not faces and self._box is None and t_s - self._last_small_search_s >= SMALL_FACE_SEARCH_EVERY_S - 1e-9:
            self._last_small_search_s = t_s
            faces = self._run_detector(gray, (0, 0, gray.shape[1], height), scale, upsample=1)
        return max(faces, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])) if faces else None

    def _detect_near(self, gray: np.ndarray, box):
        """The face nearest ``box`` in a crop around it, shrunk so that the face is about
        ``TRACKED_FACE_PX`` wide."""
        left, top, right, bottom = box
        width = right - left
        margin = TRACKED_SEARCH_MARGIN * width
        region = (max(0, int(left - margin)), max(0, int(top - margin)), min(gray.shape[1], int(right + margin)), min(gray.shape[0], int(bottom + margin)))
        faces = self._run_detector(gray, region, min(1.0, TRACKED_FACE_PX / max(width, 1.0)), upsample=0)
        if not faces:
            return None
        cx, cy = (left + right) / 2, (top + bottom) / 2
        return min(faces, key=lambda b: math.hypot((b[0] + b[2]) / 2 - cx, (b[1] + b[3]) / 2 - cy))

    def _run_detector(self, gray: np.ndarray, region, scale: float, upsample: int) -> list[tuple[float, float, float, float]]:
        """Face boxes (left, top, right, bottom px of ``gray``) in ``region`` (x0, y0, x1, y1)
        shrunk by ``scale``."""
        import cv2

        x0, y0, x1, y1 = region
        if x1 - x0 < 2 or y1 - y0 < 2:
            return []
        crop = gray[y0:y1, x0:x1]
        if scale < 1.0:
            crop = cv2.resize(crop, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))), interpolation=cv2.INTER_AREA)
        crop = np.ascontiguousarray(crop)  # dlib reads rows as if packed: a strided view gives it other memory
        return [(x0 + f.left() / scale, y0 + f.top() / scale, x0 + f.right() / scale, y0 + f.bottom() / scale) for f in self._detector(crop, upsample)]
