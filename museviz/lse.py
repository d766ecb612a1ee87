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

Crops are made one decoded frame at a time (``CropMaker``) and handed to SyncNet in
batches, so memory does not grow with the clip.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import medfilt

from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE as AUDIO_RATE, SYNCNET_CROP_PX as CROP_SIZE, SYNCNET_FPS as VIDEO_FPS
from museviz.media import Media, iter_frames

if TYPE_CHECKING:
    from museviz.syncnet import LseScores

CROP_FACE, CROP_WHOLE = "face", "whole"
CROP_MODES = (CROP_FACE, CROP_WHOLE)
CROP_SCALE = 0.4  # syncnet_python's crop_scale: the square's side is 2 * (1 + CROP_SCALE) * s
CROP_PAD_VALUE = 110  # grey level outside the frame
BOX_MEDFILT = 13  # slots: kernel of the median filter over the box centre and size
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


def face_boxes(media: Media, sync) -> np.ndarray:
    """(n_frames, 4) float face boxes (x, y, w, h in px of the upright picture; NaN where no
    face): the one place LSE reads the face track from.

    The sync estimate's per-frame face boxes (``museviz.face``); without an estimate, or
    with one measured in a region the user gave, the face is tracked now.
    """
    from museviz.mouth import ROI_FACE
    from museviz.sync import measure_mouth

    if sync is not None and sync.roi_source == ROI_FACE:
        return np.asarray(sync.face_boxes_px, float)
    return measure_mouth(media).face_boxes_px


def slot_boxes(boxes_px: np.ndarray, slots: np.ndarray) -> np.ndarray | None:
    """(n_slots, 3) crop centre x, centre y and half-size ``s`` per slot, as syncnet_python
    smooths them: from each slot's face box (gaps interpolated, ends held), median-filtered
    over ``BOX_MEDFILT`` slots. None when no slot has a face box."""
    boxes = boxes_px[slots]
    found = np.all(np.isfinite(boxes), axis=1)
    if not np.any(found):
        return None
    idx = np.arange(len(slots))
    x, y, w, h = (np.interp(idx, idx[found], boxes[found, i]) for i in range(4))
    centre_x, centre_y, half = x + w / 2, y + h / 2, np.maximum(w, h) / 2
    with warnings.catch_warnings():  # fewer slots than the kernel: zero-padded, as it always is at the ends
        warnings.simplefilter("ignore", UserWarning)
        return np.stack([medfilt(v, BOX_MEDFILT) for v in (centre_x, centre_y, half)], axis=1)


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


class CropMaker:
    """Turns decoded frames, fed in order with ``add``, into SyncNet's crops, one per 25 fps slot.

    ``slots`` maps slots to source frames (``slot_frames``); ``boxes`` is (n_slots, 3)
    from ``slot_boxes`` for face crops, None for whole frames. Each crop, (224, 224, 3)
    uint8 BGR, goes to ``sink`` as soon as its slot is known; at most ``n_crops`` are made.
    A slot whose frame never decodes shows the frame before it.
    """

    def __init__(self, slots: np.ndarray, boxes: np.ndarray | None, sink: Callable[[np.ndarray], None], n_crops: int | None = None):
        self._slots = slots
        self._boxes = boxes
        self._sink = sink
        self._n_crops = len(slots) if n_crops is None else min(n_crops, len(slots))
        self.n_made = 0
        self._last: np.ndarray | None = None

    @property
    def done(self) -> bool:
        return self.n_made >= self._n_crops

    def add(self, frame_idx: int, picture: np.ndarray) -> None:
        """The decoded frame ``frame_idx``: (h, w, 3) uint8 RGB, upright."""
        while not self.done and self._slots[self.n_made] <= frame_idx:
            shown = picture if self._slots[self.n_made] == frame_idx or self._last is None else self._last
            self._emit(shown)
        self._last = picture

    def finish(self) -> None:
        """Fill the slots after the last decoded frame with it."""
        if self._last is None:
            raise MusevizError("no frame of the clip could be decoded for SyncNet")
        while not self.done:
            self._emit(self._last)

    def _emit(self, picture: np.ndarray) -> None:
        if self._boxes is None:
            crop = whole_crop(picture)
        else:
            crop = face_crop(picture, *self._boxes[self.n_made])
        self._sink(np.ascontiguousarray(crop[:, :, ::-1]))  # RGB -> BGR, as cv2.imread gives
        self.n_made += 1


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


def measure_lse(
    media: Media,
    sync=None,
    checkpoint: str | os.PathLike | None = None,
    crop: str = CROP_FACE,
    download: bool = True,
    progress: Progress | None = None,
) -> LseResult:
    """LSE-C, LSE-D and SyncNet's offset for a probed clip, in one decoding pass.

    Parameters
    ----------
    media : Media
    sync : SyncResult, optional
        The weight-free estimate, whose face track the face crops follow (``face_boxes``).
    checkpoint : path, optional
        SyncNet weights; None: found as ``museviz.syncnet.find_checkpoint`` says
        (``download`` allows fetching the published ones).
    crop : "face" or "whole"

    Raises
    ------
    MusevizError
        When LSE cannot be measured, in one sentence: no weights, a file that is not
        SyncNet's, no audio, no face (for face crops), a clip shorter than one window.
    """
    # Imported here: torch takes seconds to load, and the interfaces read this module's settings first.
    from museviz.syncnet import LseRun, find_checkpoint

    report = progress or (lambda _f, _d: None)
    if crop not in CROP_MODES:
        raise MusevizError(f"unknown LSE crop {crop!r}: choose {' or '.join(CROP_MODES)}")
    path = find_checkpoint(checkpoint, download)
    name = os.path.basename(media.path)
    if not media.audio.present or len(media.audio_16k) == 0:
        raise MusevizError(f"{name} has no audio: SyncNet needs sound")
    video = media.video
    slots = slot_frames(video.frame_times_s, float(video.frame_times_s[0]) + video.duration_s)
    run = LseRun(path, pcm16_audio(media), len(slots))
    n_crops = run.n_frames_needed
    boxes, face_fraction = None, None
    notes = [_sampling_note(video, slots)]
    if crop == CROP_FACE:
        report(0.0, "Finding the face for SyncNet's crops")
        per_frame = face_boxes(media, sync)
        boxes = slot_boxes(per_frame, slots)
        if boxes is None:
            raise MusevizError(f"no face found in {name} for SyncNet's face crops: for a clip that is already a face crop, use the whole frames (--lse-crop whole)")
        face_fraction = float(np.mean(np.all(np.isfinite(per_frame[slots[:n_crops]]), axis=1)))
        notes.append("face crops as syncnet_python cuts them, around museviz's tracked face box (not syncnet_python's S3FD detector)")
        if face_fraction < FEW_FACES_FRACTION:
            notes.append(f"a face box was found for {face_fraction:.0%} of the frames; the others use boxes interpolated between them")
    else:
        notes.append("whole frames resized to 224 x 224, as Wav2Lip's LRS script scores clips that are already face crops")
    maker = CropMaker(slots, boxes, run.add, n_crops)
    step = max(1, video.n_frames // 20)
    for frame_idx, picture in iter_frames(media):
        maker.add(frame_idx, picture)
        if maker.done:
            break
        if frame_idx % step == 0:
            report(0.1 + 0.85 * maker.n_made / n_crops, "Scoring with SyncNet")
    maker.finish()
    scores = run.finish()
    report(1.0, "LSE measured")
    return LseResult(scores, crop, run.net.name, run.net.sha256, run.net.device, len(slots), _resampled(video, slots), face_fraction, notes)


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

