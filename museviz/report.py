"""The machine-readable account of an analysis: ``report.json`` and ``features.npz``.

The contract is documented in ``docs/report.md``; bump ``SCHEMA`` when it changes.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from museviz.analysis import Analysis
from museviz.rules import RULES, Schedule, Timeline

SCHEMA = 1
POSITION_DECIMALS = 6  # fractional window positions: a millionth of a feature
NUMBER_LIST = re.compile(r"[\[\]0-9.,+\-eE nul]*")  # what json.dumps makes of nested lists of numbers and None
REPORT_NAME = "report.json"
FEATURES_NAME = "features.npz"


def report_dict(analysis: Analysis) -> dict:
    """The report as plain JSON-able data (see ``docs/report.md``)."""
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
        "schemes": {name: _scheme(s, analysis.timeline) for name, s in analysis.schedules.items()},
        "sync": analysis.sync.to_dict() if analysis.sync else {"error": analysis.sync_error},
        "checks": [asdict(c) for c in analysis.checks],
        "warnings": analysis.warnings,
    }


def _scheme(s: Schedule, timeline: Timeline) -> dict:
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
        "indices": None if s.resampled else s.indices.tolist(),
        "positions": _positions(s.indices) if s.resampled else None,
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


def _positions(positions: np.ndarray) -> list:
    """Fractional positions to 6 decimals, None for a zero feature (NaN is not JSON)."""
    rows = np.round(positions, POSITION_DECIMALS).tolist()
    if not np.isnan(positions).any():
        return rows
    return [[None if p != p else p for p in row] for row in rows]


def report_json(report: dict) -> str:
    """``report`` (a ``report_dict``) as indented JSON, each list of numbers on one line (a list of them,
    one per line).

    The lists are encoded apart by json's C encoder and spliced in: indented encoding runs
    in pure Python, far too slow for a long clip's hundreds of thousands of indices.
    """
    lists: list[str] = []
    tag = uuid.uuid4().hex  # no file name can collide with the placeholders
    text = json.dumps(_lift_number_lists(report, lists, tag), indent=1)
    return re.sub(f'"@@{tag}:(\\d+)@@"', lambda m: lists[int(m.group(1))], text)


def _lift_number_lists(value, lists: list[str], tag: str):
    """``value`` with every list of numbers (or of such lists) replaced by a placeholder
    string, its compact JSON appended to ``lists``, a list of lists one row per line."""
    if isinstance(value, dict):
        return {k: _lift_number_lists(v, lists, tag) for k, v in value.items()}
    if not isinstance(value, list):
        return value
    text = json.dumps(value)
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
    text = report_json(report if report is not None else report_dict(analysis))
    _atomic(paths["report"], lambda f: f.write(text.encode()))
    _atomic(paths["features"], lambda f: np.savez(f, **features_arrays(analysis)))
    return paths


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
