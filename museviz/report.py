"""The machine-readable account of an analysis: ``report.json`` and ``features.npz``.

The contract is documented in ``docs/report.md``; bump ``SCHEMA`` when it changes.
"""

from __future__ import annotations

import gc
import json
import os
import re
import uuid
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from museviz.analysis import Analysis
from museviz.features import release_pages
from museviz.rules import RULES, Schedule, Timeline

SCHEMA = 2
POSITION_DECIMALS = 3  # fractional window positions: a thousandth of a feature (20 us at 50 Hz), finer than the systems' float32
NPY_BLOCK_BYTES = 16 * 2**20  # features.npz is written this much of an array at a time
NUMBER_LIST = re.compile(r"[\[\]0-9.,+\-eE nul]*")  # nested lists of numbers and null (no nan, inf, strings or bools)
REPORT_NAME = "report.json"
FEATURES_NAME = "features.npz"


def report_dict(analysis: Analysis, *, lists: bool = True) -> dict:
    """The report as plain JSON-able data (see ``docs/report.md``).

    ``lists=False`` leaves each schedule's windows as its array alone (a ``Windows`` with
    no items), for ``report_json``, which writes them from the arrays: a 10 minute clip's
    windows as Python lists take about 300 MB.
    """
    with _no_cycle_collection():
        return _report_dict(analysis, lists)


@contextmanager
def _no_cycle_collection():
    """Builds tens of thousands of small lists, none in a cycle, with the cyclic garbage
    collector paused: otherwise it would walk the whole heap (the Whisper model included)
    again and again while they are made."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _report_dict(analysis: Analysis, lists: bool) -> dict:
    media, video, audio = analysis.media, analysis.media.video, analysis.media.audio
    return {
        "schema": SCHEMA,
        "file": os.path.basename(media.path),
        "video": {
            "fps": video.fps,
            "fps_fraction": video.fps_text,
            "fps_used": analysis.timeline.fps,
            "n_frames": video.n_frames,
            "duration_s": video.duration_s,
            "vfr": video.vfr,
            "width": video.width,
            "height": video.height,
            "codec": video.codec,
            "start_offset_s": video.start_offset_s,
            "rotation": video.rotation,
        },
        "audio": {
            "present": audio.present,
            "sample_rate": audio.sample_rate,
            "channels": audio.channels,
            "codec": audio.codec,
            "duration_s": audio.duration_s,
            "n_samples_16k": audio.n_samples_16k,
        },
        "features": {
            "whisper50": {
                "count": int(analysis.whisper.features.shape[0]),
                "shape": list(analysis.whisper.features.shape),
                "source": analysis.whisper.source,
                "model": analysis.whisper.model,
            },
            "mel80": {"count": int(analysis.mel80.shape[1]), "shape": list(analysis.mel80.shape)},
        },
        "schemes": {name: _scheme(s, analysis.timeline, lists) for name, s in analysis.schedules.items()},
        "sync": analysis.sync.to_dict() if analysis.sync else {"error": analysis.sync_error},
        "lse": analysis.lse.to_dict(analysis.sync) if analysis.lse else {"error": analysis.lse_error},
        "checks": [asdict(c) for c in analysis.checks],
        "warnings": analysis.warnings,
    }


def _scheme(s: Schedule, timeline: Timeline, lists: bool) -> dict:
    rule = s.definition or RULES[s.rule]
    drift = s.drift_s[np.isfinite(s.drift_s)]
    return {
        "stream": s.stream,
        "grid": s.grid,
        "grid_rate_hz": s.grid_info.rate_hz,
        "grid_count": timeline.n_features(s.grid),
        "kind": rule.kind,
        "formula": rule.formula,
        "fps_used": s.fps_used,
        "n_chunks": s.n_chunks,
        "n_valid": s.n_valid,
        "indices": None if s.resampled else Windows.of(s.indices, lists),
        "positions": Windows.of(np.round(s.indices, POSITION_DECIMALS), lists) if s.resampled else None,
        "span": s.span,
        "source_frame": s.source_frame.tolist(),
        "flags": {
            "clamped": np.flatnonzero(s.clamped).tolist(),
            "zero_padded": np.flatnonzero(s.zero_padded).tolist(),
            "pinned_last": np.flatnonzero(s.pinned).tolist(),
            "past_audio": np.flatnonzero(s.past_audio).tolist(),
            "dropped": np.flatnonzero(s.dropped).tolist(),
        },
        "drift_s": {
            "first": float(drift[0]) if len(drift) else None,
            "last": float(drift[-1]) if len(drift) else None,
            "max_abs": float(np.max(np.abs(drift))) if len(drift) else None,
        },
        "error": s.error,
        "exit_frame": s.exit_frame,
    }


class Windows(list):
    """A schedule's windows as plain lists (ints, or floats with None for a zero feature),
    which also keep the array they came from: ``report_json`` writes them from it, a hundred
    times faster than from the lists (a long clip has millions of numbers)."""

    array: np.ndarray

    @classmethod
    def of(cls, array: np.ndarray, lists: bool = True) -> Windows:
        """The windows of ``array``, as lists too unless ``lists`` is False."""
        if not lists:
            rows = []
        elif array.dtype.kind == "f" and np.isnan(array).any():
            rows = np.where(np.isnan(array), None, array).tolist()
        else:
            rows = array.tolist()
        windows = cls(rows)
        windows.array = array
        return windows


def _windows_json(array: np.ndarray) -> str:
    """(n, width) ints, or floats to ``POSITION_DECIMALS`` (NaN: null), as ``[\n[a, b],\n[c, d]\n]``.

    Every number is written into a fixed slot of bytes (zeros where it is shorter), the
    slots are laid out with the separators, and the zero bytes dropped: all in numpy.
    """
    n, width = array.shape
    if n == 0 or width == 0:
        return "[\n" + ",\n".join(["[]"] * n) + "\n]" if n else "[]"
    slots = _number_bytes(array)  # (n, width, k) uint8, 0-padded
    k = slots.shape[2]
    line = np.zeros((n, 1 + width * (k + 2) + 2), np.uint8)
    line[:, 0] = ord("[")
    cells = line[:, 1 : 1 + width * (k + 2)].reshape(n, width, k + 2)
    cells[:, :, :k] = slots
    cells[:, :-1, k : k + 2] = np.frombuffer(b", ", np.uint8)
    cells[:, -1, k] = ord("]")
    line[:-1, -2:] = np.frombuffer(b",\n", np.uint8)
    flat = line.ravel()
    return "[\n" + flat[flat != 0].tobytes().decode("ascii") + "\n]"


def _number_bytes(array: np.ndarray) -> np.ndarray:
    """(n, width, k) uint8: each number's characters, 0-padded: an int as Python writes it,
    a float with up to ``POSITION_DECIMALS`` decimals (at least one), NaN as ``null``."""
    if array.dtype.kind == "f":
        zero = np.isnan(array)
        scaled = np.round(np.where(zero, 0.0, array) * 10**POSITION_DECIMALS).astype(np.int64)
        whole, fraction = np.divmod(np.abs(scaled), 10**POSITION_DECIMALS)
        sign = scaled < 0
    else:
        zero, fraction = None, None
        whole, sign = np.abs(array.astype(np.int64)), array < 0
    parts = [np.where(sign, ord("-"), 0).astype(np.uint8)[..., None], _digits_table(int(whole.max(initial=0)))[whole]]
    if fraction is not None:
        parts.append(_FRACTIONS[fraction])
    slots = np.concatenate(parts, axis=-1)
    if zero is not None and zero.any():
        slots[zero] = 0
        slots[zero, : len(b"null")] = np.frombuffer(b"null", np.uint8)
    return slots


_DIGIT_TABLES: dict[int, np.ndarray] = {}


def _digits_table(largest: int) -> np.ndarray:
    """(10 ** d, d) uint8: the digits of every int below ``10 ** d`` (``d`` enough for
    ``largest``), leading zeros as 0 bytes but for 0 itself. Made once per size."""
    d = len(str(largest))
    if d not in _DIGIT_TABLES:
        values = np.arange(10**d, dtype=np.int64)[:, None]
        digits = values // 10 ** np.arange(d - 1, -1, -1, dtype=np.int64) % 10
        leading = np.cumprod(digits == 0, axis=1).astype(bool)
        leading[:, -1] = False
        _DIGIT_TABLES[d] = np.where(leading, 0, digits + ord("0")).astype(np.uint8)
    return _DIGIT_TABLES[d]


def _fractions() -> np.ndarray:
    """(10 ** POSITION_DECIMALS, POSITION_DECIMALS + 1) uint8: ``.0``, ``.001``, ..., ``.999``, trailing zeros dropped."""
    texts = [("." + f"{f:0{POSITION_DECIMALS}d}".rstrip("0")).ljust(2, "0") for f in range(10**POSITION_DECIMALS)]
    return np.array([list(t.encode().ljust(POSITION_DECIMALS + 1, b"\0")) for t in texts], np.uint8)


_FRACTIONS = _fractions()


def report_json(report: dict) -> str:
    """``report`` (a ``report_dict``) as indented JSON, each list of numbers on one line (a list of them,
    one per line).

    The lists are encoded apart by json's C encoder and spliced in: indented encoding runs
    in pure Python, far too slow for a long clip's hundreds of thousands of indices.
    """
    lists: list[str] = []
    tag = uuid.uuid4().hex  # no file name can collide with the placeholders
    with _no_cycle_collection():
        text = json.dumps(_lift_number_lists(report, lists, tag), indent=1)
    return re.sub(f'"@@{tag}:(\\d+)@@"', lambda m: lists[int(m.group(1))], text)


def _lift_number_lists(value, lists: list[str], tag: str):
    """``value`` with every list of numbers (or of such lists) replaced by a placeholder
    string, its compact JSON appended to ``lists``, a list of lists one row per line."""
    if isinstance(value, dict):
        return {k: _lift_number_lists(v, lists, tag) for k, v in value.items()}
    if isinstance(value, Windows):
        lists.append(_windows_json(value.array))
        return f"@@{tag}:{len(lists) - 1}@@"
    if not isinstance(value, list):
        return value
    text = str(value).replace("None", "null")  # Python writes a list of numbers as JSON does, but for None
    if NUMBER_LIST.fullmatch(text) and not text.startswith("[[["):
        lists.append("[\n" + text[1:-1].replace("], [", "],\n[") + "\n]" if text.startswith("[[") else text)
        return f"@@{tag}:{len(lists) - 1}@@"
    return [_lift_number_lists(v, lists, tag) for v in value]


def features_arrays(analysis: Analysis) -> dict[str, np.ndarray]:
    """The arrays of ``features.npz``."""
    return {
        "mel80": analysis.mel80,
        "whisper50": analysis.whisper.features,
        "audio_16k": analysis.media.audio_16k,
        "frame_times_s": analysis.media.video.frame_times_s.astype(np.float64),
    }


def write_report(analysis: Analysis, out_dir: str | os.PathLike, report: dict | None = None) -> dict[str, Path]:
    """Write ``report.json`` (``report``, by default ``report_dict(analysis)``) and
    ``features.npz`` into ``out_dir``; return their paths.

    Each file is written under a temporary name and renamed, so a failure never leaves a
    half-written file behind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / REPORT_NAME, "features": out / FEATURES_NAME}
    text = report_json(report if report is not None else report_dict(analysis, lists=False))
    _atomic(paths["report"], lambda f: f.write(text.encode()))
    del text  # 50 MB for a 10 minute clip
    _atomic(paths["features"], lambda f: save_npz(f, features_arrays(analysis)))
    return paths


def save_npz(file, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez(file, **arrays)``, a block of rows at a time: the same file (of arrays in
    C order), but an array mapped from a file (whisper50 handed over by the features
    process: 220 MB of a 10 minute clip) is never in this process's memory whole, each
    block's pages let go once written."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as npz:
        for name, array in arrays.items():
            with npz.open(f"{name}.npy", "w", force_zip64=True) as member:
                header = np.lib.format.header_data_from_array_1_0(array)
                np.lib.format.write_array_header_1_0(member, header | {"fortran_order": False})
                rows = max(1, NPY_BLOCK_BYTES // max(1, array[:1].nbytes))
                for start in range(0, len(array), rows):
                    member.write(np.ascontiguousarray(array[start : start + rows]).data)
                    release_pages(array)


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
