"""features.npz: what np.savez would write, without holding a mapped whisper50 whole."""

import io
import sys
import zipfile

import numpy as np
import pytest

from museviz import report
from museviz.features import MEL80_FILE, WHISPER50_FILE, read_features, release_pages


@pytest.fixture
def handed_over(tmp_path):
    """Features as a features process hands them over: whisper50 (W, layers, dim) mapped
    from a file stored layer by layer, 3000 tokens x 5 layers x 384 (23 MB)."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / MEL80_FILE, rng.standard_normal((80, 4801), dtype=np.float32))
    np.save(tmp_path / WHISPER50_FILE, rng.standard_normal((5, 3000, 384), dtype=np.float32))
    return read_features(str(tmp_path), {"source": "whisper-encoder", "model": "tiny", "warning": None})


def test_features_npz_is_byte_for_byte_what_np_savez_writes(handed_over, monkeypatch):
    mel, whisper = handed_over
    arrays = {"mel80": mel, "whisper50": whisper.features, "audio_16k": np.arange(12345, dtype=np.float32),
              "frame_times_s": np.arange(7) / 25.0, "no_rows": np.zeros((0, 5, 384), np.float32)}
    monkeypatch.setattr(report, "NPY_BLOCK_BYTES", 1_000_000)  # several blocks, the last one short
    ours, numpys = io.BytesIO(), io.BytesIO()
    report.save_npz(ours, arrays)
    np.savez(numpys, **arrays)
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(numpys) as b:
        assert [(i.filename, i.compress_type, i.file_size) for i in a.infolist()] == [(i.filename, i.compress_type, i.file_size) for i in b.infolist()]
        assert all(a.read(name) == b.read(name) for name in b.namelist())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_a_mapped_whisper50_is_let_go_block_by_block_as_it_is_written(handed_over, tmp_path, monkeypatch):
    _, whisper = handed_over
    assert float(np.abs(whisper.features).sum()) > 0  # every page read: 23 MB of the file in this process
    assert _resident_mb(tmp_path / WHISPER50_FILE) > 20
    monkeypatch.setattr(report, "NPY_BLOCK_BYTES", 1_000_000)
    report.save_npz(io.BytesIO(), {"whisper50": whisper.features})
    assert _resident_mb(tmp_path / WHISPER50_FILE) < 3
    release_pages(np.zeros(3))  # an array in memory: nothing to let go


def _resident_mb(path) -> float:
    """How much of the file ``path`` is in this process's memory through its mappings."""
    resident_kb, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split(maxsplit=1)[0]
            if "-" in first and not first.endswith(":"):
                inside = line.rstrip().endswith(str(path))
            elif inside and first == "Rss:":
                resident_kb += int(line.split()[1])
    return resident_kb / 1024
