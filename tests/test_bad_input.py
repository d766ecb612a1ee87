"""Every kind of awkward file, in the CLI and in the app: analysed with the right warnings,
or refused with one sentence, in a bounded time, leaving nothing behind."""

import json
import subprocess
import sys
import time
import wave

import av
import gradio as gr
import numpy as np
import pytest

from museviz import webapp
from museviz.synth import ClipSpec, vfr_times, write_clip

TIME_LIMIT_S = 120
WEIRD_NAME = "my clip 'quoted' \"dq\" ünï $(touch x); `ls` & |.mp4"

REFUSED = {
    "empty.mp4": "is empty (0 bytes)",
    "text.mp4": "is not a video museviz can read",
    "truncated.mp4": "it may be truncated or damaged",
    "audio_only.m4a": "has no video track",
    "image.png": "is a still image",
    "speech.wav": "has no video track",
}
ANALYSED = {  # file -> (check id, level) the report must contain
    "no_audio.mp4": ("no-audio", "error"),
    "one_frame.mp4": ("vfr", "info"),
    "short_0.2s.mp4": ("sync-offset", "info"),
    "odd_641x361.mp4": ("no-audio", "ok"),
    "wide_1600x90.mp4": ("no-audio", "ok"),
    "tall_90x1200.mp4": ("no-audio", "ok"),
    "mono_8k.mp4": ("audio-format", "info"),
    "surround_48k_6ch.mp4": ("audio-format", "info"),
    "rotated.mp4": ("rotation", "warn"),
    "vfr.mp4": ("vfr", "warn"),
    WEIRD_NAME: ("no-audio", "ok"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory, speech):
    d = tmp_path_factory.mktemp("awkward")
    clip = lambda name, **kw: write_clip(d / name, ClipSpec(**{"audio": speech, "duration_s": 2.0, "size": (160, 120), **kw}))
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("this is not a video\n" * 50)
    good = clip("good.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(good[: len(good) // 3])
    with av.open(str(d / "audio_only.m4a"), "w") as c:
        stream = c.add_stream("aac", rate=16000)
        for start in range(0, len(speech), 1024):
            frame = av.AudioFrame.from_ndarray(speech[None, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, start
            c.mux(stream.encode(frame))
        c.mux(stream.encode())
    av.VideoFrame.from_ndarray(np.full((120, 160, 3), 128, np.uint8), format="rgb24").to_image().save(d / "image.png")
    with wave.open(str(d / "speech.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((speech * 32767).astype(np.int16).tobytes())
    clip("no_audio.mp4", audio=None)
    clip("one_frame.mp4", duration_s=0.04)
    clip("short_0.2s.mp4", duration_s=0.2)
    clip("odd_641x361.mp4", size=(641, 361))
    clip("wide_1600x90.mp4", size=(1600, 90))
    clip("tall_90x1200.mp4", size=(90, 1200))
    clip("mono_8k.mp4", audio_rate=8000)
    clip("surround_48k_6ch.mp4", audio_rate=48000, audio_channels=6)
    clip("rotated.mp4", size=(120, 160), rotation=90)
    clip("vfr.mp4", duration_s=3.0, frame_times_s=vfr_times(3.0))
    clip(WEIRD_NAME)
    return d


def cli(*args, cwd):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "museviz.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=TIME_LIMIT_S)
    return result, time.perf_counter() - start


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_cli_refuses_with_one_sentence(files, tmp_path, name):
    result, seconds = cli("analyze", str(files / name), "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("museviz: error: ") and REFUSED[name] in result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.iterdir())
    assert seconds < 10


@pytest.mark.parametrize("name", sorted(ANALYSED))
def test_cli_analyses_with_the_right_warnings(files, tmp_path, name):
    plots = [] if name in ("one_frame.mp4", "short_0.2s.mp4", "no_audio.mp4") else ["--no-plots"]
    result, seconds = cli("analyze", str(files / name), "--out", "out", *plots, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    check_id, level = ANALYSED[name]
    assert {c["id"]: c["level"] for c in report["checks"]}[check_id] == level
    with av.open(str(tmp_path / "out" / "overlay.mp4")) as overlay:
        assert overlay.streams.video[0].frames == report["video"]["n_frames"]
    assert seconds < TIME_LIMIT_S


def test_weird_names_stay_quoted_in_every_fix(files, tmp_path):
    result, _ = cli("analyze", str(files / WEIRD_NAME), "--out", "out", "--fps", "29.97", "--no-plots", "--no-overlay", cwd=tmp_path)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    fixes = [c["fix"] for c in report["checks"] if c["fix"]]
    assert fixes and all("'my clip '\"'\"'quoted'\"'\"'" in fix for fix in fixes)
    assert not (tmp_path / "x").exists()


def test_audio_formats_are_resampled_to_16k_mono(files, tmp_path):
    for name, rate, channels in (("mono_8k.mp4", 8000, 1), ("surround_48k_6ch.mp4", 48000, 6)):
        out = tmp_path / name
        cli("analyze", str(files / name), "--out", str(out), "--no-plots", "--no-overlay", "--no-sync", cwd=tmp_path)
        audio = json.loads((out / "report.json").read_text())["audio"]
        assert (audio["sample_rate"], audio["channels"]) == (rate, channels)
        assert audio["n_samples_16k"] == pytest.approx(audio["duration_s"] * 16000, abs=1100)


def test_rotated_video_is_analysed_upright(files, tmp_path):
    from museviz.analysis import Options, analyze
    from museviz.media import read_frame

    analysis = analyze(files / "rotated.mp4", Options())
    assert analysis.media.video.display_size == (120, 160)
    assert read_frame(analysis.media, 0).shape == (160, 120, 3)
    assert analysis.sync.roi_source == "face"


def test_limits_refuse_long_clips_and_slow_decoding(files, tmp_path):
    result, _ = cli("analyze", str(files / "vfr.mp4"), "--out", "o", "--max-duration", "1", cwd=tmp_path)
    assert result.returncode == 2 and "lasts 3 s; museviz analyses up to 1 s here" in result.stderr
    result, _ = cli("analyze", str(files / "vfr.mp4"), "--out", "o", "--decode-timeout", "0", cwd=tmp_path)
    assert result.returncode == 2 and "took longer than 0 s" in result.stderr
    assert not list(tmp_path.iterdir())


def run_app(path, **settings):
    """Drive the Analyze button's callback to its end, as the page does."""
    args = dict(rules=None, whisper="tiny", fps=None, tolerance_s=0.1, roi="", with_overlay=True, shift_ms=0)
    args.update(settings)
    outputs = None
    for outputs in webapp.run_analysis(str(path), progress=lambda *a, **k: None, **args):
        pass
    return dict(zip(webapp.ANALYZE_OUTPUTS, outputs))


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_app_refuses_with_one_sentence(files, name):
    with pytest.raises(gr.Error) as error:
        run_app(files / name)
    assert REFUSED[name] in error.value.message and "\n" not in error.value.message


@pytest.mark.parametrize("name", ["no_audio.mp4", "one_frame.mp4", "odd_641x361.mp4", "rotated.mp4", WEIRD_NAME])
def test_app_analyses_awkward_clips_to_the_end(files, name):
    outputs = run_app(files / name)
    report, overlay = outputs["report"], outputs["overlay"]
    check_id, level = ANALYSED[name]
    assert {c["id"]: c["level"] for c in report["checks"]}[check_id] == level
    assert overlay is not None


def test_app_settings_errors_are_sentences(files):
    with pytest.raises(gr.Error, match="the mouth region"):
        run_app(files / "odd_641x361.mp4", roi="0.5,0.5,0.9,0.9")
    with pytest.raises(gr.Error, match="Upload a video"):
        run_app("")
