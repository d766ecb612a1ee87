"""``museviz audit`` over a folder of clips with known faults."""

import csv
import json
import subprocess
import sys
from fractions import Fraction

import pytest

from museviz.audit import AuditSettings, run_audit, summary_text
from museviz.synth import ClipSpec, vfr_times, write_clip

EXPECTED = {
    "good/in_sync.mp4": (True, ""),
    "good/late_320ms.mp4": (False, "sync-offset"),
    "short_audio.mp4": (False, "duration-mismatch;training-window-short"),
    "ntsc.mp4": (False, "fps-not-25"),
    "phone/vfr.mp4": (False, "vfr;fps-not-25"),
    "silent.mp4": (False, "no-audio"),
    "broken.mp4": (False, "unreadable"),
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, speech):
    root = tmp_path_factory.mktemp("dataset")
    specs = {
        "good/in_sync.mp4": ClipSpec(),
        "good/late_320ms.mp4": ClipSpec(audio_delay_s=0.32),
        "short_audio.mp4": ClipSpec(audio_duration_s=5.4),
        "ntsc.mp4": ClipSpec(fps=Fraction(30000, 1001)),
        "phone/vfr.mp4": ClipSpec(frame_times_s=vfr_times(6.0)),
        "silent.mp4": ClipSpec(audio=None),
    }
    for name, spec in specs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        audio = None if name == "silent.mp4" else speech
        write_clip(root / name, ClipSpec(**{**spec.__dict__, "audio": audio, "size": (160, 120)}))
    good = (root / "good/in_sync.mp4").read_bytes()
    (root / "broken.mp4").write_bytes(good[: len(good) // 3])
    (root / "notes.txt").write_text("not a clip")
    return root


def rows_by_path(summary):
    return {row["path"]: row for row in summary.rows}


def test_each_clip_gets_its_verdict_and_reason(dataset, tmp_path):
    summary = run_audit(dataset, tmp_path / "audit.csv", workers=1)
    rows = rows_by_path(summary)
    assert set(rows) == set(EXPECTED)
    for path, (keep, reasons) in EXPECTED.items():
        assert (rows[path]["keep"], rows[path]["reasons"]) == (keep, reasons), path
    assert rows["good/late_320ms.mp4"]["sync_offset_frames"] == -8
    assert rows["broken.mp4"]["status"] == "failed" and "truncated" in rows["broken.mp4"]["error"] or "not a video" in rows["broken.mp4"]["error"]
    assert rows["ntsc.mp4"]["fps_fraction"] == "30000/1001" and rows["ntsc.mp4"]["check_v15-fps-truncation"] == "warn"
    assert summary.kept == 1 and summary.failed == 1 and summary.reasons["fps-not-25"] == 2
    with open(tmp_path / "audit.csv", newline="") as f:
        assert [r["path"] for r in csv.DictReader(f)] == sorted(EXPECTED)
    assert json.loads((tmp_path / "audit.json").read_text())["rows"] == summary.rows


def test_a_looser_offset_limit_keeps_the_late_clip(dataset, tmp_path):
    rows = rows_by_path(run_audit(dataset, tmp_path / "a.csv", AuditSettings(max_offset_frames=8), workers=1))
    assert rows["good/late_320ms.mp4"]["keep"] is True


def test_identical_rows_with_one_and_two_workers_and_dask(dataset, tmp_path):
    import dask
    from distributed import LocalCluster

    one = run_audit(dataset, tmp_path / "one.csv", workers=1).rows
    two = run_audit(dataset, tmp_path / "two.csv", workers=2).rows
    with dask.config.set({"temporary-directory": str(tmp_path / "dask")}):  # Dask's scratch space, not museviz's
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            dask_rows = run_audit(dataset, tmp_path / "dask.csv", scheduler=cluster.scheduler_address).rows
    assert one == two == dask_rows


def test_an_interrupted_audit_resumes_without_redoing_finished_clips(dataset, tmp_path):
    out = tmp_path / "resume.csv"
    full = run_audit(dataset, out, workers=1)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
    seen = []
    resumed = run_audit(dataset, out, workers=1, progress=lambda done, total, path: seen.append(path))
    assert resumed.resumed == 3
    assert len(seen) == len(EXPECTED) - 3
    assert resumed.rows == full.rows


def test_cli_prints_counts_by_reason_and_a_progress_bar(dataset, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "museviz.cli", "audit", str(dataset), "--out", str(tmp_path / "cli.csv"), "--workers", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "7 clips: 1 kept, 6 dropped (1 failed to read)" in result.stdout
    assert "7/7" in result.stderr and "clips/s" in result.stderr


def test_a_resumed_audit_with_other_settings_redoes_every_clip(dataset, tmp_path):
    out = tmp_path / "resume.csv"
    run_audit(dataset, out, workers=1)
    redone = run_audit(dataset, out, AuditSettings(max_offset_frames=8), workers=1)
    assert redone.resumed == 0
    assert {r["path"]: r["keep"] for r in redone.rows}["good/late_320ms.mp4"] is True


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory, speech):
    root = tmp_path_factory.mktemp("lse_dataset")
    write_clip(root / "talking.mp4", ClipSpec(duration_s=3.0, audio=speech, size=(160, 120)))
    write_clip(root / "no_face.mp4", ClipSpec(duration_s=3.0, audio=speech, size=(160, 120), face=False))
    return root


def test_lse_columns_and_latentsyncs_rule_with_weights(small_dataset, tmp_path, syncnet_checkpoint):
    strict = AuditSettings(syncnet=syncnet_checkpoint, min_lse_c=1e9, max_offset_frames=15)
    summary = run_audit(small_dataset, tmp_path / "strict.csv", strict, workers=1)
    rows = rows_by_path(summary)
    talking = rows["talking.mp4"]
    assert isinstance(talking["lse_c"], float) and isinstance(talking["lse_d"], float) and isinstance(talking["lse_offset"], int)
    assert talking["keep"] is False and talking["reasons"] == "lse-confidence"
    no_face = rows["no_face.mp4"]
    assert "lse-unmeasured" in no_face["reasons"] and "LSE: no face found in no_face.mp4" in no_face["error"]
    assert summary.lse_note is None
    loose = rows_by_path(run_audit(small_dataset, tmp_path / "loose.csv", AuditSettings(syncnet=syncnet_checkpoint, min_lse_c=0, max_offset_frames=15), workers=1))
    assert loose["talking.mp4"]["keep"] is True and loose["talking.mp4"]["lse_c"] == talking["lse_c"]


@pytest.mark.parametrize("weights, says", [(None, "LSE not measured: no SyncNet weights"), ("broken.model", "LSE not measured: broken.model is not a SyncNet checkpoint")])
def test_without_weights_or_with_a_broken_file_the_audit_says_so_once_and_completes(small_dataset, tmp_path, weights, says):
    (tmp_path / "broken.model").write_text("not weights\n")
    settings = AuditSettings(syncnet=str(tmp_path / weights) if weights else None)
    summary = run_audit(small_dataset, tmp_path / "a.csv", settings, workers=1)
    assert summary.lse_note.startswith(says) and "\n" not in summary.lse_note
    assert summary_text(summary).count("LSE not measured") == 1
    talking = rows_by_path(summary)["talking.mp4"]
    assert talking["status"] == "ok" and talking["lse_c"] is None and "lse" not in talking["reasons"]


def test_cli_audit_takes_the_syncnet_options(small_dataset, tmp_path, syncnet_checkpoint):
    result = subprocess.run(
        [sys.executable, "-m", "museviz.cli", "audit", str(small_dataset), "--out", str(tmp_path / "cli.csv"), "--workers", "1",
         "--syncnet", syncnet_checkpoint, "--min-lse-c", "1e9", "--lse-crop", "whole"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "2 clips: 0 kept, 2 dropped" in result.stdout and "lse-confidence" in result.stdout
    rows = {row["path"]: row for row in csv.DictReader(open(tmp_path / "cli.csv"))}
    assert rows["no_face.mp4"]["lse_c"] != "" and json.loads((tmp_path / "cli.json").read_text())["settings"]["lse_crop"] == "whole"
