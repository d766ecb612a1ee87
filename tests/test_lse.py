"""SyncNet's input made from a clip: int16 audio, 25 fps slots, syncnet_python's face crops."""

from fractions import Fraction

import cv2
import numpy as np
import pytest
from scipy import signal

from museviz import lse
from museviz.errors import MusevizError
from museviz.media import iter_frames, read_media
from museviz.sync import estimate_sync
from museviz.synth import vfr_times
from museviz.syncnet import lse_scores


def int16(audio: np.ndarray) -> np.ndarray:
    """What ffmpeg's float -> s16 conversion does: av_clip_int16(lrintf(x * 32768))."""
    return np.clip(np.rint(audio.astype(np.float32) * np.float32(32768)), -32768, 32767).astype(np.int16)


def test_int16_audio_of_a_mono_clip_is_its_float_audio_rounded(clips):
    media = read_media(clips("lse_mono.mp4", duration_s=2.0))
    np.testing.assert_array_equal(lse.pcm16_audio(media), int16(media.audio_16k))


def test_int16_audio_of_a_stereo_clip_is_ffmpegs_normalised_downmix(clips):
    """FFmpeg downmixes stereo to float as (L + R) / sqrt 2 but to s16 as (L + R) / 2: the
    int16 audio SyncNet reads is sqrt 2 quieter than museviz's float audio of the same file."""
    media = read_media(clips("lse_stereo44k.mp4", duration_s=2.0, audio_rate=44100, audio_channels=2))
    pcm = lse.pcm16_audio(media)
    assert len(pcm) == len(media.audio_16k)
    assert np.max(np.abs(pcm.astype(int) - int16(media.audio_16k / np.sqrt(2)))) <= 1


def test_a_25fps_clip_is_its_own_slots():
    times = np.arange(150) * 512 / 12800  # 25 fps in MP4's usual 1/12800 time base
    np.testing.assert_array_equal(lse.slot_frames(times, 6.0), np.arange(150))


def test_2997_fps_slots_show_the_frame_on_screen_and_skip_one_in_six():
    times = np.arange(180) * 1001 / 30000
    slots = lse.slot_frames(times, 180 * 1001 / 30000)
    assert len(slots) == 151  # 6.006 s of video: slot 150 at 6.0 s still shows a frame
    tolerance_s = lse.SLOT_TOLERANCE_S  # timestamp rounding: frame 6 at 0.2002 s is on screen at 0.2 s
    for k, frame in enumerate(slots):
        assert times[frame] <= k / 25 + tolerance_s and (frame == 179 or times[frame + 1] > k / 25 + tolerance_s)
    assert 180 - len(np.unique(slots)) == 29


def test_vfr_slots_repeat_frames_of_the_slow_stretches():
    times = np.array(vfr_times(4.0))
    slots = lse.slot_frames(times, 4.0)
    assert len(slots) == 100 and np.all(np.diff(slots) >= 0)
    np.testing.assert_array_equal(slots, [np.flatnonzero(times <= k / 25 + lse.SLOT_TOLERANCE_S)[-1] for k in range(100)])
    np.testing.assert_array_equal(np.unique(slots), np.arange(slots[-1] + 1))  # at 25 fps or slower, no frame is skipped


def test_slots_before_the_first_frame_show_it():
    np.testing.assert_array_equal(lse.slot_frames(np.array([0.1, 0.14, 0.18]), 0.22), [0, 0, 0, 0, 1, 2])


# --- syncnet_python's crop_video, restated (LSE.md 3.2 step 6) -------------------------------


def reference_crop(image, det_x, det_y, det_s, cs=0.4):
    bs = det_s
    bsi = int(bs * (1 + 2 * cs))
    frame = np.pad(image, ((bsi, bsi), (bsi, bsi), (0, 0)), "constant", constant_values=(110, 110))
    my = det_y + bsi
    mx = det_x + bsi
    face = frame[int(my - bs) : int(my + bs * (1 + 2 * cs)), int(mx - bs * (1 + cs)) : int(mx + bs * (1 + cs))]
    return cv2.resize(face, (224, 224))


@pytest.mark.parametrize(
    "x, y, s",
    [(160.3, 120.7, 40.2), (10.0, 8.5, 30.0), (310.9, 235.2, 55.5), (160.0, 120.0, 150.0), (2.0, 230.0, 12.25)],
)
def test_face_crop_equals_syncnet_pythons_crop_video(x, y, s):
    image = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    np.testing.assert_array_equal(lse.face_crop(image, x, y, s), reference_crop(image, x, y, s))


def test_slot_boxes_are_syncnet_pythons_median_filtered_centre_and_half_size():
    rng = np.random.default_rng(2)
    boxes = np.column_stack([100 + rng.normal(0, 3, 60), 80 + rng.normal(0, 3, 60), 60 + rng.normal(0, 2, 60), 70 + rng.normal(0, 2, 60)])
    dets = {"x": [], "y": [], "s": []}
    for x, y, w, h in boxes:  # S3FD's [x1, y1, x2, y2]
        det = [x, y, x + w, y + h]
        dets["s"].append(max((det[3] - det[1]), (det[2] - det[0])) / 2)
        dets["y"].append((det[1] + det[3]) / 2)
        dets["x"].append((det[0] + det[2]) / 2)
    expected = np.column_stack([signal.medfilt(dets[k], kernel_size=13) for k in ("x", "y", "s")])
    np.testing.assert_allclose(lse.slot_boxes(boxes, np.arange(60)), expected, rtol=1e-12)


def test_gaps_in_the_face_track_are_interpolated_and_no_face_is_none():
    boxes = np.full((5, 4), np.nan)
    assert lse.slot_boxes(boxes, np.arange(5)) is None
    boxes[1] = (0, 0, 10, 10)
    boxes[3] = (10, 0, 10, 10)
    assert lse.slot_boxes(boxes, np.arange(5)) is not None


# --- the whole front end against lse_scores on crops made by hand ----------------------------


@pytest.mark.parametrize("name, fields", [("lse_25.mp4", {}), ("lse_2997.mp4", {"fps": Fraction(30000, 1001)})])
def test_measure_lse_is_lse_scores_on_the_clips_25fps_frames(clips, syncnet_checkpoint, name, fields):
    path = clips(name, duration_s=2.0, **fields)
    media = read_media(path)
    result = lse.measure_lse(media, syncnet_checkpoint, lse.CROP_WHOLE)

    pictures = dict(iter_frames(media))
    slots = lse.slot_frames(media.video.frame_times_s, media.video.frame_times_s[0] + media.video.duration_s)
    frames = np.stack([cv2.resize(cv2.cvtColor(pictures[f], cv2.COLOR_RGB2BGR), (224, 224)) for f in slots])
    expected = lse_scores(frames, int16(media.audio_16k), syncnet_checkpoint)
    np.testing.assert_array_equal(result.scores.dists, expected.dists)
    assert result.scores.offset_frames == expected.offset_frames
    assert result.resampled is bool(fields) and result.n_slots == len(slots)
    assert ("sampled at 25 fps by presentation time" in result.notes[0]) is bool(fields)


def test_face_crops_made_during_the_pass_are_syncnet_pythons_crops_around_the_tracked_face(clips, syncnet_checkpoint):
    """The crops made frame by frame as the face boxes settle equal the crops cut afterwards
    from the whole face track (median over 13 slots and all)."""
    media = read_media(clips("lse_25.mp4", duration_s=2.0))
    sync = estimate_sync(media)
    assert np.all(np.isfinite(sync.face_boxes_px))
    result = lse.measure_lse(media, syncnet_checkpoint, lse.CROP_FACE)

    slots = lse.slot_frames(media.video.frame_times_s, media.video.frame_times_s[0] + media.video.duration_s)
    boxes = lse.slot_boxes(sync.face_boxes_px, slots)
    pictures = dict(iter_frames(media))
    crops = np.stack([lse.face_crop(pictures[f], *box)[:, :, ::-1] for f, box in zip(slots, boxes)])
    expected = lse_scores(crops, int16(media.audio_16k), syncnet_checkpoint)
    np.testing.assert_array_equal(result.scores.dists, expected.dists)
    assert result.crop == "face" and result.face_fraction == 1.0
    assert "museviz's tracked face box" in result.notes[1]
    report = result.to_dict(sync)
    assert not sync.reliable  # 2 s is too short to know what chance looks like: nothing to agree with
    assert report["agreement"]["agree"] is None and report["agreement"]["lse_offset_ms"] == round(result.offset_ms, 1)
    assert len(report["curve"]["mean_dist"]) == 31 and report["curve"]["offset_frames"][0] == 15
    assert len(report["framewise_conf"]) == report["n_windows"] == 45


def test_no_face_is_one_sentence_and_whole_frames_still_work(clips, syncnet_checkpoint):
    media = read_media(clips("lse_noface.mp4", duration_s=2.0, face=False))
    with pytest.raises(MusevizError, match=r"no face found in lse_noface.mp4 .*--lse-crop whole"):
        lse.measure_lse(media, syncnet_checkpoint, lse.CROP_FACE)
    assert lse.measure_lse(media, syncnet_checkpoint, lse.CROP_WHOLE).scores.n_windows == 45


class _Face:
    """The face track as the pass's mouth reader exposes it: boxes settle a few frames late."""

    def __init__(self, boxes):
        self.boxes = boxes
        self.settled = -1

    def face_box(self, frame_idx):
        box = self.boxes[frame_idx]
        return box if np.isfinite(box[0]) else None


class _Picture:
    def __init__(self, rgb):
        self.rgb = rgb
        self.frame = type("Frame", (), {"width": rgb.shape[1], "height": rgb.shape[0]})()


@pytest.mark.parametrize("lag", [0, 3, 12])
def test_crops_made_as_the_face_settles_equal_crops_from_the_whole_track_gaps_and_ends_included(lag):
    rng = np.random.default_rng(3)
    n = 40
    boxes = np.column_stack([60 + rng.normal(0, 3, n), 40 + rng.normal(0, 3, n), 50 + rng.normal(0, 2, n), 56 + rng.normal(0, 2, n)])
    boxes[[0, 1, 2, 5, 6, 7, 8, *range(20, 31), 37, 38, 39]] = np.nan  # a late start, gaps, an early end
    pictures = [_Picture(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)) for _ in range(n)]
    face, made = _Face(boxes), []
    cropper = lse.SlotCropper(np.arange(n), n, made.append, face)
    for k, picture in enumerate(pictures):
        face.settled = k - lag
        cropper.add(k, picture)
    face.settled = n - 1
    cropper.finish()
    smoothed = lse.slot_boxes(boxes, np.arange(n))
    expected = [lse.face_crop(p.rgb, *box)[:, :, ::-1] for p, box in zip(pictures, smoothed)]
    assert len(made) == n and all(np.array_equal(a, b) for a, b in zip(made, expected))
    assert cropper.face_fraction == pytest.approx(np.mean(np.isfinite(boxes[:, 0])))
