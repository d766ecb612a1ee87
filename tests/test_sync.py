"""Sync is measured, not assumed: known shifts come back with SyncNet's sign, on made clips
under light, motion, teeth, noise and pauses, and on real talking heads."""

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest

from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE
from museviz.media import read_media
from museviz.mouth import DEFAULT_ROI, Roi, parse_roi
from museviz.synth import speech_16k, vfr_times, with_pauses, with_room_noise
from museviz.sync import (
    GATED_CONFIDENCE,
    KEEP_MIN_CONFIDENCE,
    MAX_LAG_FRAMES,
    NATURAL_LEAD_S,
    correlate,
    estimate_sync,
    itsoffset_fix,
    measure_mouth,
)

NTSC = Fraction(30000, 1001)
DRIFT_CLIP_S = 15.0  # long enough for 12 track windows; the drift reaches -15 frames near 15 s
UNRELATED_TEXT = "Somewhere far away a train leaves the station at noon, carrying letters and old newspapers to the coast."
UNRELATED_MAX = 0.3  # the confidence unrelated speech may reach at most
SHIFTS_MS = (-120, 0, 80, 160)


@pytest.fixture(scope="module")
def other_speech():
    """Speech that has nothing to do with the mouth: another sentence, voice and pitch."""
    return speech_16k(UNRELATED_TEXT, pitch=30)


@pytest.fixture(scope="module")
def measured(clips):
    """``measured(name, **ClipSpec fields) -> SyncResult``, each clip estimated once."""
    done = {}

    def measure(name, roi=None, **fields):
        key = (name, roi)
        if key not in done:
            done[key] = estimate_sync(read_media(clips(name, **fields)), roi)
        return done[key]

    return measure


def expected_frames(shift_ms: float, fps: float = 25) -> float:
    """Audio late by ``shift_ms`` (positive) is a negative SyncNet offset."""
    return -shift_ms * fps / 1000


@pytest.mark.parametrize("shift_ms", [-200, -120, -40, 0, 80, 160])
def test_audio_shift_is_recovered_within_one_frame_with_syncnet_sign(measured, shift_ms):
    result = measured(f"shift{shift_ms}.mp4", audio_delay_s=shift_ms / 1000)
    assert abs(result.offset_frames - expected_frames(shift_ms)) <= 1
    assert np.sign(result.offset_frames) == np.sign(expected_frames(shift_ms))
    assert result.confidence >= KEEP_MIN_CONFIDENCE and result.reliable


def test_audio_120ms_late_is_offset_minus_3_and_fixed_by_itsoffset_minus_0_120(measured):
    result = measured("shift120.mp4", audio_delay_s=0.12)
    assert result.offset_frames == -3 and result.offset_ms == pytest.approx(-120, abs=20)
    assert result.words.startswith("the audio is 120 ms late (3 frames)")
    assert result.fix == "ffmpeg -i shift120.mp4 -itsoffset -0.120 -i shift120.mp4 -map 0:v -map 1:a -c copy shift120_synced.mp4"
    assert result.keep and not result.reasons


def test_in_sync_clip_says_in_sync_and_needs_no_fix(measured):
    result = measured("shift0.mp4", audio_delay_s=0.0)
    assert result.offset_frames == 0 and result.words == "in sync" and result.fix is None and result.keep
    assert result.lags_frames[0] == -MAX_LAG_FRAMES and result.lags_frames[-1] == MAX_LAG_FRAMES
    assert result.curve.shape == result.lags_frames.shape
    assert abs(result.lags_frames[np.nanargmax(result.curve)]) <= 0.5


def test_the_natural_lead_is_taken_out_of_the_peak(measured):
    """The made mouth opens NATURAL_LEAD_S before its sound, as real ones do: the correlation
    peaks there, and the offset reported is the peak minus that lead."""
    result = measured("shift0.mp4", audio_delay_s=0.0)
    assert result.raw_lag_ms == pytest.approx(-NATURAL_LEAD_S * 1000, abs=15)
    assert result.offset_ms == pytest.approx(result.raw_lag_ms + NATURAL_LEAD_S * 1000)


def test_unrelated_speech_is_not_measured_reliably_and_says_so(measured, speech, other_speech):
    in_sync = measured("shift0.mp4", audio_delay_s=0.0)
    unrelated = measured("unrelated.mp4", audio=other_speech, mouth_audio=speech)
    assert in_sync.confidence >= KEEP_MIN_CONFIDENCE and unrelated.confidence <= UNRELATED_MAX
    assert not unrelated.keep and "not measured reliably" in unrelated.reasons[0]
    assert unrelated.words.startswith("not measured reliably") and unrelated.fix is None
    assert " ms late" not in unrelated.words and " ms early" not in unrelated.words


def test_offset_beyond_6_frames_is_not_kept_by_latentsync_rule(measured):
    result = measured("late280.mp4", audio_delay_s=0.28)
    assert result.offset_frames == -7 and result.reliable
    assert not result.keep and any("above 6" in reason for reason in result.reasons)


def test_variable_frame_rate_clip_is_measured_on_real_frame_times(measured):
    result = measured("vfr_late120.mp4", frame_times_s=vfr_times(6.0), audio_delay_s=0.12)
    expected = -0.12 * result.fps  # frames of the average rate (about 20 fps here)
    assert abs(result.offset_frames - expected) <= 1 and result.offset_frames < 0


def test_ntsc_clip_retimed_as_29_fps_shows_a_growing_offset_in_the_track(clips, speech, other_speech):
    talk = np.concatenate([speech, other_speech, speech])
    # The mouth at real time t shows the sound of t * 29.97 / 29, as MuseTalk v1.5 reads it.
    rate = float(NTSC) / 29
    mouth = np.interp(np.arange(int(len(talk) / rate)) * rate, np.arange(len(talk)), talk).astype(np.float32)
    result = estimate_sync(read_media(clips("drift.mp4", fps=NTSC, duration_s=DRIFT_CLIP_S, audio=talk, mouth_audio=mouth)))
    offsets = [p.offset_frames for p in result.track]
    assert len(offsets) >= 10
    assert np.all(np.diff(offsets) <= 0), offsets
    assert offsets[0] - offsets[-1] >= 8, offsets
    expected_ms_per_min = -60_000 * (rate - 1)  # about -2 s a minute
    assert result.drift_ms_per_min == pytest.approx(expected_ms_per_min, rel=0.15)
    assert "drifts" in result.words and result.fix is None and not result.keep


def test_steady_offset_has_a_flat_track_and_no_drift(measured):
    result = measured("shift160.mp4", audio_delay_s=0.16)
    assert {p.offset_frames for p in result.track} == {-4}
    assert result.drift_ms_per_min is None


def test_face_is_tracked_and_the_mouth_is_measured_in_its_lower_middle(measured):
    result = measured("shift0.mp4", audio_delay_s=0.0)
    assert result.roi_source == "face" and result.face_fraction == pytest.approx(1.0)
    fx, fy, fw, fh = result.face_box_px
    mx, my, mw, mh = result.mouth_box_px
    assert fx < mx and mx + mw < fx + fw and fy + fh / 2 < my + mh / 2 < fy + fh
    assert result.face_boxes_px.shape == result.mouth_boxes_px.shape == (result.mouth_signal.shape[0], 4)
    assert result.quality.face_size_px == pytest.approx(fw, rel=0.05)


def test_a_head_moving_about_is_followed_frame_by_frame(measured):
    result = measured("moving_late120.mp4", size=(320, 240), head_motion=0.1, audio_delay_s=0.12)
    mouth_x = result.mouth_boxes_px[:, 0]
    assert result.roi_source == "face" and np.nanmax(mouth_x) - np.nanmin(mouth_x) > 20
    assert result.offset_frames == -3 and result.confidence >= 0.8


CONDITIONS = {
    "flicker": dict(flicker=0.2),
    "head_motion": dict(head_motion=0.1),
    "teeth": dict(teeth=True),
    "room_noise": dict(noise_db=10.0),
    "pauses": dict(pauses=True),
    "all": dict(flicker=0.2, head_motion=0.1, teeth=True, noise_db=10.0, pauses=True),
}


@pytest.fixture(scope="module")
def hard(clips, speech, other_speech):
    """``hard(condition, shift_ms or "unrelated") -> SyncResult`` for a made clip under a condition."""
    paused = with_pauses(speech)

    def measure(condition: str, shift):
        fields = dict(CONDITIONS[condition])
        talk = paused if fields.pop("pauses", False) else speech
        noise_db = fields.pop("noise_db", None)
        heard = with_room_noise(talk, noise_db) if noise_db else talk
        if shift == "unrelated":
            heard = np.resize(with_room_noise(other_speech, noise_db) if noise_db else other_speech, len(talk))
            fields.update(audio=heard, mouth_audio=talk)
        else:
            fields.update(audio=heard, mouth_audio=talk, audio_delay_s=shift / 1000)
        name = f"{condition}_{shift}.mp4"
        return estimate_sync(read_media(clips(name, duration_s=len(talk) / SAMPLE_RATE, size=(160, 120), **fields)))

    return measure


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("shift_ms", SHIFTS_MS)
def test_hard_made_clip_is_measured_within_one_frame(hard, condition, shift_ms):
    result = hard(condition, shift_ms)
    assert abs(result.offset_frames - expected_frames(shift_ms)) <= 1, result.words
    assert result.confidence >= KEEP_MIN_CONFIDENCE


@pytest.mark.parametrize("condition", CONDITIONS)
def test_hard_made_clip_with_unrelated_speech_scores_low(hard, condition):
    result = hard(condition, "unrelated")
    assert result.confidence <= UNRELATED_MAX and not result.reliable


def test_little_speech_is_not_measured_reliably_and_the_notes_say_why(measured, speech):
    short = np.zeros(6 * SAMPLE_RATE, np.float32)
    short[SAMPLE_RATE : SAMPLE_RATE + 24000] = speech[:24000]  # 1.5 s of speech in 6 s
    result = measured("little_speech.mp4", audio=short)
    assert result.confidence <= GATED_CONFIDENCE and not result.reliable
    assert any("of the clip has a voice" in note for note in result.notes)


def test_two_equally_good_lags_are_competing_peaks_not_an_answer(measured, speech):
    echo = round(0.32 * SAMPLE_RATE)
    mouth = (speech + np.concatenate([np.zeros(echo, np.float32), speech[:-echo]])) / 2  # the mouth follows the voice and its echo
    result = measured("competing.mp4", mouth_audio=mouth)
    assert result.confidence < KEEP_MIN_CONFIDENCE and not result.reliable
    assert result.quality.runner_up_z > result.quality.peak_z - 1.5
    assert any("competing peak" in note for note in result.notes)


@pytest.mark.parametrize(
    "face, note",
    [
        (dict(eye_distance_px=8.0), "the face is small"),
        (dict(yaw_ratio=0.3), "the head is turned away"),
        (dict(face_fraction=0.3), "the face is missing from 70% of the frames"),
    ],
)
def test_a_small_turned_or_missing_face_caps_the_confidence_with_its_reason(clips, face, note):
    """The gates on the face, from a good measurement with only the face's numbers changed."""
    media = read_media(clips("shift120.mp4", audio_delay_s=0.12))
    track = measure_mouth(media)
    measure = lambda t: correlate(t, media.audio_16k, media.video.frame_times_s, media.video.fps)
    good = measure(track)
    assert good.reliable
    result = measure(dataclasses.replace(track, **face))
    assert result.confidence <= GATED_CONFIDENCE and any(note in n for n in result.notes)
    assert result.offset_frames == good.offset_frames  # the offset is still the best guess, only not trusted


def test_frames_without_a_face_fall_back_to_the_default_region_and_say_so(measured):
    result = measured("noface.mp4", face=False)
    assert result.roi_source == "default" and result.roi == DEFAULT_ROI
    assert result.face_fraction == 0.0 and result.face_box_px is None
    assert result.mouth_box_px == DEFAULT_ROI.box_px(160, 120)
    assert any("no face found" in note for note in result.notes)
    assert result.confidence <= GATED_CONFIDENCE
    assert result.to_dict()["roi"]["source"] == "default"


def test_user_region_replaces_the_face_search(measured):
    result = measured("shift120.mp4", roi=parse_roi("0.3,0.5,0.4,0.4"), audio_delay_s=0.12)
    assert result.roi_source == "user" and result.face_fraction is None
    assert result.mouth_box_px == (48, 60, 64, 48)
    assert result.offset_frames == -3


def test_signals_are_per_frame_and_the_report_block_is_json(measured):
    result = measured("shift120.mp4", audio_delay_s=0.12)
    n_frames = 150
    assert result.mouth_signal.shape == result.sound_signal.shape == (n_frames,)
    block = json.loads(json.dumps(result.to_dict()))
    assert {"offset_frames", "offset_ms", "confidence", "reliable", "method", "track", "words", "keep", "reasons", "fix", "roi", "curve", "quality"} <= set(block)
    assert block["offset_frames"] == -3 and block["reliable"] is True
    assert set(block["track"][0]) == {"t_start_s", "t_end_s", "offset_frames", "offset_ms", "confidence"}
    assert len(block["curve"]["correlation"]) == len(block["curve"]["lag_frames"]) == 4 * 2 * MAX_LAG_FRAMES + 1
    quality = block["quality"]
    assert quality["face_fraction"] == 1.0 and quality["speech_s"] > 3 and quality["face_size_px"] > 50
    assert quality["peak_z"] > quality["runner_up_z"] and quality["null_shifts"] >= 100


def test_itsoffset_fix_delays_audio_by_offset_over_fps_and_quotes_names():
    assert itsoffset_fix("/data/my clip.mov", 2, 25.0) == (
        "ffmpeg -i 'my clip.mov' -itsoffset 0.080 -i 'my clip.mov' -map 0:v -map 1:a -c copy 'my clip_synced.mov'"
    )
    assert "-itsoffset -0.167 " in itsoffset_fix("a.mp4", -5, 30000 / 1001)


def test_clip_without_audio_cannot_be_measured(clips):
    with pytest.raises(MusevizError, match="has no audio"):
        estimate_sync(read_media(clips("mute.mp4", audio=None)))


def test_clip_shorter_than_the_lag_search_cannot_be_measured(clips):
    with pytest.raises(MusevizError, match="at least 31"):
        estimate_sync(read_media(clips("one_second.mp4", duration_s=1.0)))


def test_silent_audio_cannot_be_measured(clips):
    silence = np.zeros(6 * SAMPLE_RATE, np.float32)
    with pytest.raises(MusevizError, match="silent audio"):
        estimate_sync(read_media(clips("silence.mp4", audio=silence)))


def test_parse_roi_reads_fractions():
    assert parse_roi(" 0.3, 0.55,0.4 ,0.3") == Roi(0.3, 0.55, 0.4, 0.3)
    assert str(DEFAULT_ROI) == "0.3,0.55,0.4,0.3"


@pytest.mark.parametrize(
    "text, why",
    [
        ("0.3,0.55,0.4", "not 4"),
        ("a,b,c,d", "not four numbers"),
        ("0.3,0.55,nan,0.3", "not finite"),
        ("0.3,0.55,0,0.3", "no area"),
        ("0.8,0.55,0.4,0.3", "outside the frame"),
        ("-0.1,0.55,0.4,0.3", "outside the frame"),
    ],
)
def test_parse_roi_rejects_bad_text_in_one_sentence(text, why):
    with pytest.raises(MusevizError, match=why) as caught:
        parse_roi(text)
    message = str(caught.value)
    assert "\n" not in message and "0.3,0.55,0.4,0.3" in message
