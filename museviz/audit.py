"""Audit a whole folder of clips: probe, checks and sync for each, one row per clip.

Before training a MuseTalk-style model, clips whose audio and video disagree, whose frame
rate is not 25 or not constant, or whose sound is off the mouth are filtered out; with
SyncNet weights, also by LatentSync's own rule on LSE-C and SyncNet's offset. Each clip
is handled by ``audit_clip`` (no Whisper features, no plots, no overlay), in parallel
processes on one machine or as tasks on a Dask cluster; a clip that fails is recorded with
its error and the audit goes on. Rows are appended to the CSV as they finish, so an
interrupted audit resumes without redoing them; at the end the CSV is rewritten sorted by
path, with a JSON copy.

With a fix folder, every clip whose drop reasons can all be fixed (a frame rate, a variable
rate, durations, stream starts, an offset measured reliably) or that is off by a reliably
measured offset is fixed there by ``museviz.fix`` (25 fps, the offset removed, the audio
cut or padded to the video), and the fixed copy is checked again with the same rule.
"""

from __future__ import annotations

import contextlib
import csv
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import partial
from pathlib import Path

from museviz.checks import CLIP_CHECK_IDS, DEFAULT_DURATION_TOLERANCE_S, TARGET_FPS
from museviz.errors import MusevizError
from museviz.fix import AUTO, Findings, FixOptions, Offset, findings_of, fix_clip
from museviz.lse import CROP_FACE, KEEP_MIN_LSE_C
from museviz.media import Limits, read_media
from museviz.mouth import Roi
from museviz.sync import KEEP_MAX_OFFSET_FRAMES, KEEP_MIN_CONFIDENCE, MAX_LAG_FRAMES

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
DROP_CHECKS = ("damaged", "no-audio", "vfr", "fps-not-25", "duration-mismatch", "stream-start-offset", "training-window-short")
# Drop reasons museviz fix removes; "sync-offset" and "lse-offset" only with an offset measured reliably.
FIXABLE_REASONS = frozenset({"vfr", "fps-not-25", "duration-mismatch", "stream-start-offset", "training-window-short", "sync-offset", "lse-offset"})
COLUMNS = (
    "path", "status", "error", "fps", "fps_fraction", "vfr", "n_frames", "video_duration_s", "audio_duration_s",
    "mismatch_s", *(f"check_{c}" for c in CLIP_CHECK_IDS), "sync_offset_frames", "sync_offset_ms", "sync_confidence",
    "lse_c", "lse_d", "lse_offset", "keep", "reasons", "fixed_path", "fixed_keep", "fixed_reasons", "fixed_sync_offset_frames",
)


@dataclass(frozen=True)
class AuditSettings:
    """The thresholds of the keep verdict (defaults: the seed's tolerance, LatentSync's rule).

    ``syncnet``: SyncNet weights for LSE (``run_audit`` looks for them when None, and
    clips are audited without LSE when there are none); ``max_offset_frames`` applies to
    SyncNet's offset too. ``fix_dir``: where fixed copies go (None: nothing is fixed).
    """

    duration_tolerance_s: float = DEFAULT_DURATION_TOLERANCE_S
    max_offset_frames: int = KEEP_MAX_OFFSET_FRAMES
    min_confidence: float = KEEP_MIN_CONFIDENCE
    roi: Roi | None = None
    limits: Limits = Limits()
    syncnet: str | None = None
    lse_crop: str = CROP_FACE
    min_lse_c: float = KEEP_MIN_LSE_C
    fix_dir: str | None = None


@dataclass(frozen=True)
class AuditSummary:
    """What an audit found: every row, the counts, and the files written."""

    rows: list[dict]
    kept: int
    dropped: int
    failed: int
    reasons: Counter
    csv_path: Path
    json_path: Path
    resumed: int
    lse_note: str | None = None  # why LSE was not measured, when it was not
    fix_dir: Path | None = None


def find_videos(root: str | os.PathLike) -> list[str]:
    """Every video file under ``root``, as sorted paths relative to it (hidden files skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise MusevizError(f"{root} is not a folder: give the folder that holds the clips")
    found = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found)


def audit_clip(relative_path: str, root: str, settings: AuditSettings) -> dict:
    """One clip's row (``COLUMNS``); never raises for a bad clip: the error goes into the row
    (``status`` "failed", reason "unreadable", or "failed" for an error nobody foresaw)."""
    row = {column: "" for column in COLUMNS}
    row["path"] = relative_path
    try:
        return _audit_row(row, Path(root) / relative_path, settings)
    except MusevizError as exc:
        return {**row, "status": "failed", "error": str(exc), "keep": False, "reasons": "unreadable"}
    except Exception as exc:  # one odd clip must not stop an audit of thousands
        message = str(exc).splitlines()[0] if str(exc) else ""
        return {**row, "status": "failed", "error": f"museviz failed ({type(exc).__name__}: {message})", "keep": False, "reasons": "failed"}


def _audit_row(row: dict, path: Path, settings: AuditSettings) -> dict:
    media = read_media(path, settings.limits)
    video, audio = media.video, media.audio
    findings = findings_of(media, settings.roi, settings.duration_tolerance_s, syncnet=settings.syncnet, lse_crop=settings.lse_crop)
    row.update(
        status="ok",
        fps=round(video.fps, 6),
        fps_fraction=video.fps_text,
        vfr=video.vfr,
        n_frames=video.n_frames,
        video_duration_s=round(video.duration_s, 4),
        audio_duration_s=round(audio.duration_s, 4) if audio.present else "",
        mismatch_s=round(audio.duration_s - video.duration_s, 4) if audio.present else "",
        **{f"check_{c.id}": c.level for c in findings.checks if c.id in CLIP_CHECK_IDS},
    )
    sync = findings.sync
    if sync is not None:
        row.update(sync_offset_frames=sync.offset_frames, sync_offset_ms=round(sync.offset_ms, 1), sync_confidence=round(sync.confidence, 3))
    reasons = _reasons(findings, settings, row)
    row.update(keep=not reasons, reasons=";".join(reasons))
    if settings.fix_dir:
        _fix(row, findings, reasons, settings)
    return row


def _reasons(findings: Findings, settings: AuditSettings, row: dict) -> list[str]:
    """Why the clip is dropped (empty: kept); the LSE columns of ``row`` filled, and the
    errors of the sync estimate and LSE in its ``error``."""
    media, sync = findings.media, findings.sync
    reasons = [c.id for c in findings.checks if c.id in DROP_CHECKS and c.level in ("warn", "error")]
    has_audio = media.audio.present and media.audio.n_samples_16k
    if has_audio and sync is None:
        reasons.append("sync-unmeasured")
        row["error"] = findings.sync_error
    elif sync is not None:
        if abs(sync.offset_frames) > settings.max_offset_frames:
            reasons.append("sync-offset")
        if sync.confidence < settings.min_confidence:
            reasons.append("sync-confidence")
        if sync.drift_ms_per_min is not None:
            reasons.append("sync-drift")
    if settings.syncnet and has_audio:
        reasons += _lse_reasons(row, findings, settings)
    return reasons


def fixable_offset(reasons: list[str], sync) -> int | None:
    """The offset (frames, SyncNet's sign) ``museviz fix`` removes from a clip dropped for
    ``reasons``, 0 to fix only the rest; None when the clip cannot be fixed (a reason the
    fix does not remove, or an offset not measured reliably, drifting or at the edge of
    the search) or needs nothing (no reason, in sync or not measured)."""
    if set(reasons) - FIXABLE_REASONS:
        return None
    measured = sync is not None and sync.reliable and sync.drift_ms_per_min is None and abs(sync.offset_frames) < MAX_LAG_FRAMES
    if {"sync-offset", "lse-offset"} & set(reasons) and not measured:
        return None
    offset = sync.offset_frames if measured else 0
    return offset if reasons or offset else None


def fixed_name(relative_path: str) -> str:
    """Where the fixed copy of ``relative_path`` goes under the fix folder: the same path,
    an mp4 (``a.mkv`` becomes ``a.mkv.mp4``, so that ``a.mp4`` beside it keeps its own)."""
    return relative_path if relative_path.lower().endswith(".mp4") else f"{relative_path}.mp4"


def _fix(row: dict, findings: Findings, reasons: list[str], settings: AuditSettings) -> None:
    """Fix the clip into ``settings.fix_dir`` when it can be fixed, and fill the ``fixed_*``
    columns with the fixed copy's re-checked verdict; a clip that cannot be fixed is not touched."""
    offset = fixable_offset(reasons, findings.sync)
    if offset is None:
        return
    name = fixed_name(row["path"])
    out = Path(settings.fix_dir) / name
    # An offset to remove is the estimate's, to a quarter frame, as museviz fix --offset auto takes it.
    options = FixOptions(Offset(AUTO) if offset else Offset("f", 0), Fraction(TARGET_FPS), trim=True, roi=settings.roi,
                         duration_tolerance_s=settings.duration_tolerance_s, limits=settings.limits)
    made = [d for d in (out.parent, *out.parent.parents) if not d.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = fix_clip(findings.media.path, out, options, before=findings)
    except MusevizError as exc:
        for folder in made:  # deepest first: only the folders made for this clip, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        row.update(fixed_reasons="fix-failed", error="; ".join(filter(None, [row["error"], f"fix: {exc}"])))
        return
    fixed = {column: "" for column in COLUMNS}
    again = _reasons(result.after, settings, fixed)
    sync = result.after.sync
    row.update(fixed_path=name, fixed_keep=not again, fixed_reasons=";".join(again), fixed_sync_offset_frames="" if sync is None else sync.offset_frames)


def _lse_reasons(row: dict, findings: Findings, settings: AuditSettings) -> list[str]:
    """Fill the LSE columns of ``row``; the reasons LatentSync's rule drops the clip for."""
    if findings.lse is None:
        row["error"] = "; ".join(filter(None, [row["error"], f"LSE: {findings.lse_error}"]))
        return ["lse-unmeasured"]
    scores = findings.lse.scores
    row.update(lse_c=round(scores.lse_c, 3), lse_d=round(scores.lse_d, 3), lse_offset=scores.offset_frames)
    reasons = []
    if scores.lse_c < settings.min_lse_c:
        reasons.append("lse-confidence")
    if abs(scores.offset_frames) > settings.max_offset_frames:
        reasons.append("lse-offset")
    return reasons


def find_lse_weights(settings: AuditSettings, download: bool = True) -> tuple[AuditSettings, str | None]:
    """``settings`` with ``syncnet`` set to the SyncNet weights found and checked (None when
    there are none), and why LSE will not be measured (None when it will)."""
    from museviz.syncnet import load_syncnet
    from museviz.weights import find_checkpoint

    try:
        path = find_checkpoint(settings.syncnet, download)
        load_syncnet(path)
    except MusevizError as exc:
        return replace(settings, syncnet=None), f"LSE not measured: {exc}"
    return replace(settings, syncnet=os.path.abspath(path)), None


def run_audit(
    root: str | os.PathLike,
    out_csv: str | os.PathLike,
    settings: AuditSettings = AuditSettings(),
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    lse_download: bool = True,
) -> AuditSummary:
    """Audit every video under ``root`` into ``out_csv`` (and the same name with ``.json``).

    ``workers`` processes on this machine (default: one per core), or the Dask scheduler
    at ``scheduler``. Rows already in ``out_csv`` are kept and their clips not redone,
    unless they were made with other settings (the JSON copy, written first, records them).
    ``progress(done, total, path)`` is called as each clip finishes. ``lse_download``
    allows fetching SyncNet's published weights when none are given or cached.
    """
    root = Path(root).resolve()
    out_csv = Path(out_csv)
    paths = find_videos(root)
    if not paths:
        raise MusevizError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) under {root}")
    fix_dir = _fix_dir(root, settings.fix_dir)
    settings = replace(settings, fix_dir=fix_dir and str(fix_dir))
    settings, lse_note = find_lse_weights(settings, lse_download)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    json_path = out_csv.with_suffix(".json")
    header = {"root": str(root), "settings": _settings_dict(settings), "lse_note": lse_note}
    wanted = set(paths)
    same_settings = _previous_settings(json_path) == header["settings"]
    done = {row["path"]: row for row in _read_rows(out_csv) if row["path"] in wanted} if same_settings else {}
    json_path.write_text(json.dumps({**header, "rows": []}, indent=1))
    todo = [p for p in paths if p not in done]
    with open(out_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(done.values())
        f.flush()
        tasks = _run_dask(todo, str(root), settings, scheduler) if scheduler else _run_local(todo, str(root), settings, workers)
        for row in tasks:
            done[row["path"]] = row
            writer.writerow(row)
            f.flush()
            if progress:
                progress(len(done), len(paths), row["path"])
    rows = [_typed(done[p]) for p in paths]
    _write_sorted(out_csv, rows)
    json_path.write_text(json.dumps({**header, "rows": rows}, indent=1))
    reasons = Counter(r for row in rows for r in row["reasons"].split(";") if r)
    failed = sum(row["status"] == "failed" for row in rows)
    kept = sum(bool(row["keep"]) for row in rows)
    return AuditSummary(rows, kept, len(rows) - kept, failed, reasons, out_csv, json_path, len(paths) - len(todo), lse_note, fix_dir)


def _fix_dir(root: Path, fix_dir: str | None) -> Path | None:
    """The fix folder, made; refused inside the audited folder, where a later audit would take the fixed copies for clips."""
    if fix_dir is None:
        return None
    folder = Path(fix_dir).resolve()
    if folder == root or root in folder.parents:
        raise MusevizError(f"the fix folder {fix_dir} is inside the folder audited: give a folder outside {root}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MusevizError(f"cannot make the fix folder {fix_dir}: {exc.strerror or exc}") from None
    return folder


def _run_local(paths: list[str], root: str, settings: AuditSettings, workers: int | None) -> Iterator[dict]:
    workers = workers or os.cpu_count() or 1
    job = partial(audit_clip, root=root, settings=settings)
    if workers == 1 or len(paths) <= 1:
        yield from map(job, paths)
        return
    # Workers fork from a clean server process: forking this one, which may run
    # FFmpeg and torch thread pools, can deadlock the child.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["museviz.audit"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_quiet_worker) as pool:
        futures = [pool.submit(job, p) for p in paths]
        for future in as_completed(futures):
            yield future.result()


def _run_dask(paths: list[str], root: str, settings: AuditSettings, scheduler: str) -> Iterator[dict]:
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise MusevizError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise MusevizError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    with client:
        futures = client.map(audit_clip, paths, root=root, settings=settings, pure=False)
        for future in dask_completed(futures):
            yield future.result()


def _quiet_worker() -> None:
    """Worker processes leave the cores to each other: one OpenCV thread each."""
    import cv2

    cv2.setNumThreads(1)


def _previous_settings(json_path: Path) -> dict | None:
    try:
        return json.loads(json_path.read_text())["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            return []
        complete = (row for row in reader if None not in row and all(row[c] is not None for c in COLUMNS))
        return [row for row in complete if row["status"] in ("ok", "failed")]


def _typed(row: dict) -> dict:
    """A row as read back from the CSV or fresh from a worker, with the same types either way."""
    out = dict(row)
    for key in ("fps", "video_duration_s", "audio_duration_s", "mismatch_s", "sync_offset_ms", "sync_confidence", "lse_c", "lse_d"):
        out[key] = float(out[key]) if out[key] not in ("", None) else None
    for key in ("n_frames", "sync_offset_frames", "lse_offset", "fixed_sync_offset_frames"):
        out[key] = int(out[key]) if out[key] not in ("", None) else None
    for key in ("vfr", "keep", "fixed_keep"):
        out[key] = out[key] in (True, "True") if out[key] not in ("", None) else None
    for key in COLUMNS:
        if out[key] == "":
            out[key] = None
    out["reasons"] = out["reasons"] or ""
    out["fixed_reasons"] = out["fixed_reasons"] or ""
    return out


def _write_sorted(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    os.replace(tmp, path)


def _settings_dict(settings: AuditSettings) -> dict:
    plain = replace(settings, roi=None, limits=None).__dict__
    return {**plain, "roi": str(settings.roi) if settings.roi else None, "limits": settings.limits.__dict__}


def summary_text(summary: AuditSummary) -> str:
    """The audit in a few lines: counts, and how many clips each reason drops."""
    lines = [
        f"{len(summary.rows)} clips: {summary.kept} kept, {summary.dropped} dropped ({summary.failed} failed to read)"
        + (f"; {summary.resumed} taken from the previous run" if summary.resumed else ""),
    ]
    lines += [f"  {reason:<24} {count}" for reason, count in summary.reasons.most_common()]
    if summary.fix_dir is not None:
        fixed = [row for row in summary.rows if row["fixed_path"]]
        failed = sum(row["fixed_reasons"] == "fix-failed" for row in summary.rows)
        lines.append(f"fixed {len(fixed)} clips into {summary.fix_dir}: {sum(bool(row['fixed_keep']) for row in fixed)} kept when checked again"
                     + (f"; {failed} could not be written" if failed else ""))
    if summary.lse_note:
        lines.append(summary.lse_note)
    lines.append(f"wrote {summary.csv_path} and {summary.json_path}")
    return "\n".join(lines)


class ProgressBar:
    """``[####....] 12/20 2.1 clips/s, 4 s left  path`` on stderr, redrawn in place."""

    WIDTH = 28

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.start = time.perf_counter()
        self.first_done: int | None = None

    def __call__(self, done: int, total: int, path: str) -> None:
        if self.first_done is None:
            self.first_done = done - 1
        elapsed = time.perf_counter() - self.start
        rate = (done - self.first_done) / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        filled = round(self.WIDTH * done / total)
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} {rate:.2f} clips/s, {left:.0f} s left  {path[-40:]}"
        end = "\n" if done == total else ""
        self.stream.write(f"\r{line:<110}{end}")
        self.stream.flush()

