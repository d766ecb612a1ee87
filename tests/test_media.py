"""Probing with PyAV: exact rational rates, every frame's time, VFR, audio at 16 kHz."""

from fractions import Fraction

import numpy as np
import pytest

from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE
from museviz.media import is_variable_rate, iter_frames, iter_luma, read_frame, read_media
from museviz.synth import vfr_times


def test_ntsc_clip_is_probed_as_exactly_30000_over_1001(clips):
    media = read_media(clips("ntsc.mp4", fps=Fraction(30000, 1001), duration_s=2.0))
    assert media.video.fps_fraction == Fraction(30000, 1001)
    assert media.video.n_frames == 60
    assert np.allclose(media.video.frame_times_s, np.arange(60) * 1001 / 30000, atol=1e-9)
    assert not media.video.vfr
    assert media.video.duration_s == pytest.approx(60 * 1001 / 30000, abs=1e-9)


def test_variable_frame_rate_clip_is_detected_with_every_frame_time(clips):
    times = vfr_times(3.0)
    media = read_media(clips("vfr.mp4", frame_times_s=times))
    assert media.video.vfr
    assert media.video.n_frames == len(times)
    assert np.max(np.abs(media.video.frame_times_s - np.array(times))) < 1 / 90000 + 1e-9


def test_constant_rate_is_not_flagged_despite_timestamp_rounding():
    ms_ticks = np.round(np.arange(300) * 1001 / 30) / 1000
    assert not is_variable_rate(ms_ticks, 0.001)
    assert is_variable_rate(np.r_[ms_ticks[:100], ms_ticks[101:]], 0.001)


def test_audio_is_resampled_to_16k_mono_from_44k_stereo(clips, speech):
    path = clips("stereo44k.mp4", duration_s=3.0, audio_rate=44100, audio_channels=2)
    media = read_media(path)
    assert (media.audio.sample_rate, media.audio.channels, media.audio.codec) == (44100, 2, "aac")
    assert media.audio.n_samples_16k == len(media.audio_16k)
    assert abs(len(media.audio_16k) - 3.0 * SAMPLE_RATE) <= 1024 * SAMPLE_RATE / 44100 + 1
    n = 2 * SAMPLE_RATE
    lags = np.arange(-40, 41)
    corr = [np.dot(media.audio_16k[1000 + lag : 1000 + lag + n], speech[1000 : 1000 + n]) for lag in lags]
    assert abs(lags[int(np.argmax(corr))]) <= 1
    assert media.audio_16k.dtype == np.float32


def test_clip_without_audio_track(clips):
    media = read_media(clips("silent.mp4", duration_s=1.0, audio=None))
    assert not media.audio.present
    assert len(media.audio_16k) == 0
    assert media.video.start_offset_s == 0


def test_frames_stream_one_at_a_time_with_their_index(clips):
    path = clips("ntsc.mp4", fps=Fraction(30000, 1001), duration_s=2.0)
    media = read_media(path)
    frames = iter_frames(media, size=(80, 60))
    first_idx, first = next(frames)
    assert first_idx == 0 and first.shape == (60, 80, 3) and first.dtype == np.uint8
    assert [i for i, _ in frames] == list(range(1, 60))


@pytest.mark.parametrize("rotation", [0, 90])
def test_luma_is_the_upright_grey_picture(clips, rotation):
    media = read_media(clips(f"rot{rotation}.mp4", duration_s=1.0, size=(96, 160), rotation=rotation))
    rgb = dict(iter_frames(media))
    luma = dict(iter_luma(media))
    assert sorted(luma) == sorted(rgb) == list(range(media.video.n_frames))
    for idx in (0, 12, 24):
        grey = rgb[idx].astype(float) @ [0.299, 0.587, 0.114]
        assert luma[idx].shape == grey.shape == (160, 96) and luma[idx].dtype == np.uint8
        assert np.corrcoef(luma[idx].ravel(), grey.ravel())[0, 1] > 0.99


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"hello, not a video\n" * 20, "is not a video")])
def test_unreadable_files_raise_one_sentence(tmp_path, content, message):
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(MusevizError, match=message):
        read_media(path)


def test_one_frame_is_read_by_seeking_and_equals_the_streamed_one(clips):
    media = read_media(clips("ntsc.mp4", fps=Fraction(30000, 1001), duration_s=2.0))
    streamed = dict(iter_frames(media))
    for idx in (0, 31, 59):
        assert np.array_equal(read_frame(media, idx), streamed[idx])
