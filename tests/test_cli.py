"""``museviz analyze`` as a user runs it: files written, a summary, one-line errors."""

import json
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "museviz.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_analyze_writes_report_and_features(clips, tmp_path, whisper_checkpoint):
    out = tmp_path / "out"
    result = run("analyze", clips("cli25.mp4", duration_s=3.0), "--out", str(out), "--whisper-checkpoint", whisper_checkpoint)
    assert result.returncode == 0, result.stderr
    assert "75 frames at 25/1 fps" in result.stdout and "v1-extra-chunks" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == 2
    assert report["video"]["fps_fraction"] == "25/1" and report["video"]["n_frames"] == 75
    v1 = report["schemes"]["musetalk-v1"]
    assert v1["stream"] == "whisper50" and v1["n_chunks"] == len(v1["indices"]) == 75 + 2
    assert v1["indices"][0] == [0, 0, 0, 0, 0, 1, 2, 3, 4, 5] and v1["error"] is None
    assert {c["id"] for c in report["checks"]} >= {"duration-mismatch", "vfr", "no-audio", "fps-not-25", "training-window-short"}
    with np.load(out / "features.npz") as f:
        n = report["audio"]["n_samples_16k"]
        assert f["whisper50"].shape == (n // 320, 5, 384) and f["mel80"].shape == (80, 1 + n // 200)
        assert f["audio_16k"].shape == (n,) and f["frame_times_s"].dtype == np.float64
    assert report["sync"]["method"] and report["sync"]["offset_frames"] == 0
    expected = ["drift.png", "edges.png", "features.npz", "features.png", "frame.png", "mapping.png", "overlay.mp4", "report.json", "sync.png"]
    assert sorted(p.name for p in out.iterdir()) == expected


def test_checkpoint_from_the_environment_is_used(clips, tmp_path, whisper_checkpoint):
    env = {**os.environ, "MUSEVIZ_WHISPER_CHECKPOINT": whisper_checkpoint}
    result = run("analyze", clips("cli25.mp4", duration_s=3.0), "--out", str(tmp_path / "o"), "--no-plots", "--no-overlay", env=env)
    assert result.returncode == 0, result.stderr
    assert "whisper-encoder, tiny-random.pt" in result.stdout


def test_fps_override_is_what_the_rules_use(clips, tmp_path):
    out = tmp_path / "o"
    result = run("analyze", clips("cli25.mp4", duration_s=3.0), "--out", str(out), "--fps", "29.97", "--no-plots", "--no-overlay", "--no-sync")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["video"]["fps_used"] == 29.97 and report["schemes"]["musetalk-v1.5"]["fps_used"] == 29
    assert report["sync"] == {"error": "the sync estimate was turned off"}
    assert sorted(p.name for p in out.iterdir()) == ["features.npz", "report.json"]


@pytest.mark.parametrize(
    "args, says",
    [
        (["analyze", "missing.mp4", "--out", "o"], "missing.mp4: no such file"),
        (["analyze", "notes.mp4", "--out", "o"], "is not a video museviz can read"),
        (["analyze", "notes.mp4"], "required: --out"),
        (["analyze", "notes.mp4", "--out", "o", "--fps", "fast"], "is not a number"),
        (["analyze", "notes.mp4", "--out", "o", "--fps", "0"], "'0' is not above 0"),
        (["analyze", "notes.mp4", "--out", "o", "--duration-tolerance", "-1"], "'-1' is negative"),
        (["analyze", "notes.mp4", "--out", "o", "--shift-ms", "nan"], "'nan' is not a number"),
        (["audit", ".", "--out", "o", "--max-offset", "1.5"], "'1.5' is not a whole number"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(tmp_path, args, says):
    (tmp_path / "notes.mp4").write_text("not a video\n")
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("museviz: error: ") and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_a_missing_checkpoint_is_one_line_and_leaves_nothing(clips, tmp_path):
    result = run("analyze", clips("cli25.mp4", duration_s=3.0), "--out", "o", "--whisper-checkpoint", "nope.pt", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "museviz: error: Whisper checkpoint nope.pt does not exist: give the path of a .pt file in openai-whisper's format"
    assert list(tmp_path.iterdir()) == []


def test_analyze_with_syncnet_weights_fills_the_lse_block(clips, tmp_path, syncnet_checkpoint):
    out = tmp_path / "o"
    result = run("analyze", clips("cli25.mp4", duration_s=3.0), "--out", str(out), "--no-plots", "--no-overlay", "--syncnet", syncnet_checkpoint)
    assert result.returncode == 0, result.stderr
    lse = json.loads((out / "report.json").read_text())["lse"]
    assert lse["crop"] == "face" and lse["checkpoint"]["name"] == "syncnet_random.model" and len(lse["checkpoint"]["sha256"]) == 64
    assert len(lse["curve"]["mean_dist"]) == 31 and lse["n_windows"] == 70 == len(lse["framewise_conf"])
    assert lse["lse_d"] == min(lse["curve"]["mean_dist"]) and lse["fps"] == 25 and not lse["resampled"]
    assert abs(lse["agreement"]["sync_offset_ms"]) < 20 and lse["agreement"]["agree"] is not None
    line = next(line for line in result.stdout.splitlines() if line.startswith("lse: "))
    assert f"LSE-C {lse['lse_c']:.3f}, LSE-D {lse['lse_d']:.3f}, offset {lse['offset_frames']:+d} frames at 25 fps" in line


def test_analyze_whole_frames_from_the_environments_weights(clips, tmp_path, syncnet_checkpoint):
    out = tmp_path / "o"
    env = {**os.environ, "MUSEVIZ_SYNCNET_CHECKPOINT": syncnet_checkpoint}
    result = run("analyze", clips("cli25.mp4", duration_s=3.0), "--out", str(out), "--no-plots", "--no-overlay", "--no-sync", "--lse-crop", "whole", env=env)
    assert result.returncode == 0, result.stderr
    lse = json.loads((out / "report.json").read_text())["lse"]
    assert lse["crop"] == "whole" and lse["agreement"] is None and "(whole crops, syncnet_random.model)" in result.stdout


@pytest.mark.parametrize("weights, says", [
    (None, "no SyncNet weights; put syncnet_v2.model (syncnet_python's published weights) in "),
    ("broken.model", "broken.model is not a SyncNet checkpoint (not a torch file): give syncnet_v2.model"),
])
def test_without_weights_or_with_a_broken_file_lse_is_one_sentence_and_the_analysis_completes(clips, tmp_path, weights, says):
    (tmp_path / "broken.model").write_text("not weights\n")
    args = ["--syncnet", str(tmp_path / weights)] if weights else []
    result = run("analyze", clips("cli25.mp4", duration_s=3.0), "--out", str(tmp_path / "o"), "--no-plots", "--no-overlay", *args)
    assert result.returncode == 0, result.stderr
    error = json.loads((tmp_path / "o" / "report.json").read_text())["lse"]["error"]
    assert says in error and "\n" not in error
    assert f"lse: not measured: {error}" in result.stdout.splitlines()


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(24), Fraction(30000, 1001), Fraction(30)], ids=["25", "24", "29.97", "30"])
def test_analyze_reports_every_rule_with_its_grid_at_25_24_2997_and_30fps(clips, tmp_path, fps):
    from museviz.grid import GRIDS
    from museviz.rules import RULES

    out = tmp_path / "o"
    result = run("analyze", clips(f"every_{float(fps):.2f}.mp4", fps=fps, duration_s=6.0), "--out", str(out), "--no-plots", "--no-overlay", "--no-sync")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    n = report["audio"]["n_samples_16k"]
    assert list(report["schemes"]) == list(RULES)
    for name, scheme in report["schemes"].items():
        grid = GRIDS[scheme["grid"]]
        assert scheme["grid_rate_hz"] == grid.rate_hz and scheme["grid_count"] == grid.count(n), name
        windows = scheme["indices"] if scheme["positions"] is None else scheme["positions"]
        assert (scheme["indices"] is None) != (scheme["positions"] is None), name
        assert len(windows) == scheme["n_chunks"] == len(scheme["source_frame"]), name
        assert scheme["n_chunks"] > 0 or scheme["error"], name
    assert report["schemes"]["hallo"]["positions"] and report["schemes"]["sonic"]["fps_used"] == 12.5
    assert report["schemes"]["aniportrait"]["error"] is None  # 6 s is more than one 5 s pose chunk: it runs
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["echomimic-24fps"]["level"] == ("ok" if fps == 24 else "info")
