"""Synthetic clips decode back to exactly the timing they were written with."""

import shutil
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from scipy.signal import correlate, resample_poly

from museviz import synth
from museviz.synth import (
    SAMPLE_RATE,
    ClipSpec,
    face_frame,
    flickered,
    loudness_envelope,
    moved,
    speech_16k,
    vfr_times,
    with_pauses,
    with_room_noise,
    write_clip,
)
from museviz.sync import NATURAL_LEAD_S

HAAR_FACE = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
AAC_FRAME_SAMPLES = 1024  # one AAC frame: the tolerance on decoded audio length
SHORT_S = 2.0  # s: clip length in tests


@pytest.fixture(scope="module")
def short_speech():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return speech_16k("Hello there, this is a lip sync test.")


def decoded_frame_times(path):
    """(times as Fractions of a second, stream average_rate) of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [frame.pts * frame.time_base for frame in container.decode(stream)]
        return times, stream.average_rate


def decoded_audio(path):
    """(samples (channels, n) float, sample rate Hz, first pts s) of the first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        return (
            np.concatenate([frame.to_ndarray() for frame in frames], axis=1),
            stream.codec_context.sample_rate,
            frames[0].pts * frames[0].time_base,
        )


def lag_s(signal, reference, rate):
    """How much later ``signal`` is than ``reference``, in seconds, by cross-correlation."""
    scores = correlate(signal, reference, mode="full", method="fft")
    return (np.argmax(scores) - (len(reference) - 1)) / rate


def faces_in(picture):
    gray = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY)
    return cv2.CascadeClassifier(HAAR_FACE).detectMultiScale(gray)


def test_25fps_frame_i_is_decoded_at_i_over_25_s(tmp_path):
    path = write_clip(tmp_path / "c.mp4", ClipSpec(fps=Fraction(25), duration_s=SHORT_S))
    times, average_rate = decoded_frame_times(path)
    assert times == [Fraction(i, 25) for i in range(50)]
    assert average_rate == 25


def test_ntsc_frame_i_is_decoded_at_i_times_1001_over_30000_s(tmp_path):
    ntsc = Fraction(30000, 1001)
    path = write_clip(tmp_path / "c.mp4", ClipSpec(fps=ntsc, duration_s=SHORT_S))
    times, average_rate = decoded_frame_times(path)
    assert times == [i / ntsc for i in range(round(SHORT_S * ntsc))]
    assert average_rate == ntsc


def test_vfr_times_start_at_zero_increase_and_alternate_two_rates():
    times = np.array(vfr_times(6.0))
    intervals = np.diff(times)
    assert times[0] == 0 and times[-1] < 6.0 and np.all(intervals > 0)
    assert set(np.round(intervals, 9)) == {0.04, round(1 / 15, 9)}


def test_vfr_frames_are_decoded_at_the_given_times(tmp_path):
    given = vfr_times(SHORT_S * 2)
    path = write_clip(tmp_path / "c.mp4", ClipSpec(frame_times_s=given))
    times, _ = decoded_frame_times(path)
    assert len(times) == len(given)
    np.testing.assert_allclose([float(t) for t in times], given, rtol=0, atol=float(synth.FINE_TIME_BASE))


def test_avi_refuses_variable_frame_rate(tmp_path):
    with pytest.raises(ValueError, match="constant frame rate"):
        write_clip(tmp_path / "c.avi", ClipSpec(frame_times_s=vfr_times(1.0)))


@pytest.mark.parametrize("delay_s", [0.0, 0.12, -0.12])
def test_audio_delay_is_measured_by_cross_correlation_within_1ms(tmp_path, short_speech, delay_s):
    spec = ClipSpec(duration_s=len(short_speech) / SAMPLE_RATE, audio=short_speech, audio_delay_s=delay_s)
    audio, rate, first_pts = decoded_audio(write_clip(tmp_path / "c.mp4", spec))
    assert rate == SAMPLE_RATE and first_pts == 0
    assert lag_s(audio[0], short_speech, rate) == pytest.approx(delay_s, abs=1e-3)


def test_aac_priming_is_hidden_so_sample_0_lines_up(tmp_path, short_speech):
    spec = ClipSpec(duration_s=SHORT_S, audio=short_speech, audio_rate=44100, audio_channels=2)
    audio, rate, _ = decoded_audio(write_clip(tmp_path / "c.mp4", spec))
    assert audio.shape[0] == 2 and rate == 44100
    assert lag_s(audio[1], synth.written_audio(spec), rate) == 0


def test_short_audio_is_decoded_within_one_aac_frame_of_its_length(tmp_path, short_speech):
    spec = ClipSpec(duration_s=SHORT_S, audio=short_speech, audio_duration_s=SHORT_S - 0.5)
    audio, rate, _ = decoded_audio(write_clip(tmp_path / "c.mp4", spec))
    assert abs(audio.shape[1] - (SHORT_S - 0.5) * rate) < AAC_FRAME_SAMPLES


@pytest.mark.parametrize("suffix", [".mkv", ".webm", ".avi"])
def test_other_containers_keep_frame_count_and_audio_alignment(tmp_path, short_speech, suffix):
    spec = ClipSpec(duration_s=SHORT_S, audio=short_speech)
    path = write_clip(tmp_path / f"c{suffix}", spec)
    times, _ = decoded_frame_times(path)
    audio, rate, _ = decoded_audio(path)
    audio_16k = resample_poly(audio[0], SAMPLE_RATE, rate)  # Opus always decodes at 48 kHz
    assert len(times) == 50
    assert lag_s(audio_16k, synth.written_audio(spec), SAMPLE_RATE) == pytest.approx(0, abs=1e-3)


def test_speech_is_16k_float32_mono_with_a_clear_peak(short_speech):
    assert short_speech.dtype == np.float32 and short_speech.ndim == 1
    assert 1.0 < len(short_speech) / SAMPLE_RATE < 4.0
    assert 0.5 <= np.abs(short_speech).max() <= 0.9


def test_speech_without_espeak_raises_one_line_runtime_error(monkeypatch):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="espeak-ng is not installed") as error:
        speech_16k("hello")
    assert "\n" not in str(error.value)


def test_loudness_is_1_on_the_loudest_part_half_power_at_its_edge_and_0_outside():
    samples = np.arange(SAMPLE_RATE // 2)
    tone = np.sin(2 * np.pi * 400 * samples / SAMPLE_RATE)  # 16 whole periods per 40 ms window
    audio = np.concatenate([np.zeros(SAMPLE_RATE // 2), tone])  # 0.5 s silence, 0.5 s tone
    loudness = loudness_envelope(audio, SAMPLE_RATE, np.array([-1.0, 0.25, 0.5, 0.75, 2.0]))
    np.testing.assert_allclose(loudness, [0, 0, np.sqrt(0.5), 1, 0], atol=1e-9)


@pytest.mark.parametrize("size", [(160, 120), (320, 240), (641, 361), (1280, 720)])
def test_face_is_detected_at_every_openness(size):
    for openness in np.linspace(0, 1, 5):
        picture = face_frame(openness, size)
        assert picture.shape == (size[1], size[0], 3) and picture.dtype == np.uint8
        assert len(faces_in(picture)) >= 1


def test_face_is_detected_in_decoded_frames(tmp_path, short_speech):
    path = write_clip(tmp_path / "c.mp4", ClipSpec(duration_s=SHORT_S, audio=short_speech))
    with av.open(str(path)) as container:
        pictures = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert all(len(faces_in(picture)) >= 1 for picture in pictures[::5])


@pytest.mark.parametrize("driver", ["audio", "unrelated mouth_audio"])
def test_decoded_mouth_opens_with_the_loudness_of_its_driver_the_natural_lead_after_each_frame(tmp_path, short_speech, driver):
    unrelated = short_speech[::-1].copy()  # same sounds, other times
    mouth_audio = unrelated if driver == "unrelated mouth_audio" else None
    spec = ClipSpec(duration_s=len(short_speech) / SAMPLE_RATE, audio=short_speech, mouth_audio=mouth_audio)
    with av.open(str(write_clip(tmp_path / "c.mp4", spec))) as container:
        frames = [(frame.to_ndarray(format="gray"), float(frame.time)) for frame in container.decode(video=0)]
    gray = np.array([picture for picture, _ in frames], dtype=float)
    moving = gray.std(axis=0) >= np.percentile(gray.std(axis=0), 99.5)  # the mouth's pixels
    darkness = -gray[:, moving].mean(axis=1)
    times_s = np.array([t for _, t in frames])
    driven_by = short_speech if mouth_audio is None else mouth_audio
    other = unrelated if mouth_audio is None else short_speech
    ahead_s = times_s + spec.mouth_lead_s
    assert spec.mouth_lead_s == NATURAL_LEAD_S > 0
    assert np.corrcoef(darkness, loudness_envelope(driven_by, SAMPLE_RATE, ahead_s))[0, 1] > 0.95
    assert np.corrcoef(darkness, loudness_envelope(driven_by, SAMPLE_RATE, ahead_s))[0, 1] > np.corrcoef(darkness, loudness_envelope(driven_by, SAMPLE_RATE, times_s))[0, 1]
    assert np.corrcoef(darkness, loudness_envelope(other, SAMPLE_RATE, ahead_s))[0, 1] < 0.5


def test_teeth_show_white_in_an_open_mouth_and_not_in_a_closed_one():
    white = lambda picture: int((picture.min(axis=2) > 200).sum())
    assert white(face_frame(1.0, (320, 240), teeth=True)) > white(face_frame(1.0, (320, 240))) + 50
    assert white(face_frame(0.0, (320, 240), teeth=True)) == white(face_frame(0.0, (320, 240)))


def test_flicker_changes_the_light_by_up_to_its_share():
    picture = face_frame(0.5, (160, 120))
    means = [flickered(picture, t, 0.2).astype(float).mean() / picture.astype(float).mean() for t in np.arange(0, 10, 0.02)]
    assert 0.78 < min(means) < 0.85 and 1.15 < max(means) < 1.22


def test_head_motion_moves_the_face_by_about_its_share_of_the_frame():
    picture = face_frame(0.5, (320, 240))
    boxes = [faces_in(moved(picture, t, 0.1))[0] for t in np.arange(0, 8, 0.5)]
    xs = [x + w / 2 for x, y, w, h in boxes]
    assert 0.05 * 320 < max(xs) - min(xs) < 0.15 * 320


def test_room_noise_is_added_at_the_asked_signal_to_noise_ratio(short_speech):
    noisy = with_room_noise(short_speech, 10.0)
    noise = noisy - short_speech
    voiced = np.abs(short_speech) > np.max(np.abs(short_speech)) * 10 ** (-40 / 20)
    snr_db = 20 * np.log10(np.sqrt(np.mean(short_speech[voiced] ** 2)) / np.sqrt(np.mean(noise**2)))
    assert snr_db == pytest.approx(10.0, abs=0.01)


def test_pauses_insert_a_second_of_silence_every_two_seconds_of_speech(speech):
    paused = with_pauses(speech, pause_s=1.0, every_s=2.0)
    n_pauses = (len(paused) - len(speech)) // SAMPLE_RATE
    assert len(paused) - len(speech) == n_pauses * SAMPLE_RATE and n_pauses == int(len(speech) / SAMPLE_RATE / 2)
    silent = np.convolve(paused == 0, np.ones(SAMPLE_RATE), mode="valid") == SAMPLE_RATE
    assert silent.any()


def test_odd_size_641x361_is_written_and_decoded_at_that_size(tmp_path):
    path = write_clip(tmp_path / "c.mp4", ClipSpec(duration_s=0.4, size=(641, 361)))
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (641, 361)


def test_spec_without_audio_writes_no_audio_stream(tmp_path):
    path = write_clip(tmp_path / "c.mp4", ClipSpec(duration_s=0.4, face=False))
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 0 and len(container.streams.video) == 1
