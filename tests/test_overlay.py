"""The overlay video keeps the source's frames, frame times and audio, and says what each rule reads."""

import errno
import os
import resource
import signal
import threading
from fractions import Fraction

import av
import numpy as np
import pytest

from museviz import overlay
from museviz.analysis import Options, analyze
from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE
from museviz.media import read_media
from museviz.overlay import render_overlay
from museviz.synth import vfr_times

SECONDS = 2.0


def audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def decoded_video(path) -> tuple[int, str, str, tuple[int, int]]:
    """(frames decoded, codec, pixel format, (width, height)) of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n_frames = sum(1 for _ in container.decode(stream))
        return n_frames, stream.codec_context.name, stream.codec_context.pix_fmt, (stream.width, stream.height)


def lag_samples(reference: np.ndarray, shifted: np.ndarray) -> int:
    """How many samples later ``shifted`` plays ``reference`` (cross-correlation peak)."""
    n = len(reference) + len(shifted)
    spectrum = np.fft.rfft(shifted, n) * np.conj(np.fft.rfft(reference, n))
    correlation = np.fft.irfft(spectrum, n)
    lag = int(np.argmax(correlation))
    return lag if lag < n // 2 else lag - n


@pytest.mark.parametrize(
    "name, fields",
    [
        ("ov25.mp4", dict(fps=Fraction(25))),
        ("ov2997.mp4", dict(fps=Fraction(30000, 1001))),
        ("ovvfr.mp4", dict(frame_times_s=vfr_times(SECONDS))),
    ],
    ids=["25fps", "29.97fps", "vfr"],
)
def test_overlay_has_the_source_frame_count_every_frame_time_and_its_audio_packets(clips, tmp_path, name, fields):
    source = analyze(clips(name, duration_s=SECONDS, **fields), Options())
    out = render_overlay(source, tmp_path / "overlay.mp4")

    result = read_media(out)
    assert result.video.n_frames == source.media.video.n_frames
    assert result.video.time_base == source.media.video.time_base
    np.testing.assert_array_equal(result.video.frame_pts, source.media.video.frame_pts)
    np.testing.assert_array_equal(result.video.frame_times_s, source.media.video.frame_times_s)
    assert result.video.vfr == source.media.video.vfr
    assert audio_packets(out) == audio_packets(source.media.path)
    assert abs(result.audio.duration_s - source.media.audio.duration_s) <= 1024 / source.media.audio.sample_rate
    assert decoded_video(out)[:3] == (source.media.video.n_frames, "h264", "yuv420p")


def test_odd_161x121_source_is_padded_to_even_yuv420p_and_decodes(clips, tmp_path):
    source = analyze(clips("odd.mp4", duration_s=SECONDS, size=(161, 121)), Options())
    out = render_overlay(source, tmp_path / "odd-overlay.mp4")

    n_frames, codec, pix_fmt, (width, height) = decoded_video(out)
    assert (n_frames, codec, pix_fmt) == (source.media.video.n_frames, "h264", "yuv420p")
    assert width % 2 == 0 and height % 2 == 0
    assert width >= overlay.MIN_OUTPUT_WIDTH  # a small source is upscaled so the strip stays legible


@pytest.mark.parametrize("shift_ms", [120.0, -120.0])
def test_shift_moves_the_audio_by_that_much_and_keeps_its_duration(clips, tmp_path, shift_ms):
    source = analyze(clips("shift.mp4", duration_s=SECONDS), Options())
    out = render_overlay(source, tmp_path / "shifted.mp4", shift_ms=shift_ms)

    result = read_media(out)
    lag_ms = lag_samples(source.media.audio_16k, result.audio_16k) / SAMPLE_RATE * 1000
    assert lag_ms == pytest.approx(shift_ms, abs=1.0)
    assert abs(result.audio.duration_s - source.media.audio.duration_s) <= 1024 / source.media.audio.sample_rate
    np.testing.assert_array_equal(result.video.frame_times_s, source.media.video.frame_times_s)


def test_shifted_44100_stereo_audio_is_reencoded_at_its_own_rate_and_layout(clips, tmp_path):
    source = analyze(clips("overlay_stereo44k.mp4", duration_s=SECONDS, audio_rate=44100, audio_channels=2), Options())
    result = read_media(render_overlay(source, tmp_path / "stereo.mp4", shift_ms=40))

    assert (result.audio.codec, result.audio.sample_rate, result.audio.channels) == ("aac", 44100, 2)
    assert abs(result.audio.duration_s - source.media.audio.duration_s) <= 1024 / 44100


def test_unknown_rule_is_one_sentence_and_writes_nothing(clips, tmp_path):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    with pytest.raises(MusevizError, match="unknown rule 'musetalk-v2'"):
        render_overlay(source, tmp_path / "never.mp4", rules=["exact", "musetalk-v2"])
    assert not (tmp_path / "never.mp4").exists()


def test_missing_whisper_layer_is_a_museviz_error(clips, tmp_path):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    assert source.whisper.source == "logmel-pool"  # one layer only
    with pytest.raises(MusevizError, match="layer 3 does not exist"):
        render_overlay(source, tmp_path / "never.mp4", layer=3)


def test_a_failed_render_removes_its_partial_file(clips, tmp_path, monkeypatch):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())

    def fail(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(overlay, "_compose", fail)
    with pytest.raises(RuntimeError):
        render_overlay(source, tmp_path / "partial.mp4")
    assert not (tmp_path / "partial.mp4").exists()


def test_wav2lips_missing_tail_frames_say_no_chunk(clips):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    wav2lip = source.schedules["wav2lip"]
    last_frame = source.media.video.n_frames - 1
    assert wav2lip.n_chunks < source.media.video.n_frames  # about 25 D - 3 chunks

    track = overlay._track("wav2lip", wav2lip, source.media.video.n_frames)
    assert track.chunk_of_frame[last_frame] == -1
    assert overlay._missing_text(wav2lip, last_frame).startswith("no chunk")


def test_progress_reaches_one(clips, tmp_path):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    seen = []
    render_overlay(source, tmp_path / "progress.mp4", rules=["exact"], progress=lambda f, _message: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_encoder_features_render_the_chosen_layer_and_label_it(clips, tmp_path, whisper_checkpoint):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options(whisper_checkpoint=whisper_checkpoint))
    assert source.whisper.source == "whisper-encoder" and source.whisper.features.shape[1] == 5

    lane = overlay._whisper_lane(source, 2, 48)
    assert "layer 2 of 0..4" in lane.label
    assert lane.image.shape == (48, source.whisper.features.shape[0] + 2, 3)
    out = render_overlay(source, tmp_path / "encoder.mp4", rules=["exact"], layer=2)
    assert decoded_video(out)[0] == source.media.video.n_frames


@pytest.mark.parametrize("name", ["hallo", "sonic", "joyvasa", "pc-avs", "rad-nerf"])
def test_a_newer_systems_window_is_bracketed_at_its_time_on_the_strip(clips, name):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    view = overlay.FrameView(source, ["exact", name])
    strip = view.strip
    track = next(t for t in strip.tracks if t.name == name)
    s = track.schedule
    frame = 24
    k = track.chunk_of_frame[frame]
    assert k >= 0
    lane = next(lane for lane in strip.lanes if lane.stream == s.stream)
    row = [t.name for t in strip.tracks if t.schedule.stream == lane.stream].index(name)
    top = strip.layout[lane.stream + "-rows"] + row * strip.row_h
    band = strip.draw(frame)[top + view.geometry.px(2) : top + strip.row_h - view.geometry.px(2)]
    label_end = strip.margin + strip._text_size(track.label, small=True)[0] + 2  # the row's name, in the same colour
    in_colour = np.abs(band[:, label_end:].astype(int) - track.rgb).max(axis=2) <= 12  # as 4:2:0 keeps it
    xs = label_end + np.flatnonzero(in_colour.any(axis=0))
    t_s = float(source.timeline.frame_times_s[frame])
    start_s, end_s = s.window_s(k)
    assert abs(xs.min() - strip.x_of(start_s, t_s)) <= 1.5 and abs(xs.max() - strip.x_of(end_s, t_s)) <= 1.5 + strip.thickness
    assert track.label == (name if s.grid == s.stream else f"{name} ({s.grid})")


def decoded_frames(path) -> list[tuple[int, bytes]]:
    """(pts, I420 bytes) of every decoded video frame."""
    with av.open(str(path)) as container:
        return [(f.pts, f.to_ndarray().tobytes()) for f in container.decode(video=0)]


def outside_loop(source):
    """A decode loop of the test's own, as a pass that feeds several consumers would run it."""
    pts_to_idx = {int(p): i for i, p in enumerate(source.media.video.frame_pts)}
    with av.open(source.media.path) as container:
        for frame in container.decode(video=0):
            yield pts_to_idx[frame.pts], frame


def test_a_writer_fed_by_an_outside_decode_loop_writes_what_render_overlay_writes(clips, tmp_path):
    source = analyze(clips("ov2997.mp4", duration_s=SECONDS, fps=Fraction(30000, 1001)), Options())
    with overlay.OverlayWriter(source, tmp_path / "fed.mp4") as writer:
        for frame_idx, frame in outside_loop(source):
            writer.add(frame_idx, frame)
    rendered = render_overlay(source, tmp_path / "rendered.mp4")

    assert decoded_frames(tmp_path / "fed.mp4") == decoded_frames(rendered)
    assert audio_packets(tmp_path / "fed.mp4") == audio_packets(source.media.path)


def test_frames_a_loop_does_not_hand_over_are_missing_and_the_others_keep_their_times(clips, tmp_path):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    writer = overlay.OverlayWriter(source, tmp_path / "gaps.mp4", rules=["exact"])
    for frame_idx, frame in outside_loop(source):
        if frame_idx % 3:
            writer.add(frame_idx, frame)
    writer.finish()

    kept = [int(p) for i, p in enumerate(source.media.video.frame_pts) if i % 3]
    assert [pts for pts, _ in decoded_frames(tmp_path / "gaps.mp4")] == kept
    with pytest.raises(RuntimeError, match="finished"):
        writer.add(1, None)


def test_a_closed_writer_leaves_no_file_and_nor_does_one_that_failed_on_a_frame(clips, tmp_path, monkeypatch):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    frames = outside_loop(source)
    writer = overlay.OverlayWriter(source, tmp_path / "closed.mp4")
    writer.add(*next(frames))
    writer.close()
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(overlay, "_compose", lambda *_args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        with overlay.OverlayWriter(source, tmp_path / "failed.mp4") as writer:
            for frame_idx, frame in frames:
                writer.add(frame_idx, frame)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="closed"):
        writer.add(0, None)


@pytest.fixture
def file_size_limit():
    """Files this process writes may grow to the given bytes at most (writes past it fail
    with EFBIG, as on a full disk); lifted afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    yield lambda n_bytes: resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, hard))
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, handler)


def test_a_file_that_cannot_grow_is_one_sentence_and_leaves_no_file_and_no_thread(clips, tmp_path, file_size_limit):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    threads = set(threading.enumerate())
    file_size_limit(20_000)
    with pytest.raises(MusevizError, match=r"^cannot write .*full\.mp4: File too large$"):
        render_overlay(source, tmp_path / "full.mp4")
    assert list(tmp_path.iterdir()) == []
    assert set(threading.enumerate()) == threads


class FailsOnFrame:
    """The writer's real video stream, whose encoder fails on frame ``n`` as a full disk makes it."""

    def __init__(self, stream, n: int):
        self.stream, self.left = stream, n

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def encode(self, frame=None):
        if frame is not None:
            self.left -= 1
            if self.left < 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.stream.encode(frame)


@pytest.mark.parametrize("n", [0, 10])
def test_an_error_in_the_encoders_thread_reaches_the_caller_as_one_sentence(clips, tmp_path, monkeypatch, n):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    real = overlay._add_video_stream
    monkeypatch.setattr(overlay, "_add_video_stream", lambda *args: FailsOnFrame(real(*args), n))
    threads = set(threading.enumerate())
    with pytest.raises(MusevizError, match=r"^cannot write .*fails\.mp4: No space left on device$"):
        render_overlay(source, tmp_path / "fails.mp4")
    assert list(tmp_path.iterdir()) == []
    assert set(threading.enumerate()) == threads


def test_frames_out_of_display_order_are_refused(clips, tmp_path):
    source = analyze(clips("ov25.mp4", duration_s=SECONDS), Options())
    frames = dict(outside_loop(source))
    with overlay.OverlayWriter(source, tmp_path / "order.mp4") as writer:
        writer.add(4, frames[4])
        for frame_idx in (4, 3):
            with pytest.raises(ValueError, match=f"^frame {frame_idx} comes after frame 4: hand the frames over in display order$"):
                writer.add(frame_idx, frames[frame_idx])
        writer.add(5, frames[5])
    assert [pts for pts, _ in decoded_frames(tmp_path / "order.mp4")] == [int(p) for p in source.media.video.frame_pts[4:6]]
