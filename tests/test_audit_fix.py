"""``museviz audit --fix-dir``: the faulty made clips come out fixed and kept; the rest are not touched."""

import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import pytest

from museviz.audit import AuditSettings, fixable_offset, fixed_name, run_audit, summary_text
from museviz.errors import MusevizError
from museviz.synth import ClipSpec, vfr_times, write_clip

FAULTY = {  # path: (ClipSpec fields, the reasons the audit drops it for; "" when kept but off by an offset)
    "shift/audio_-160ms.mp4": (dict(audio_delay_s=-0.16), ""),
    "shift/audio_-40ms.mp4": (dict(audio_delay_s=-0.04), ""),
    "shift/audio_+80ms.mp4": (dict(audio_delay_s=0.08), ""),
    "shift/audio_+200ms.mp4": (dict(audio_delay_s=0.2), ""),
    "rate/ntsc.mp4": (dict(fps=Fraction(30000, 1001)), "fps-not-25"),
    "rate/vfr.mp4": (dict(frame_times_s=vfr_times(6.0)), "vfr;fps-not-25"),
    "length/audio_0.5s_longer.mp4": (dict(audio_duration_s=6.5), "duration-mismatch"),
    "length/audio_0.5s_shorter.mkv": (dict(audio_duration_s=5.5), "duration-mismatch;training-window-short"),
}
NOT_FIXED = {  # path: (ClipSpec fields, reasons it is dropped for, at least)
    "in_sync.mp4": (dict(), ""),
    "silent.mp4": (dict(audio=None), "no-audio"),
    "no_face_ntsc.mp4": (dict(face=False, fps=Fraction(30000, 1001)), "fps-not-25;sync-confidence"),
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, speech):
    root = tmp_path_factory.mktemp("faulty")
    for name, (fields, _) in {**FAULTY, **NOT_FIXED}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_clip(root / name, ClipSpec(**{"audio": speech, "size": (160, 120), **fields}))
    return root


def test_fix_dir_fixes_every_faulty_clip_and_its_re_audit_keeps_them_all(dataset, tmp_path):
    before = {p: p.read_bytes() for p in dataset.rglob("*.m*")}
    fix_dir = tmp_path / "fixed"
    summary = run_audit(dataset, tmp_path / "audit.csv", AuditSettings(fix_dir=str(fix_dir)), workers=1)
    rows = {row["path"]: row for row in summary.rows}
    for name, (_, reasons) in FAULTY.items():
        assert rows[name]["reasons"] == reasons, name
    for name, (_, reasons) in NOT_FIXED.items():  # a faceless clip's chance peak may also land beyond the offset limit
        assert set(reasons.split(";")) <= set(rows[name]["reasons"].split(";")), name
    for name in FAULTY:
        row = rows[name]
        assert (row["fixed_path"], row["fixed_keep"], row["fixed_reasons"]) == (fixed_name(name), True, ""), name
        assert row["fixed_sync_offset_frames"] == 0 or abs(row["fixed_sync_offset_frames"]) == 1, name
    for name in NOT_FIXED:
        assert (rows[name]["fixed_path"], rows[name]["fixed_keep"], rows[name]["fixed_reasons"]) == (None, None, ""), name
    assert sorted(p.relative_to(fix_dir).as_posix() for p in fix_dir.rglob("*") if p.is_file()) == sorted(map(fixed_name, FAULTY))
    assert f"fixed {len(FAULTY)} clips into {fix_dir}: {len(FAULTY)} kept when checked again" in summary_text(summary)
    assert {p: p.read_bytes() for p in dataset.rglob("*.m*")} == before

    again = run_audit(fix_dir, tmp_path / "again.csv", workers=1)
    assert again.kept == len(FAULTY) == len(again.rows)
    assert all(row["fps_fraction"] == "25/1" and not row["vfr"] and abs(row["mismatch_s"]) <= 0.04 for row in again.rows)


def test_a_fix_folder_inside_the_audited_folder_is_refused(dataset, tmp_path):
    with pytest.raises(MusevizError, match="is inside the folder audited: give a folder outside"):
        run_audit(dataset, tmp_path / "audit.csv", AuditSettings(fix_dir=str(dataset / "fixed")), workers=1)
    assert not (dataset / "fixed").exists()


def test_cli_audit_with_fix_dir_says_how_many_were_fixed(dataset, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    for name in ("rate/ntsc.mp4", "silent.mp4"):
        (small / Path(name).name).write_bytes((dataset / name).read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "museviz.cli", "audit", str(small), "--out", str(tmp_path / "a.csv"), "--workers", "1", "--fix-dir", str(tmp_path / "fixed")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"fixed 1 clips into {tmp_path / 'fixed'}: 1 kept when checked again" in result.stdout
    assert [p.name for p in (tmp_path / "fixed").iterdir()] == ["ntsc.mp4"]


def measured(offset_frames, confidence=0.9, drift=None):
    """The parts of a sync estimate the fix rule reads."""
    return SimpleNamespace(offset_frames=offset_frames, reliable=confidence >= 0.5, drift_ms_per_min=drift)


@pytest.mark.parametrize("reasons, sync, offset", [
    ([], measured(0), None),  # nothing to fix
    ([], measured(-3), -3),  # kept by LatentSync's rule, but off by 3 frames
    (["fps-not-25"], measured(0), 0),
    (["sync-offset"], measured(-9), -9),
    (["sync-offset"], measured(-15), None),  # at the edge of the search: the real offset may be beyond
    (["sync-offset", "sync-confidence"], measured(-9, confidence=0.3), None),
    (["sync-offset"], measured(-9, confidence=0.3), None),  # a looser --min-confidence does not make a guess reliable
    (["fps-not-25"], measured(4, confidence=0.3), 0),  # the frame rate is fixed, the unmeasured offset left alone
    (["sync-drift"], measured(2, drift=-60.0), None),
    (["no-audio"], None, None),
    (["vfr", "lse-confidence"], measured(0), None),
])
def test_which_clips_the_fix_dir_fixes(reasons, sync, offset):
    assert fixable_offset(reasons, sync) == offset
