"""The checks that need a whole clip, and the numbers in their messages."""

import av
import pytest

from museviz.analysis import Options, analyze
from museviz.checks import CLIP_CHECK_IDS, rule_checks
from museviz.rules import Timeline, schedule_all


def checks_of(path) -> dict:
    return {c.id: c for c in analyze(path, Options(sync=False)).checks}


def test_every_check_is_reported_in_a_fixed_order(clips):
    analysis = analyze(clips("order.mp4", duration_s=2.0), Options())
    assert [c.id for c in analysis.checks] == [*CLIP_CHECK_IDS, "sync-offset"]


def test_audio_track_starting_late_in_the_container_is_caught_with_its_fix(clips):
    c = checks_of(clips("late_track.mkv", duration_s=3.0, audio_start_s=0.2))["stream-start-offset"]
    assert c.level == "warn" and c.value == pytest.approx(-0.2, abs=0.002)
    assert "put the sound 200 ms early" in c.message
    assert "adelay=200:all=1" in c.fix


def test_a_16k_mono_clip_needs_no_resampling(clips):
    c = checks_of(clips("mono16k.mp4", duration_s=2.0))["audio-format"]
    assert c.level == "ok" and c.value == 16000


def test_a_truncated_file_that_still_opens_is_analysed_with_a_warning(clips, tmp_path):
    source = clips("whole.mp4", duration_s=4.0)
    faststart = tmp_path / "faststart.mp4"
    with av.open(source) as inp, av.open(str(faststart), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    data = faststart.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    analysis = analyze(cut, Options(sync=False))
    damaged = {c.id: c for c in analysis.checks}["damaged"]
    assert damaged.level == "warn" and "truncated or damaged" in damaged.message
    assert 0 < analysis.media.video.n_frames < 100


def test_v1_extra_chunks_are_measured_against_the_audio():
    t = Timeline.constant_rate(25, 4.0, 4.5)
    c = {c.id: c for c in rule_checks(t, schedule_all(t))}["v1-extra-chunks"]
    assert c.value == 114 - 100
    assert "runs 60 ms past the end of the audio" in c.message


def test_v15_that_cannot_run_is_an_error_not_ok():
    t = Timeline.constant_rate(0.5, 20.0)
    checks = {c.id: c for c in rule_checks(t, schedule_all(t))}
    assert checks["v15-window-overflow"].level == "error" and "cannot run" in checks["v15-window-overflow"].message
    assert checks["v15-fps-truncation"].level == "error"


def test_v15_exit_is_told_once_with_the_frames_left():
    t = Timeline.constant_rate(60, 10.0)
    c = {c.id: c for c in rule_checks(t, schedule_all(t))}["v15-window-overflow"]
    assert c.message.count("exits at frame") == 1 and "with 1 of its frames left" in c.message
