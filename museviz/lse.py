"""From a clip to SyncNet's input, and LSE as the report shows it.

SyncNet reads 224 x 224 BGR frames at 25 fps and 16 kHz int16 audio, frame 0 starting at
audio sample 0 (``museviz.syncnet``). This module makes them from a probed clip, on the
clock of ``museviz.media`` (seconds since the first audio sample):

- audio: 16 kHz mono int16 as ffmpeg's ``pcm_s16le`` extraction gives it (``pcm16_audio``);
- frames: 25 fps slots; slot k, at k / 25 s, shows the source frame on screen at that
  instant (the last one whose presentation time is not after it; the first frame before
  the video starts). A 25 fps clip's frames are its slots; other and variable rates repeat
  or skip frames, and the report says so;
- crops, ``face``: syncnet_python's ``crop_video`` around museviz's tracked face box: with
  ``s`` half the box's larger side, a square of side ``2 (1 + 0.4) s`` centred horizontally
  on the box, its top ``s`` above the box centre, outside the frame filled with 110; the
  box centre and ``s`` median-filtered over 13 slots (scipy's ``medfilt``, zero-padded at
  the ends, as the reference); resized to 224 with bilinear interpolation. ``whole``: the
  whole frame resized to 224 (Wav2Lip's LRS mode, for clips that are already face crops).

Crops are made one decoded frame at a time in the pass the other consumers share
(``LseMeter``, ``SlotCropper``) and handed to SyncNet in batches, so memory does not grow
with the clip.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE as AUDIO_RATE, SYNCNET_CROP_PX as CROP_SIZE, SYNCNET_FPS as VIDEO_FPS
from museviz.media import Media

if TYPE_CHECKING:
    from museviz.syncnet import LseScores

CROP_FACE, CROP_WHOLE = "face", "whole"
CROP_MODES = (CROP_FACE, CROP_WHOLE)
CROP_SCALE = 0.4  # syncnet_python's crop_scale: the square's side is 2 * (1 + CROP_SCALE) * s
CROP_PAD_VALUE = 110  # grey level outside the frame
BOX_MEDFILT = 13  # slots: kernel of the median filter over the box centre and size
MAX_WAITING_BYTES = 256 * 2**20  # pictures kept while face crops wait for the face boxes after them
SLOT_TOLERANCE_S = 0.0005  # a frame this close after a slot's time is on screen at it (timestamp rounding)
AGREE_FRAMES = 1  # SyncNet's and the weight-free offsets agree within one 25 fps frame
KEEP_MIN_LSE_C = 3.0  # LatentSync keeps a clip with SyncNet confidence >= 3 ...
KEEP_MAX_OFFSET_FRAMES = 6  # ... and |offset| <= 6 frames
FEW_FACES_FRACTION = 0.9  # below this fraction of frames with a face box, the result says so

Progress = Callable[[float, str], None]


def pcm16_audio(media: Media) -> np.ndarray:
    """The clip's sound as ffmpeg's ``-ac 1 -ar 16000 -acodec pcm_s16le`` writes it for
    syncnet_python: (N,) int16 mono at 16 kHz, sample 0 the first audio sample.

    Decoded again rather than converted from ``media.audio_16k``: FFmpeg normalises a
    downmix to an integer format (stereo: (L + R) / 2) but not to float ((L + R) / sqrt 2),
    and SyncNet's first MFCC is the log energy. For a mono source the two agree:
    ``clip(round(32768 x))``.
    """
    import av

    chunks = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
    with av.open(media.path) as container:
        for packet in container.demux(audio=0):
            try:
                frames = packet.decode()
            except av.FFmpegError:  # a damaged packet, skipped as read_media skips it
                continue
            for frame in frames:
                chunks.extend(out.to_ndarray()[0] for out in resampler.resample(frame))
    chunks.extend(out.to_ndarray()[0] for out in resampler.resample(None))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


def slot_frames(frame_times_s: np.ndarray, end_s: float) -> np.ndarray:
    """The source frame shown at each 25 fps slot ``k / 25`` s, for the slots before ``end_s``.

    Returns
    -------
    np.ndarray, shape (n_slots,), int
        Indices into ``frame_times_s`` (sorted presentation times): the last frame at or
        before each slot's time, the first frame for slots before the video starts.
    """
    n_slots = max(0, int(np.ceil(end_s * VIDEO_FPS - SLOT_TOLERANCE_S * VIDEO_FPS)))
    slot_s = np.arange(n_slots) / VIDEO_FPS
    return np.maximum(np.searchsorted(frame_times_s, slot_s + SLOT_TOLERANCE_S, side="right") - 1, 0)


def median_filter(values: np.ndarray, kernel: int) -> np.ndarray:
    """scipy's ``medfilt(values, kernel)`` for an odd ``kernel``: the median of each window,
    zeros beyond the ends (without loading scipy.signal, which takes seconds)."""
    half = kernel // 2
    padded = np.concatenate([np.zeros(half, values.dtype), values, np.zeros(half, values.dtype)])
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, kernel), axis=-1).astype(values.dtype)


def slot_boxes(boxes_px: np.ndarray, slots: np.ndarray) -> np.ndarray | None:
    """(n_slots, 3) crop centre x, centre y and half-size ``s`` per slot, as syncnet_python
    smooths them: from each slot's face box (gaps interpolated, ends held), median-filtered
    over ``BOX_MEDFILT`` slots, zero-padded at the ends as scipy's ``medfilt`` is. None when
    no slot has a face box. (``SlotCropper`` computes the same slot by slot, during the pass.)"""
    boxes = boxes_px[slots]
    found = np.all(np.isfinite(boxes), axis=1)
    if not np.any(found):
        return None
    idx = np.arange(len(slots))
    x, y, w, h = (np.interp(idx, idx[found], boxes[found, i]) for i in range(4))
    return np.stack([median_filter(v, BOX_MEDFILT) for v in (x + w / 2, y + h / 2, np.maximum(w, h) / 2)], axis=1)


def face_crop(picture: np.ndarray, centre_x: float, centre_y: float, half: float) -> np.ndarray:
    """syncnet_python's crop of ``picture`` (h, w, 3): the frame padded by ``int(1.8 s)`` with
    110, the rows ``[int(cy - s), int(cy + 1.8 s))`` and columns ``[int(cx - 1.4 s),
    int(cx + 1.4 s))`` of the padded frame, resized to 224 x 224 (bilinear). Only the crop
    is padded, not the frame, with the same result."""
    import cv2

    pad = int(half * (1 + 2 * CROP_SCALE))
    height, width = picture.shape[:2]
    my, mx = centre_y + pad, centre_x + pad
    # Python's slice rules on the padded frame (clipping at its edges), as numpy applies them.
    r0, r1, _ = slice(int(my - half), int(my + half * (1 + 2 * CROP_SCALE))).indices(height + 2 * pad)
    c0, c1, _ = slice(int(mx - half * (1 + CROP_SCALE)), int(mx + half * (1 + CROP_SCALE))).indices(width + 2 * pad)
    crop = np.full((max(0, r1 - r0), max(0, c1 - c0), 3), CROP_PAD_VALUE, np.uint8)
    src_r0, src_r1 = max(r0 - pad, 0), min(r1 - pad, height)
    src_c0, src_c1 = max(c0 - pad, 0), min(c1 - pad, width)
    if src_r1 > src_r0 and src_c1 > src_c0:
        crop[src_r0 + pad - r0 : src_r1 + pad - r0, src_c0 + pad - c0 : src_c1 + pad - c0] = picture[src_r0:src_r1, src_c0:src_c1]
    return cv2.resize(crop, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)


def whole_crop(picture: np.ndarray) -> np.ndarray:
    """The whole ``picture`` resized to 224 x 224 (bilinear), as Wav2Lip's LRS script does."""
    import cv2

    return cv2.resize(picture, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)


class SlotCropper:
    """A consumer of the decoding pass (``museviz.videopass``): SyncNet's crop of each 25 fps
    slot, handed to ``sink`` ((224, 224, 3) uint8 BGR) in slot order, ``n_crops`` at most.

    Whole frames are cropped as their slot's frame arrives. Face crops follow ``faces`` (the
    ``MouthReader`` of the same pass, whose face boxes settle a few frames after their
    frame): a slot is cropped once the boxes of the ``BOX_MEDFILT`` slots around it are
    known, gaps interpolated between found boxes as ``slot_boxes`` does, so only the pictures
    of the slots waiting for that are kept. A gap in the face track longer than
    ``MAX_WAITING_BYTES`` of pictures is filled by holding the last box (``slot_boxes``
    would interpolate across it); a slot whose frame never decodes shows the frame before it.
    """

    def __init__(self, slots: np.ndarray, n_crops: int, sink: Callable[[np.ndarray], None], faces=None):
        self._slots = slots
        self._n_crops = min(n_crops, len(slots))
        self._sink = sink
        self._faces = faces
        self._waiting: deque = deque()  # (slot, picture) assigned, not yet cropped
        self._waiting_bytes = 0
        self._assigned = 0  # slots given a picture
        self._last = None
        self._raw = np.full((len(slots), 3), np.nan)  # centre x, centre y, s of each settled slot's face box
        self._settled = 0  # slots whose face box is known (found or not)
        self._found: list[int] = []  # settled slots with a face box, ascending
        self._final = False
        self.n_made = 0

    @property
    def done(self) -> bool:
        return self.n_made >= self._n_crops

    @property
    def face_fraction(self) -> float | None:
        """The share of the cropped slots whose frame has a face box (face crops only)."""
        if self._faces is None:
            return None
        return sum(1 for k in self._found if k < self._n_crops) / max(self._n_crops, 1)

    def add(self, frame_idx: int, picture) -> None:
        while self._assigned < self._n_crops and self._slots[self._assigned] <= frame_idx:
            shown = picture if self._slots[self._assigned] == frame_idx or self._last is None else self._last
            self._wait(self._assigned, shown)
            self._assigned += 1
        self._last = picture
        self._crop_ready()

    def finish(self) -> None:
        """Fill the slots after the last decoded frame with it, and crop every slot left."""
        if self._last is None:
            raise MusevizError("no frame of the clip could be decoded for SyncNet")
        while self._assigned < self._n_crops:
            self._wait(self._assigned, self._last)
            self._assigned += 1
        self._final = True
        self._crop_ready()

    def _wait(self, slot: int, picture) -> None:
        self._waiting.append((slot, picture))
        self._waiting_bytes += picture.frame.width * picture.frame.height * 3 // 2

    def _crop_ready(self) -> None:
        if self._faces is not None:
            self._settle()
        while self._waiting and not self.done:
            slot, picture = self._waiting[0]
            if self._faces is None:
                crop = whole_crop(picture.rgb)
            else:
                centre = self._smoothed(slot, hold=self._final or self._waiting_bytes > MAX_WAITING_BYTES)
                if centre is None:
                    if self._final or (self._waiting_bytes > MAX_WAITING_BYTES and not self._found):
                        self._drop()  # no face yet to place it by
                        continue
                    return
                crop = face_crop(picture.rgb, *centre)
            self._drop()
            self._sink(np.ascontiguousarray(crop[:, :, ::-1]))  # RGB -> BGR, as cv2.imread gives
            self.n_made += 1
        if self.done:
            self._waiting.clear()

    def _drop(self) -> None:
        _, picture = self._waiting.popleft()
        self._waiting_bytes -= picture.frame.width * picture.frame.height * 3 // 2

    def _settle(self) -> None:
        """Read the face boxes of the slots whose frames the mouth reader has settled."""
        settled_frame = self._faces.settled
        while self._settled < len(self._slots) and self._slots[self._settled] <= settled_frame:
            box = self._faces.face_box(int(self._slots[self._settled]))
            if box is not None:
                x, y, w, h = box
                self._raw[self._settled] = (x + w / 2, y + h / 2, max(w, h) / 2)
                self._found.append(self._settled)
            self._settled += 1

    def _value(self, slot: int, hold: bool) -> np.ndarray | None:
        """Slot ``slot``'s (centre x, centre y, s), gaps interpolated as ``np.interp`` does;
        None while it cannot be known yet. ``hold``: a gap with no box after it takes the
        last box."""
        if slot >= self._settled:
            return None if not hold or not self._found else self._raw[self._found[-1]]
        if np.isfinite(self._raw[slot, 0]):
            return self._raw[slot]
        at = np.searchsorted(self._found, slot)
        if at < len(self._found):
            right = self._found[at]
            if at == 0:
                return self._raw[right]
            left = self._found[at - 1]
            weight = (slot - left) / (right - left)
            return (1 - weight) * self._raw[left] + weight * self._raw[right]
        return self._raw[self._found[-1]] if hold and self._found else None

    def _smoothed(self, slot: int, hold: bool) -> np.ndarray | None:
        """The median over the ``BOX_MEDFILT`` slots around ``slot`` (zeros beyond the clip's slots)."""
        half = BOX_MEDFILT // 2
        values = []
        for j in range(slot - half, slot + half + 1):
            if j < 0 or j >= len(self._slots):
                values.append(np.zeros(3))
                continue
            value = self._value(j, hold)
            if value is None:
                return None
            values.append(value)
        return np.median(np.stack(values), axis=0)


@dataclass(frozen=True, eq=False)
class LseResult:
    """SyncNet's scores on a clip, and how its input was made.

    ``offset_frames`` (from ``scores``) is in 25 fps frames, SyncNet's sign: positive when
    the audio leads. ``notes`` say how the frames were sampled and cropped.
    """

    scores: LseScores
    crop: str
    checkpoint_name: str
    checkpoint_sha256: str
    device: str
    n_slots: int
    resampled: bool
    face_fraction: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def offset_ms(self) -> float:
        return self.scores.offset_frames * 1000.0 / VIDEO_FPS

    @property
    def keep(self) -> bool:
        """LatentSync's data filter: confidence >= 3 and |offset| <= 6 frames."""
        return self.scores.lse_c >= KEEP_MIN_LSE_C and abs(self.scores.offset_frames) <= KEEP_MAX_OFFSET_FRAMES

    def agreement(self, sync) -> dict | None:
        """Whether the weight-free estimate ``sync`` finds the same offset (within one 25 fps
        frame); None without an estimate, ``agree`` None when the estimate is not reliable."""
        if sync is None:
            return None
        if not sync.reliable:
            return {"sync_offset_ms": None, "lse_offset_ms": round(self.offset_ms, 1), "difference_ms": None, "agree": None}
        difference_ms = self.offset_ms - sync.offset_ms
        return {
            "sync_offset_ms": round(sync.offset_ms, 1),
            "lse_offset_ms": round(self.offset_ms, 1),
            "difference_ms": round(difference_ms, 1),
            "agree": bool(abs(difference_ms) <= AGREE_FRAMES * 1000.0 / VIDEO_FPS + 1e-6),
        }

    def to_dict(self, sync=None) -> dict:
        """The report's ``lse`` block (``sync``: the weight-free estimate to compare with)."""
        from museviz.syncnet import SHIFTS

        s = self.scores
        return {
            "lse_c": round(s.lse_c, 6),
            "lse_d": round(s.lse_d, 6),
            "offset_frames": s.offset_frames,
            "offset_ms": round(self.offset_ms, 1),
            "fps": VIDEO_FPS,
            "keep": self.keep,
            "keep_rule": {"min_lse_c": KEEP_MIN_LSE_C, "max_abs_offset_frames": KEEP_MAX_OFFSET_FRAMES},
            "agreement": self.agreement(sync),
            "curve": {
                "audio_shift_frames": [int(v) for v in SHIFTS],
                "offset_frames": [int(-v) for v in SHIFTS],
                "mean_dist": [round(float(v), 6) for v in s.dists],
            },
            "framewise_conf": [round(float(v), 4) for v in s.framewise_conf],
            "n_windows": s.n_windows,
            "n_frames_25fps": self.n_slots,
            "resampled": self.resampled,
            "crop": self.crop,
            "face_fraction": None if self.face_fraction is None else round(self.face_fraction, 3),
            "checkpoint": {"name": self.checkpoint_name, "sha256": self.checkpoint_sha256},
            "device": self.device,
            "notes": list(self.notes),
        }


class LseMeter:
    """A consumer of the decoding pass (``museviz.videopass``) that scores the clip with
    SyncNet: its crops (``SlotCropper``) go to SyncNet in batches as they are made;
    ``finish`` gives the ``LseResult`` (also kept as ``result``).

    ``faces`` is the pass's ``MouthReader`` for face crops (None for whole frames).

    Raises
    ------
    MusevizError
        When LSE cannot be measured, in one sentence: no weights, a file that is not
        SyncNet's, no audio, a clip shorter than one window (here), no face for face crops
        (at ``finish``).
    """

    def __init__(self, media: Media, checkpoint: str | os.PathLike | None = None, crop: str = CROP_FACE, download: bool = True, faces=None):
        self._name = os.path.basename(media.path)
        # Imported here: torch takes seconds to load, and the interfaces read this module's settings first.
        from museviz.weights import find_checkpoint

        if crop not in CROP_MODES:
            raise MusevizError(f"unknown LSE crop {crop!r}: choose {' or '.join(CROP_MODES)}")
        path = find_checkpoint(checkpoint, download)
        if not media.audio.present or len(media.audio_16k) == 0:
            raise MusevizError(f"{self._name} has no audio: SyncNet needs sound")
        from museviz.syncnet import LseRun  # torch: only once there are weights and sound
        video = media.video
        self._video = video
        self._crop = crop
        self._slots = slot_frames(video.frame_times_s, float(video.frame_times_s[0]) + video.duration_s)
        self._run = LseRun(path, pcm16_audio(media), len(self._slots))
        self._cropper = SlotCropper(self._slots, self._run.n_frames_needed, self._run.add, faces if crop == CROP_FACE else None)
        self.result: LseResult | None = None

    def add(self, frame_idx: int, picture) -> None:
        if not self._cropper.done:
            self._cropper.add(frame_idx, picture)

    def finish(self) -> LseResult:
        self._cropper.finish()
        if not self._cropper.done:
            raise MusevizError(f"no face found in {self._name} for SyncNet's face crops: for a clip that is already a face crop, use the whole frames (--lse-crop whole)")
        scores = self._run.finish()
        notes = [_sampling_note(self._video, self._slots)]
        face_fraction = self._cropper.face_fraction
        if self._crop == CROP_FACE:
            notes.append("face crops as syncnet_python cuts them, around museviz's tracked face box (not syncnet_python's S3FD detector)")
            if face_fraction < FEW_FACES_FRACTION:
                notes.append(f"a face box was found for {face_fraction:.0%} of the frames; the others use boxes interpolated between them")
        else:
            notes.append("whole frames resized to 224 x 224, as Wav2Lip's LRS script scores clips that are already face crops")
        net = self._run.net
        self.result = LseResult(scores, self._crop, net.name, net.sha256, net.device, len(self._slots), _resampled(self._video, self._slots), face_fraction, notes)
        return self.result


def measure_lse(
    media: Media,
    checkpoint: str | os.PathLike | None = None,
    crop: str = CROP_FACE,
    download: bool = True,
    progress: Progress | None = None,
) -> LseResult:
    """LSE-C, LSE-D and SyncNet's offset of a probed clip, in a decoding pass of its own
    (with the face tracked in the same pass for face crops). ``museviz.pipeline`` runs the
    ``LseMeter`` in the pass the other consumers share instead.

    Raises
    ------
    MusevizError
        As ``LseMeter``.
    """
    from museviz.sync import mouth_reader
    from museviz.videopass import run_pass

    report = progress or (lambda _f, _d: None)
    faces = mouth_reader(media) if crop == CROP_FACE else None
    meter = LseMeter(media, checkpoint, crop, download, faces)
    run_pass(media, [c for c in (faces, meter) if c is not None], lambda f: report(f, "Scoring with SyncNet"))
    report(1.0, "LSE measured")
    return meter.result


def _resampled(video, slots: np.ndarray) -> bool:
    """False when the slots are the clip's own frames, one to one."""
    return not (len(slots) == video.n_frames and np.array_equal(slots, np.arange(video.n_frames)))


def _sampling_note(video, slots: np.ndarray) -> str:
    if not _resampled(video, slots):
        return f"the clip is at {VIDEO_FPS} fps: its frames are SyncNet's frames"
    shown = np.unique(slots)
    repeated = len(slots) - len(shown)
    skipped = video.n_frames - len(shown)
    rate = "a variable rate" if video.vfr else f"{video.fps:.3f} fps"
    return (
        f"sampled at {VIDEO_FPS} fps by presentation time from {rate}: each of the {len(slots)} slots shows the frame on "
        f"screen at its instant ({repeated} repeated, {skipped} of {video.n_frames} frames not shown)"
    )


def offset_words(offset_frames: int) -> str:
    """SyncNet's offset in words: ``"the audio is 80 ms early (2 frames at 25 fps)"``."""
    if offset_frames == 0:
        return "in sync"
    frames = f"{abs(offset_frames)} frame{'s' if abs(offset_frames) != 1 else ''} at {VIDEO_FPS} fps"
    way = "early" if offset_frames > 0 else "late"
    return f"the audio is {abs(offset_frames) * 1000 / VIDEO_FPS:.0f} ms {way} ({frames})"

