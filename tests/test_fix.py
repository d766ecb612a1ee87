"""``museviz fix`` on made clips with known faults: each fixed clip re-measures in sync, at a
constant 25 fps, with matching lengths, and shows the source frame on screen at each instant."""

import json
import os
import re
import shlex
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from museviz.cli import build_parser
from museviz.errors import MusevizError
from museviz.fix import FixOptions, fix_clip, parse_fps, parse_offset, parse_sample_rate
from museviz.media import iter_frames, read_media
from museviz.synth import vfr_times

ROOT = Path(__file__).resolve().parent.parent
OUT_FPS = 25
ONE_FRAME_S = 1 / OUT_FPS

# name: (ClipSpec fields, fix options); every made clip carries synth's stamp, so neighbouring frames differ.
CASES = {
    "audio_-160ms.mp4": (dict(audio_delay_s=-0.16), {}),
    "audio_-40ms.mp4": (dict(audio_delay_s=-0.04), {}),
    "audio_+80ms.mp4": (dict(audio_delay_s=0.08), {}),
    "audio_+200ms.mp4": (dict(audio_delay_s=0.2), {}),
    "ntsc.mp4": (dict(fps=Fraction(30000, 1001)), {}),
    "vfr.mp4": (dict(frame_times_s=vfr_times(6.0)), dict(trim=True)),
    "audio_0.5s_longer.mp4": (dict(audio_duration_s=6.5), dict(trim=True)),
    "audio_0.5s_shorter.mp4": (dict(audio_duration_s=5.5), dict(trim=True)),
    "audio_track_starts_0.2s_late.mkv": (dict(audio_start_s=0.2), {}),
}


def made_name(name: str) -> str:
    """The session's made clips are shared by name across test files: these carry a prefix of their own."""
    return f"fix_{name}"


@pytest.fixture(scope="module")
def fixed(clips, tmp_path_factory):
    """``fixed(name) -> (source path, FixResult)``, each case fixed once, its source left as it was."""
    folder = tmp_path_factory.mktemp("fixed")
    done = {}

    def fix(name):
        if name not in done:
            fields, options = CASES[name]
            source = clips(made_name(name), stamp=True, **fields)
            before = Path(source).read_bytes()
            result = fix_clip(source, folder / f"{Path(name).stem}_fixed.mp4", FixOptions(**options))
            assert Path(source).read_bytes() == before
            done[name] = source, result
        return done[name]

    return fix


@pytest.mark.parametrize("name", list(CASES))
def test_each_fixed_clip_re_measures_in_sync_at_25fps_with_lengths_within_a_frame(fixed, name):
    _, result = fixed(name)
    after = result.after
    video, audio = after.media.video, after.media.audio
    assert after.sync.reliable and abs(after.sync.offset_frames) <= 1
    assert abs(after.sync.offset_ms) < 1000 / OUT_FPS
    assert not video.vfr and video.fps_fraction == OUT_FPS
    assert [int(p) * video.time_base for p in video.frame_pts] == [Fraction(k, OUT_FPS) for k in range(video.n_frames)]  # exact
    assert video.n_frames == round(result.before.media.video.duration_s * OUT_FPS)
    assert abs(audio.duration_s - video.duration_s) <= ONE_FRAME_S
    levels = {c.id: c.level for c in after.checks}
    assert [levels[i] for i in ("vfr", "fps-not-25", "duration-mismatch", "training-window-short", "stream-start-offset", "sync-offset")] == ["ok"] * 6
    assert {c.id: (c.before.level, c.after.level) for c in result.changes}["sync-offset"][1] == "ok"


def source_frame_on_screen(media, k: int) -> int:
    """The source frame shown at ``k / 25`` s after the first frame, in exact fractions."""
    pts, time_base = media.video.frame_pts, media.video.time_base
    return max(i for i in range(len(pts)) if (int(pts[i]) - int(pts[0])) * time_base <= Fraction(k, OUT_FPS))


@pytest.mark.parametrize("name", list(CASES))
def test_each_output_frame_shows_the_source_frame_on_screen_at_its_time(fixed, name):
    source, result = fixed(name)
    src = read_media(source)
    source_pictures = np.stack([rgb.astype(np.float32) for _, rgb in iter_frames(src)])
    fixed_pictures = np.stack([rgb.astype(np.float32) for _, rgb in iter_frames(result.after.media)])
    assert len(fixed_pictures) == result.after.media.video.n_frames
    for k, picture in enumerate(fixed_pictures):
        expected = source_frame_on_screen(src, k)
        difference = {i: float(np.abs(picture - source_pictures[i]).mean()) for i in (expected - 1, expected, expected + 1) if 0 <= i < len(source_pictures)}
        # x264 at crf 18 is lossy: the right frame is within a grey level or two, its neighbours' stamps many more away.
        assert difference[expected] < 3, (k, difference)
        assert all(difference[expected] + 5 < d for i, d in difference.items() if i != expected), (k, difference)


@pytest.mark.parametrize("name, shift_ms", [("audio_-160ms.mp4", -160), ("audio_-40ms.mp4", -40), ("audio_+80ms.mp4", 80), ("audio_+200ms.mp4", 200)])
def test_the_measured_offset_is_removed_in_syncnets_sign(fixed, name, shift_ms):
    _, result = fixed(name)
    measured = result.before.sync.offset_frames
    expected = -shift_ms * OUT_FPS / 1000  # audio late (shift > 0) is a negative offset
    assert abs(measured - expected) <= 1 and np.sign(measured) == np.sign(expected)
    assert result.plan.offset_measured and result.plan.offset_frames == measured
    assert result.plan.audio_shift_s == pytest.approx(result.before.sync.offset_ms / 1000)  # to a quarter frame, not rounded
    assert result.before.check("sync-offset").level == "warn" and result.after.check("sync-offset").level == "ok"


def test_a_late_audio_track_starts_with_the_first_frame_as_players_show_it(fixed, tmp_path):
    source, result = fixed("audio_track_starts_0.2s_late.mkv")
    assert result.before.media.video.start_offset_s == pytest.approx(-0.2, abs=0.002)
    # A player starts the sound 200 ms after the first frame: the estimate hears it 5 frames late,
    # and removing that offset leaves the samples where they were, sample 0 with frame 0.
    assert result.before.sync.offset_frames == -5 and result.plan.audio_shift_s == pytest.approx(0, abs=0.01)  # a quarter frame
    assert result.after.media.video.start_offset_s == 0
    kept = fix_clip(source, tmp_path / "as_played.mp4", FixOptions(parse_offset("0")))
    assert kept.plan.audio_shift_s == pytest.approx(0.2, abs=0.002)  # 200 ms of silence in front, as it was played
    assert kept.after.media.video.start_offset_s == 0 and abs(kept.after.sync.offset_frames + 5) <= 1


def test_the_source_rate_and_another_sample_rate_keep_every_frame(clips, tmp_path):
    source = clips(made_name("ntsc.mp4"), stamp=True, **CASES["ntsc.mp4"][0])
    result = fix_clip(source, tmp_path / "ntsc_44k.mp4", FixOptions(parse_offset("0"), parse_fps("source"), sample_rate=44100))
    video, audio = result.after.media.video, result.after.media.audio
    assert video.fps_fraction == Fraction(30000, 1001) and video.n_frames == result.before.media.video.n_frames
    assert np.array_equal(result.plan.source_frames, np.arange(video.n_frames))
    assert audio.sample_rate == 44100 and abs(audio.duration_s - result.before.media.audio.duration_s) < 0.025


def test_auto_refuses_an_offset_not_measured_reliably_and_says_why(clips, tmp_path, speech):
    source = clips("fix_no_face.mp4", face=False, duration_s=3.0)
    with pytest.raises(MusevizError, match=r"not measured reliably \(confidence 0\.\d\d: .*\); give the offset yourself") as refused:
        fix_clip(source, tmp_path / "fixed.mp4")
    assert "\n" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []
    kept = fix_clip(source, tmp_path / "fixed.mp4", FixOptions(parse_offset("0")))
    assert kept.plan.offset_s == 0 and kept.after.media.video.fps_fraction == OUT_FPS


@pytest.mark.parametrize("text, offset", [("auto", "auto"), ("0", "0"), ("-3f", "-3f"), ("+2f", "+2f"), ("120ms", "+120ms"), ("-40.5ms", "-40.5ms")])
def test_offsets_are_written_with_their_unit(text, offset):
    assert str(parse_offset(text)) == offset


@pytest.mark.parametrize("parse, text, says", [
    (parse_offset, "-3", "has no unit: write -3f for frames or -3ms for milliseconds"),
    (parse_offset, "2.5f", "not a whole number of frames"),
    (parse_offset, "late", "is not one museviz reads"),
    (parse_fps, "0", "outside 1 to 240 fps"),
    (parse_fps, "fast", "is not one museviz reads"),
    (parse_sample_rate, "15000", "is not one AAC stores"),
])
def test_settings_museviz_cannot_read_are_one_sentence(parse, text, says):
    with pytest.raises(MusevizError, match=says):
        parse(text)


def test_ntsc_names_mean_the_ntsc_rates():
    assert parse_fps("29.97") == Fraction(30000, 1001) and parse_fps("30000/1001") == Fraction(30000, 1001)
    assert parse_fps("source") is None and parse_fps("12.5") == Fraction(25, 2)


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "museviz.cli", "fix", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_prints_each_check_before_and_after_and_the_same_as_json(clips, tmp_path):
    source = clips(made_name("audio_+80ms.mp4"), stamp=True, **CASES["audio_+80ms.mp4"][0])
    text = run_cli(source, "--out", str(tmp_path / "fixed.mp4"), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"fixed fix_audio_+80ms.mp4 into {tmp_path / 'fixed.mp4'}: 150 frames at 25/1 fps")
    assert re.search(r"audio moved \d+ ms earlier \(the offset measured\)", lines[0]), lines[0]
    sync_line = next(line for line in lines if line.strip().startswith("sync-offset"))
    assert "WARN  -2 frames" in sync_line and "->    ok   +0 frames" in sync_line, sync_line
    data = json.loads(run_cli(source, "--out", "again.mp4", "--offset=-2f", "--json", cwd=tmp_path).stdout)
    assert data["done"]["offset_removed_frames"] == -2 and not data["done"]["offset_measured"]
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["sync-offset"]["before"]["level"] == "warn" and checks["sync-offset"]["after"]["level"] == "ok"
    assert data["after"]["fps_fraction"] == "25/1" and data["after"]["sync"]["offset_frames"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.mp4", "fixed.mp4"]


@pytest.mark.parametrize("args, says", [
    (["silent.mp4", "--out", "fixed.mp4"], "silent.mp4 has no audio to shift: set the offset to 0 to fix only its pictures"),
    (["clip.mp4", "--out", "fixed.mp4", "--offset", "300f"], "an offset of +300f (+12000 ms) is beyond clip.mp4"),
    (["clip.mp4", "--out", "missing/fixed.mp4"], "cannot write missing/fixed.mp4: the folder missing does not exist"),
    (["clip.mp4", "--out", "/proc/fixed.mp4"], "cannot write /proc/fixed.mp4"),
    (["clip.mp4", "--out", "clip.mp4"], "clip.mp4 is the source itself: museviz never overwrites it"),
    (["clip.mp4", "--out", "fixed.mp4", "--offset", "-3f"], "a value starting with - is written with =, as --offset=-3f"),
])
def test_bad_input_is_one_sentence_exit_2_and_leaves_nothing(clips, tmp_path, args, says):
    (tmp_path / "clip.mp4").write_bytes(Path(clips("fix_cli_clip.mp4", duration_s=3.0)).read_bytes())
    (tmp_path / "silent.mp4").write_bytes(Path(clips("fix_cli_silent.mp4", duration_s=3.0, audio=None)).read_bytes())
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("museviz: error: ") and says in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "silent.mp4"]


def test_every_museviz_fix_in_the_checks_is_a_command_museviz_reads(fixed):
    commands = [c.museviz_fix for name in CASES for c in fixed(name)[1].before.checks if c.museviz_fix]
    offsets = {word for c in commands for word in shlex.split(c, comments=True) if word.startswith("--offset=")}
    assert {"--offset=4f", "--offset=-5f"} <= offsets  # the sync fixes of -160 and +200 ms, in SyncNet's sign
    for command in commands:
        words = shlex.split(command, comments=True)
        assert words[:2] == ["museviz", "fix"]
        args = build_parser().parse_args(words[1:])
        assert args.command == "fix" and args.out.endswith(".mp4")


def test_a_fix_of_a_fix_changes_nothing_more(fixed, tmp_path):
    _, first = fixed("ntsc.mp4")
    again = fix_clip(first.out_path, tmp_path / "again.mp4", FixOptions(parse_offset("0")))
    assert np.array_equal(again.plan.source_frames, np.arange(first.plan.n_frames))
    assert again.after.media.audio.duration_s == first.after.media.audio.duration_s
    assert again.after.media.video.n_frames == first.after.media.video.n_frames
