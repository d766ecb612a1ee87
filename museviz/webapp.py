"""What the Gradio page does, kept out of ``app.py`` so that it reads like the page.

Each public function here is one callback. Analyses are kept in a small in-process cache,
keyed by an id the page holds in a ``gr.State``, so that the Inspect tab only draws the
frame it is asked for. Per-request files live in a folder of their own, outside Gradio's
upload folder, and are removed once Gradio has copied the results out.
"""

from __future__ import annotations

import functools
import html
import logging
import os
import queue
import shutil
import stat
import tempfile
import threading
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import gradio as gr
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from museviz.analysis import Analysis, Options
from museviz.audit import VIDEO_SUFFIXES, AuditSettings, run_audit, summary_text
from museviz.checks import Check, rule_checks
from museviz.config import (
    AUDIT_MAX_CLIPS,
    AUDIT_MAX_UNZIPPED_MB,
    AUDIT_WORKERS,
    CACHE_SIZE,
    CHECKPOINT_ENV,
    DECODE_TIMEOUT_S,
    DEFAULT_MODEL,
    MAX_DURATION_S,
    env_checkpoint,
    env_syncnet,
)
from museviz.errors import MusevizError
from museviz.fix import Findings, FixOptions, FixResult, done_words, fix_clip, parse_offset, parse_sample_rate
from museviz.fix import parse_fps as parse_output_fps
from museviz.frames import FrameStore
from museviz.grid import SOURCE_FALLBACK
from museviz.lse import CROP_FACE, CROP_MODES, KEEP_MAX_OFFSET_FRAMES as LSE_MAX_OFFSET, KEEP_MIN_LSE_C, offset_words
from museviz.features import Whisper50
from museviz.media import Limits, Media, read_frame
from museviz.outputs import Made, Wanted, analyze_and_draw
from museviz.overlay import DEFAULT_OVERLAY_RULES, FrameView
from museviz.palette import LEVEL_COLORS, rule_color
from museviz.plots import (
    DEFAULT_PLOT_RULES,
    drift_figure,
    frame_figure,
    frame_formulas,
    mapping_figure,
    timeline_figure,
)
from museviz.report import report_dict, write_report
from museviz.rules import RULES, Schedule, Timeline, schedule_all
from museviz.mouth import parse_roi
from museviz.spec import parse_spec
from museviz.systems import TABLE_COLUMNS, system_rows

WORK_ROOT = Path(tempfile.gettempdir()) / "museviz-work"
APP_LIMITS = Limits(MAX_DURATION_S, DECODE_TIMEOUT_S)
WHISPER_CHOICES = ("tiny", "base", "small")  # sizes a shared CPU server can hold at once
LEARN_FPS_CHOICES = ("15", "23.976", "24", "25", "29.97", "30", "48", "50", "59.94", "60")
NTSC_RATES = {"23.976": 24000 / 1001, "29.97": 30000 / 1001, "59.94": 60000 / 1001}
LEARN_FRAMES_SHOWN = 12
LEARN_COMPARE_FRAME = 25  # the frame the systems are first compared at: 1 s in at 25 fps
PLOT_NAMES = ("mapping", "drift", "edges", "features", "frame", "sync")

LEARN_TEXT = """
A talking-head system turns the audio into **feature frames** and gives every **video frame** a
window of them. Pick a frame rate and watch what each rule does; the numbers below update live.

- **whisper50** (MuseTalk, LatentSync): Whisper's encoder makes one token per 20 ms, 50 per
  second; token *k* is centred at *k*/50 s. **MuseTalk v1** gives frame *i* the 10 tokens
  `[c - 4, c + 6)` around `c = int(i * 50 / fps)`, repeating the first or last token where the
  window runs off the audio, and its loop makes more chunks than frames (2 more at 25 fps).
  **LatentSync** does the same after re-encoding the video at 25 fps, which duplicates or drops
  frames of other rates.
- **MuseTalk v1.5** truncates the rate, `F = int(fps)`: at 29.97 fps frame *i* reads the audio at
  *i*/29 s but is shown at *i*/29.97 s, so the audio runs ahead by 1.94 s a minute. It pads
  `2P` zero tokens on the left (`P = ceil(50 / F)`), which shifts windows by 40 ms for rates
  below 25, and from 50 fps up its 6P tokens of right padding run out and it exits.
- **mel80** (Wav2Lip): an 80 Hz mel spectrogram; frame *i* reads the 16 mel frames (200 ms)
  starting at `int(i * 80 / fps)`, so the window is centred about two frames after the picture.
  When the window runs past the end the last chunk is pinned to the end and the loop stops,
  about three frames short. In training it reads one frame earlier than at inference.
- **exact** is museviz's reference: the window centred on each frame's real presentation time.
- **The other systems** read other grids: wav2vec2 or HuBERT CNN frames (20 ms, centred 12.5 ms
  late), DeepSpeech rows, filterbanks, mel at other rates. Hallo, MEMO, AniPortrait and FLOAT resample
  them to the video rate, V-Express stretches its video to the audio, Sonic generates at 12.5 fps,
  EchoMimic at 24, JoyVASA hears 80 ms early, PC-AVS shows its lips 80 ms early. Each window is drawn at
  its time over the two streams above, labelled with the grid it really reads; the table at the bottom
  lists every system with the code it was read from. Write a rule of your own below as a few lines of
  TOML and see it beside them.
"""


@dataclass
class _Session:
    analysis: Analysis
    frames: FrameStore | None = None
    view: FrameView | None = None
    view_rules: list[str] | None = None


log = logging.getLogger(__name__)
_cache: OrderedDict[str, _Session] = OrderedDict()
_cache_lock = threading.Lock()


def _remember(session: _Session) -> str:
    key = uuid.uuid4().hex
    with _cache_lock:
        _cache[key] = session
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return key


def _recall(key: str | None) -> _Session:
    with _cache_lock:
        session = _cache.get(key or "")
        if session is not None:
            _cache.move_to_end(key)
    if session is None:
        raise gr.Error("Analyse a clip on the Analyze tab first (or again: this server keeps only the last few analyses).")
    return session


def checkpoint_choices() -> list[str]:
    """The Whisper models offered: openai-whisper names, and the server's own checkpoint if set."""
    own = env_checkpoint()
    return ([own] if own else []) + list(WHISPER_CHOICES)


def syncnet_choices() -> list[tuple[str, str]]:
    """The SyncNet weights offered, as (label, path): the server's own (``$MUSEVIZ_SYNCNET_CHECKPOINT``,
    then museviz's cache), never a path a visitor types; ("none on this server", "") without any."""
    from museviz.weights import cache_path

    paths = [p for p in (env_syncnet(), cache_path()) if p and os.path.isfile(p)]
    paths = list(dict.fromkeys(paths))
    return [(os.path.basename(p), p) for p in paths] or [(NO_SYNCNET_LABEL, "")]


NO_SYNCNET_LABEL = "none on this server"
ANALYZE_OUTPUTS = ("banner", "summary", "checks", "sync_panel", "lse_panel", *PLOT_NAMES, "overlay", "downloads", "report", "analysis_id", "frame_idx")


def run_analysis(video, rules, whisper, fps, tolerance_s, roi, with_overlay, shift_ms, syncnet=None, lse_crop=CROP_FACE,
                 progress=gr.Progress()) -> Iterator[tuple]:
    """The Analyze button. Yields the values of ``ANALYZE_OUTPUTS``, in that order.

    The analysis runs in a thread of its own (``analyze_and_draw``: one pass over the
    pictures for the sync estimate, LSE, Inspect's thumbnails and the overlay, the plots
    drawn beside it) and this generator yields as its parts arrive: the summary and the
    rules' checks as soon as the clip is probed, each plot as it is written, then the sync
    and LSE panels, the downloads and the overlay. The last yield repeats every output so
    that an API client's ``predict`` gets them all.
    """
    if not video:
        raise gr.Error("Upload a video or pick one of the examples first.")
    with _request_folder("req-") as work:
        options = _options(whisper, fps, tolerance_s, roi, syncnet, lse_crop)
        rules = _plot_rules(rules)
        wanted = Wanted(work, plot_rules=rules, overlay=work / "overlay.mp4" if with_overlay else None,
                        overlay_rules=rules or list(DEFAULT_OVERLAY_RULES), shift_ms=float(shift_ms or 0), thumbnails=True)
        out = dict.fromkeys(ANALYZE_OUTPUTS)
        for kind, value in _analysis_events(video, options, wanted):
            if kind == "progress":
                progress(value[0], desc=value[1])
            elif kind == "probe":
                out.update(summary=summary_html(value.media, value.schedules), checks=checks_html(value.checks))
                yield tuple(out.values())
            elif kind == "plot":
                out[value[0]] = str(value[1])
                yield tuple(out.values())
            else:
                made: Made = value
        analysis = made.analysis
        session = _Session(analysis, frames=made.frames)
        n_frames = analysis.media.video.n_frames
        out.update(
            frame_idx=gr.update(maximum=max(n_frames - 1, 0), value=n_frames // 2),
            banner=banner_markdown(analysis), summary=summary_html(analysis.media, analysis.schedules, analysis.mel80, analysis.whisper),
            checks=checks_html(analysis.checks), sync_panel=sync_html(analysis), lse_panel=lse_html(analysis),
            report=report_dict(analysis), analysis_id=_remember(session),
        )
        files = write_report(analysis, work, out["report"])
        out["downloads"] = [str(files["report"]), str(files["features"])] + ([str(made.overlay)] if made.overlay else [])
        out["overlay"] = str(made.overlay) if made.overlay else None
        yield tuple(out.values())


def _analysis_events(video: str, options: Options, wanted: Wanted) -> Iterator[tuple[str, object]]:
    """Run ``analyze_and_draw`` in a thread and yield what it reports as it comes:
    ("progress", (fraction, words)), ("probe", Probe), ("plot", (name, path)), and last
    ("made", Made). Its error is raised here; the thread is always waited for, so nothing
    it writes outlives the request's folder."""
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            made = analyze_and_draw(video, options, wanted, lambda f, d: events.put(("progress", (f, d))),
                                    on_probe=lambda probe: events.put(("probe", probe)),
                                    on_plot=lambda name, path: events.put(("plot", (name, path))))
            events.put(("made", made))
        except BaseException as exc:
            events.put(("error", exc))

    worker = threading.Thread(target=work, name="museviz-analysis", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = events.get()
            if kind == "error":
                raise value
            yield kind, value
            if kind == "made":
                return
    finally:
        worker.join()


AUDIT_TABLE_COLUMNS = ("path", "keep", "reasons", "fps_fraction", "vfr", "n_frames", "mismatch_s", "sync_offset_ms", "sync_confidence",
                       "lse_c", "lse_d", "lse_offset", "error")
COPY_CHUNK_BYTES = 1 << 20


def run_audit_zip(zip_file, tolerance_s, max_offset, min_confidence, min_lse_c=KEEP_MIN_LSE_C, progress=gr.Progress()) -> tuple[str, dict, list[str]]:
    """The Audit tab: a zip of clips to the audit table. Returns the summary, the table
    (the main columns) and the CSV and JSON downloads. LSE uses the server's first SyncNet weights."""
    if not zip_file:
        raise gr.Error("Upload a .zip of video clips first.")
    with _request_folder("audit-") as work:
        n_clips = extract_videos(zip_file, work / "clips", AUDIT_MAX_CLIPS, AUDIT_MAX_UNZIPPED_MB * 2**20)
        progress(0.0, desc=f"Auditing {n_clips} clips")
        settings = AuditSettings(
            _number(tolerance_s, "the duration tolerance"), int(_number(max_offset, "the largest offset")),
            _number(min_confidence, "the smallest confidence"), limits=APP_LIMITS,
            syncnet=syncnet_choices()[0][1] or None, min_lse_c=_number(min_lse_c, "the smallest LSE-C"),
        )
        summary = run_audit(work / "clips", work / "audit.csv", settings, workers=AUDIT_WORKERS, lse_download=False,
                            progress=lambda done, total, path: progress(done / total, desc=f"{done}/{total} {path}"))
        table = {"headers": list(AUDIT_TABLE_COLUMNS), "data": [[_cell(row[c]) for c in AUDIT_TABLE_COLUMNS] for row in summary.rows]}
        text = summary_text(summary).rsplit("\n", 1)[0]  # without the server-side "wrote ..." line
        yield f"```\n{text}\n```", table, [str(summary.csv_path), str(summary.json_path)]


FIX_FPS_CHOICES = ("25", "source", "24", "30", "29.97", "50")
FIX_SAMPLE_RATE_CHOICES = ("keep", "16000", "22050", "44100", "48000")


def fix_defaults(key: str | None) -> tuple:
    """The Fix panel after an analysis: shown, its options prefilled from the findings (the
    measured offset in ms when it is reliable and a frame or more, 25 fps, trimming when the
    lengths disagree)."""
    analysis = _recall(key).analysis
    sync = analysis.sync
    measured = sync is not None and sync.reliable and sync.drift_ms_per_min is None
    levels = {c.id: c.level for c in analysis.checks}
    trim = analysis.media.audio.present and "warn" in (levels.get("duration-mismatch"), levels.get("training-window-short"))
    offset = f"{round(sync.offset_ms):+d}ms" if measured and sync.offset_frames else "0"
    return gr.update(visible=True), offset, FIX_FPS_CHOICES[0], bool(trim), FIX_SAMPLE_RATE_CHOICES[0]


def fix_hidden() -> tuple:
    """A new clip in the Video box: the Fix panel and its results of the last clip go away until it is analysed."""
    return gr.update(visible=False), "", None, None, None


def run_fix(video, key, offset, fps, trim, sample_rate, progress=gr.Progress()) -> Iterator[tuple[str, str, str, dict]]:
    """The Fix button: the fixed clip (to play and to download), its before -> after
    summary and the same as data. Reuses the analysis of the same clip when there is one;
    measures the clip first otherwise."""
    if not video:
        raise gr.Error("Upload a video or pick one of the examples first.")
    with _request_folder("fix-") as work:
        analysis = _cached_analysis(key, video)
        options = FixOptions(
            parse_offset(offset or "auto"), parse_output_fps(fps or FIX_FPS_CHOICES[0]), bool(trim), parse_sample_rate(sample_rate),
            roi=analysis.options.roi if analysis else None, limits=APP_LIMITS,
        )
        before = Findings(analysis.media, analysis.checks, analysis.sync, analysis.sync_error) if analysis else None
        out = work / f"{Path(video).stem}_fixed.mp4"
        result = fix_clip(video, out, options, before=before, progress=lambda f, d: progress(f, desc=d))
        data = {**result.to_dict(), "source": os.path.basename(video), "output": out.name}
        yield fix_html(result), str(out), str(out), data


def _cached_analysis(key: str | None, video: str) -> Analysis | None:
    """The kept analysis of ``video``, if the page has one."""
    with _cache_lock:
        session = _cache.get(key or "")
    return session.analysis if session is not None and session.analysis.media.path == video else None


def fix_html(result: FixResult) -> str:
    """What the fix did, and each check before -> after, in the checks' colours."""
    rows = "".join(
        f"<div class='mv-check mv-{c.after.level}' style='border-left-color:{LEVEL_COLORS[c.after.level]}'><b>{c.id}</b><br>"
        f"{_badge(c.before.level)} {html.escape(c.before_text)} &rarr; {_badge(c.after.level)} {html.escape(c.after_text)}</div>"
        for c in result.changes
    )
    still = "".join(f"<li>{c.id}: {html.escape(c.after.message)}</li>" for c in result.changes if c.after.level in ("warn", "error"))
    return (
        f"<div class='mv-fixed'><p>{html.escape(done_words(result))}</p>"
        f"<p>Each check before &rarr; after (the fixed clip, analysed again):</p>{rows}"
        f"{f'<p>Still to look at:</p><ul>{still}</ul>' if still else ''}</div>"
    )


def _badge(level: str) -> str:
    return f"<span class='mv-level' style='background:{LEVEL_COLORS[level]}'>{level}</span>"


@contextmanager
def _user_errors() -> Iterator[None]:
    """Every error a callback meets, as one sentence in a ``gr.Error``."""
    try:
        yield
    except gr.Error:
        raise
    except MusevizError as exc:
        raise gr.Error(str(exc)) from None
    except Exception as exc:  # a bug, or input nobody foresaw: logged in full, shown as one sentence
        log.exception("museviz failed")
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise gr.Error(f"museviz failed ({type(exc).__name__}: {first_line}); the server log has the details.") from None


def _with_user_errors(callback):
    """``callback`` with ``_user_errors`` around it."""

    @functools.wraps(callback)
    def wrapper(*args, **kwargs):
        with _user_errors():
            return callback(*args, **kwargs)

    return wrapper


@contextmanager
def _request_folder(prefix: str) -> Iterator[Path]:
    """A folder of the request's own, removed once the results are delivered or it fails;
    errors come out as one-sentence ``gr.Error``s."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=_work_root()))
    try:
        with _user_errors():
            yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def extract_videos(zip_path: str | os.PathLike, dest: Path, max_files: int, max_bytes: int) -> int:
    """Unpack the video files of a zip into ``dest``, safely; return how many.

    Names are reduced to plain relative paths (no absolute paths, no ``..``, no links),
    other files are skipped, and both the number of videos and the bytes actually written
    are capped, whatever the zip claims about its sizes.
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise MusevizError(f"{os.path.basename(zip_path)} is not a readable zip file: zip the clips (or their folder) and upload that") from None
    written, count = 0, 0
    with archive:
        for info in archive.infolist():
            parts = [p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("", ".", "/")]
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            if info.is_dir() or is_link or not parts or ".." in parts or not parts[-1].lower().endswith(VIDEO_SUFFIXES):
                continue
            count += 1
            if count > max_files:
                raise MusevizError(f"the zip holds more than {max_files} videos: audit larger sets with the command line (museviz audit)")
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as out:
                while chunk := source.read(COPY_CHUNK_BYTES):
                    written += len(chunk)
                    if written > max_bytes:
                        raise MusevizError(f"the zip unpacks to more than {max_bytes // 2**20} MB: audit larger sets with the command line (museviz audit)")
                    out.write(chunk)
    if not count:
        raise MusevizError(f"the zip holds no video files ({', '.join(VIDEO_SUFFIXES)})")
    return count


def _number(value, what: str) -> float:
    """A setting from a number box: a finite number, 0 or more."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= 0:
        raise gr.Error(f"Set {what} to a number, 0 or more.")
    return number


def _cell(value):
    return "" if value is None else value


@_with_user_errors
def inspect_frame(key: str | None, frame_idx: float, rules) -> tuple[np.ndarray, str, float]:
    """The Inspect slider, fast enough to follow a drag: the frame above the strip of both
    streams with each rule's window, each rule's formula with this frame's numbers, and
    the frame's time in seconds."""
    session = _recall(key)
    analysis = session.analysis
    idx = _frame_index(analysis, frame_idx)
    picked = _plot_rules(rules)
    if session.view is None or session.view_rules != picked:
        session.view, session.view_rules = FrameView(analysis, picked), picked
    try:
        picture = session.frames.frame(idx) if session.frames else read_frame(analysis.media, idx)
    except MusevizError as exc:
        raise gr.Error(f"The clip is no longer on the server ({exc}): analyse it again.") from None
    formulas = frame_formulas(analysis.timeline, analysis.schedules, idx, picked)
    return session.view.render(idx, picture), formulas_html(formulas), round(float(analysis.timeline.frame_times_s[idx]), 4)


@_with_user_errors
def inspect_plot(key: str | None, frame_idx: float, rules) -> np.ndarray:
    """The full one-frame plot, drawn when the slider is let go (it takes about half a second)."""
    analysis = _recall(key).analysis
    return figure_array(frame_figure(analysis.timeline, analysis.schedules, _frame_index(analysis, frame_idx), _plot_rules(rules)))


def _frame_index(analysis: Analysis, frame_idx: float) -> int:
    return int(np.clip(round(frame_idx or 0), 0, analysis.media.video.n_frames - 1))


def formulas_html(formulas: dict[str, list[str]]) -> str:
    """Each rule's formula lines, in its colour."""
    blocks = "".join(
        f"<div class='mv-formula'><span class='swatch' style='background:{rule_color(name)}'></span><b>{name}</b>"
        f"<pre>{html.escape(chr(10).join(lines))}</pre></div>"
        for name, lines in formulas.items()
    )
    return f"<div class='mv-formulas'>{blocks}</div>"


@_with_user_errors
def frame_at_time(key: str | None, t_s: float) -> int:
    """The Inspect time field: the frame shown at ``t_s`` seconds."""
    times = _recall(key).analysis.timeline.frame_times_s
    return int(np.clip(np.searchsorted(times, float(t_s or 0), side="right") - 1, 0, len(times) - 1))


@_with_user_errors
def learn(fps_text: str, duration_s: float, rules, spec_text: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The Learn tab: a frame rate and a duration, with no clip: the first frames' windows,
    the drift over the whole duration, the mapping, and the rules' pitfalls at this rate;
    ``spec_text`` (TOML or JSON, see ``museviz.spec``) adds a rule of the user's own."""
    timeline, schedules, picked = _learn_clip(fps_text, duration_s, rules, spec_text)
    fps, n_frames = timeline.fps, timeline.n_frames
    return (
        figure_array(timeline_figure(timeline, schedules, picked, 0, min(LEARN_FRAMES_SHOWN, n_frames))),
        figure_array(drift_figure(timeline, schedules, picked)),
        figure_array(mapping_figure(timeline, schedules, picked)),
        checks_html(rule_checks(timeline, schedules), title=f"Pitfalls at {fps:.3f} fps for {n_frames / fps:.1f} s"),
    )


@_with_user_errors
def learn_compare(fps_text: str, duration_s: float, rules, spec_text: str = "", frame_idx: float = LEARN_COMPARE_FRAME) -> np.ndarray:
    """The Learn tab's comparison: one frame's window under each chosen system, side by
    side on the two streams' time axis."""
    timeline, schedules, picked = _learn_clip(fps_text, duration_s, rules, spec_text)
    frame = int(np.clip(round(float(frame_idx or 0)), 0, timeline.n_frames - 1))
    return figure_array(frame_figure(timeline, schedules, frame, picked, formulas=False))


def _learn_clip(fps_text: str, duration_s: float, rules, spec_text: str) -> tuple[Timeline, dict, list[str]]:
    """The Learn tab's clip of numbers alone, every rule's schedule (the user's own too) and the rules to draw."""
    fps = parse_fps(fps_text)
    timeline = Timeline.constant_rate(fps, float(duration_s))
    schedules = schedule_all(timeline)
    picked = _plot_rules(rules)
    if spec_text and spec_text.strip():
        own = parse_spec(spec_text, "auto").to_rule()
        schedules[own.name] = own.schedule(timeline)
        picked.append(own.name)
    return timeline, schedules, picked


def systems_html() -> str:
    """Every system's features, rate, frames from audio, window, edges, chunking and source."""
    header = "".join(f"<th>{html.escape(c)}</th>" for c in TABLE_COLUMNS)
    rows = "".join(
        f"<tr><td><span class='swatch' style='background:{rule_color(name)}'></span>{html.escape(s.name)}</td><td><code>{html.escape(name)}</code></td>"
        + "".join(f"<td>{html.escape(v)}</td>" for v in (s.features, s.rate, s.frames, s.window, s.edges, s.chunking, s.source))
        + "</tr>"
        for name, s in system_rows()
    )
    return f"<div class='mv-systems'><table class='mv-table'><tr>{header}</tr>{rows}</table></div>"


def parse_fps(text: str) -> float:
    """A Learn-tab frame rate: a number from 15 to 60; 23.976, 29.97 and 59.94 mean the NTSC rates."""
    text = str(text).strip()
    try:
        fps = NTSC_RATES.get(text) or float(text)
    except ValueError:
        raise gr.Error(f"{text!r} is not a frame rate: pick one from the list or type a number from 15 to 60.") from None
    if not 15 <= fps <= 60:
        raise gr.Error(f"{fps:g} fps is outside 15 to 60: pick a rate in that range.")
    return fps


def figure_array(fig: Figure) -> np.ndarray:
    """Draw ``fig`` to an (h, w, 3) uint8 RGB array (no file, no pyplot)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def banner_markdown(analysis: Analysis) -> str:
    if analysis.whisper.source != SOURCE_FALLBACK:
        return ""
    return (
        "**No Whisper weights on this server**, so *whisper50* below is the Whisper log-mel averaged in pairs "
        "(`logmel-pool`), on the same 50 Hz grid as encoder tokens but not encoder features. Every rule, check and "
        "plot is still exact. To see real encoder features, run museviz where it can download `tiny` once, or set "
        f"`{CHECKPOINT_ENV}` to a checkpoint in openai-whisper's format."
    )


def summary_html(media: Media, schedules: dict[str, Schedule], mel80: np.ndarray | None = None, whisper: Whisper50 | None = None) -> str:
    """The summary table: the clip, its features (or that they are being computed), and
    each rule's chunk count and grid."""
    v, a = media.video, media.audio
    audio = f"{a.duration_s:.3f} s ({a.sample_rate} Hz, {a.channels} ch, {a.codec})" if a.present else "none"
    if whisper is None:
        whisper_text = mel_text = "<i>computing…</i>"
    else:
        whisper_text = (f"{whisper.features.shape[0]} tokens x {whisper.features.shape[1]} layers x {whisper.features.shape[2]} ({whisper.source}"
                        f"{', ' + html.escape(whisper.model) if whisper.model else ''})")
        mel_text = f"{mel80.shape[1]} frames"
    rows = [
        ("file", html.escape(os.path.basename(media.path))),
        ("frame rate", f"<b>{v.fps_text}</b> = {v.fps:.5f} fps" + (" (variable)" if v.vfr else "")),
        ("frames", f"<b>{v.n_frames}</b> ({'x'.join(map(str, v.display_size))}{', rotated' if v.rotation else ''}, {v.codec})"),
        ("video duration", f"{v.duration_s:.3f} s"),
        ("audio duration", audio),
        ("whisper50", whisper_text),
        ("mel80", mel_text),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows)
    chunks = "".join(
        f"<tr><td><span class='swatch' style='background:{rule_color(name)}'></span>{name}</td><td>{s.grid}</td>"
        f"<td>{s.fps_used:g}</td><td>{s.n_chunks}</td><td>{s.n_chunks - v.n_frames:+d}</td>"
        f"<td>{html.escape(s.error or '')}</td></tr>"
        for name, s in schedules.items()
    )
    return (
        f"<div class='mv-summary'><table class='mv-table'>{table}</table>"
        f"<div class='mv-rules'><table class='mv-table'><tr><th>rule</th><th>grid</th><th>fps used</th><th>chunks</th>"
        f"<th>vs frames</th><th>fails</th></tr>{chunks}</table></div></div>"
    )


def sync_html(analysis: Analysis) -> str:
    """The offset estimate in words, with its confidence, verdict and fix."""
    result = analysis.sync
    if result is None:
        return f"<div class='mv-sync'><h3>Sync</h3><p>Not measured: {html.escape(analysis.sync_error or '')}</p></div>"
    check = next(c for c in analysis.checks if c.id == "sync-offset")
    level = check.level
    verdict = "kept by LatentSync's rule" if result.keep else "dropped by LatentSync's rule: " + "; ".join(result.reasons)
    fix = f"<div class='mv-fix'>fix: <code>{html.escape(result.fix)}</code></div>" if result.fix else ""
    if fix and check.museviz_fix:
        fix += f"<div class='mv-fix'>or: <code>{html.escape(check.museviz_fix)}</code>, or the Fix panel below</div>"
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    measured = (
        f"offset <b>{result.offset_frames:+d} frames = {result.offset_ms:+.0f} ms</b> (SyncNet's sign: + = audio early), "
        if result.reliable else "no offset given, "
    )
    q = result.quality
    face = f"a face in {q.face_fraction:.0%} of the frames, {q.face_size_px:.0f} px wide" if q.face_size_px else f"mouth region: {result.roi_source}"
    evidence = (
        f"{face}; {q.speech_s:.1f} s of speech; peak {q.peak_z:.1f} and runner-up {q.runner_up_z or 0:.1f} "
        f"standard deviations above chance"
    ) if np.isfinite(q.peak_z) else f"{face}; {q.speech_s:.1f} s of speech"
    return (
        f"<div class='mv-sync'><h3>Sync</h3>"
        f"<div class='mv-check mv-{level}' style='border-left-color:{LEVEL_COLORS[level]}'>"
        f"<div class='mv-sync-words'>{html.escape(result.words[:1].upper() + result.words[1:])}</div>"
        f"{measured}confidence <b>{result.confidence:.2f}</b>; {html.escape(verdict)}{fix}"
        f"<div class='mv-sync-evidence'>{html.escape(evidence)}</div></div>"
        f"{f'<ul>{notes}</ul>' if notes else ''}</div>"
    )


def lse_html(analysis: Analysis) -> str:
    """SyncNet's LSE-C, LSE-D and offset beside the weight-free estimate, with whether they agree."""
    lse = analysis.lse
    title = "<h3>LSE (SyncNet)</h3>"
    if lse is None:
        return f"<div class='mv-lse'>{title}<p>Not measured: {html.escape(analysis.lse_error or '')}</p></div>"
    scores = lse.scores
    agreement = lse.agreement(analysis.sync)
    if agreement is None:
        compared = "No weight-free estimate to compare with."
    elif agreement["agree"] is None:
        compared = "The weight-free estimate is not reliable on this clip: nothing to compare with."
    elif agreement["agree"]:
        compared = f"Agrees with the weight-free estimate ({analysis.sync.offset_frames:+d} frames = {analysis.sync.offset_ms:+.0f} ms)."
    else:
        compared = (f"Disagrees with the weight-free estimate: SyncNet {lse.offset_ms:+.0f} ms, the estimate "
                    f"{analysis.sync.offset_ms:+.0f} ms ({analysis.sync.offset_frames:+d} frames); look at both curves.")
    rule = f"LSE-C &ge; {KEEP_MIN_LSE_C:g} and |offset| &le; {LSE_MAX_OFFSET}"
    verdict = f"kept by LatentSync's rule ({rule})" if lse.keep else f"dropped by LatentSync's rule ({rule})"
    level = "ok" if lse.keep and (agreement is None or agreement["agree"] is not False) else "warn"
    words = offset_words(scores.offset_frames)
    notes = [*lse.notes, f"{scores.n_windows} windows of 5 frames; weights {lse.checkpoint_name} (sha256 {lse.checkpoint_sha256[:12]}...) on {lse.device}"]
    return (
        f"<div class='mv-lse'>{title}"
        f"<div class='mv-check mv-{level}' style='border-left-color:{LEVEL_COLORS[level]}'>"
        f"<div class='mv-lse-numbers'><span>LSE-C <b>{scores.lse_c:.3f}</b></span><span>LSE-D <b>{scores.lse_d:.3f}</b></span>"
        f"<span>offset <b>{scores.offset_frames:+d}</b> frames = {lse.offset_ms:+.0f} ms</span></div>"
        f"<div>SyncNet: {html.escape(words)}; {verdict}.</div>"
        f"<div class='mv-lse-compare'>{html.escape(compared)}</div></div>"
        f"{lse_curve_svg(scores.dists)}"
        f"<ul>{''.join(f'<li>{html.escape(n)}</li>' for n in notes)}</ul></div>"
    )


LSE_SVG_SIZE = (360, 120)  # px
LSE_SVG_MARGIN = (44, 10, 10, 30)  # px: left, top, right, bottom


def lse_curve_svg(dists: np.ndarray) -> str:
    """SyncNet's mean distance at each offset (+15 .. -15 frames, audio early to late) as a small
    inline SVG, the minimum (LSE-D, the offset) marked."""
    width, height = LSE_SVG_SIZE
    left, top, right, bottom = LSE_SVG_MARGIN
    max_shift = len(dists) // 2
    offsets = max_shift - np.arange(len(dists))  # dists[j] is offset 15 - j
    lo, hi = float(np.min(dists)), float(np.max(dists))
    span = hi - lo or 1.0
    x = lambda offset: left + (offset + max_shift) / (2 * max_shift) * (width - left - right)
    y = lambda d: top + (hi - d) / span * (height - top - bottom)
    points = " ".join(f"{x(o):.1f},{y(d):.1f}" for o, d in zip(offsets, dists))
    best = int(np.argmin(dists))
    side, anchor = (1, "start") if offsets[best] < 0 else (-1, "end")  # the label away from the axis
    ticks = "".join(
        f"<line x1='{x(o):.1f}' y1='{height - bottom}' x2='{x(o):.1f}' y2='{height - bottom + 4}' stroke='currentColor'/>"
        f"<text x='{x(o):.1f}' y='{height - bottom + 14}' text-anchor='middle'>{o:+d}</text>"
        for o in (-15, -10, -5, 0, 5, 10, 15)
    )
    return (
        f"<svg class='mv-lse-curve' viewBox='0 0 {width} {height}' width='{width}' height='{height}' role='img' "
        f"aria-label='SyncNet mean distance by offset'>"
        f"<polyline points='{points}' fill='none' stroke='{LEVEL_COLORS['info']}' stroke-width='1.5'/>"
        f"<circle cx='{x(offsets[best]):.1f}' cy='{y(dists[best]):.1f}' r='3.5' fill='{LEVEL_COLORS['error']}'/>"
        f"<text x='{x(offsets[best]) + 6 * side:.1f}' y='{y(dists[best]) - 6:.1f}' text-anchor='{anchor}'>LSE-D</text>"
        f"<line x1='{left}' y1='{height - bottom}' x2='{width - right}' y2='{height - bottom}' stroke='currentColor'/>{ticks}"
        f"<text x='{left - 4}' y='{top + 8}' text-anchor='end'>{hi:.2f}</text>"
        f"<text x='{left - 4}' y='{height - bottom}' text-anchor='end'>{lo:.2f}</text>"
        f"<text x='{width - right}' y='{height - 2}' text-anchor='end'>offset (frames at 25 fps, + = audio early)</text>"
        f"<text x='{left}' y='{height - 2}'>mean distance</text></svg>"
    )


def checks_html(checks: list[Check], title: str = "Checks") -> str:
    """Checks as coloured rows, worst first, each with its fix."""
    order = {"error": 0, "warn": 1, "info": 2, "ok": 3}
    rows = []
    for c in sorted(checks, key=lambda c: order[c.level]):
        fix = f"<div class='mv-fix'>fix: <code>{html.escape(c.fix)}</code></div>" if c.fix and c.level in ("warn", "error") else ""
        if fix and c.museviz_fix:
            fix += f"<div class='mv-fix'>or: <code>{html.escape(c.museviz_fix)}</code></div>"
        rows.append(
            f"<div class='mv-check mv-{c.level}' style='border-left-color:{LEVEL_COLORS[c.level]}'>"
            f"<span class='mv-level' style='background:{LEVEL_COLORS[c.level]}'>{c.level}</span> "
            f"<b>{c.id}</b>: {html.escape(c.message)}{fix}</div>"
        )
    return f"<div class='mv-checks'><h3>{html.escape(title)}</h3>{''.join(rows)}</div>"


def _options(whisper: str | None, fps, tolerance_s, roi: str | None, syncnet: str | None = None, lse_crop: str | None = None) -> Options:
    choices = checkpoint_choices()
    choice = whisper or choices[0]
    if choice not in choices:
        raise gr.Error(f"Unknown Whisper model {choice!r}: pick one from the list.")
    weights = [path for _, path in syncnet_choices()]
    syncnet = weights[0] if syncnet is None else syncnet
    if syncnet not in weights:
        raise gr.Error("Unknown SyncNet weights: pick them from the list (the server offers only its own).")
    if (lse_crop or CROP_FACE) not in CROP_MODES:
        raise gr.Error(f"Unknown LSE crop {lse_crop!r}: pick {' or '.join(CROP_MODES)}.")
    named = choice in WHISPER_CHOICES
    return Options(
        fps=float(fps) if fps else None,
        duration_tolerance_s=float(tolerance_s) if tolerance_s is not None else Options.duration_tolerance_s,
        whisper_checkpoint=None if named else choice,
        whisper_model=choice if named else DEFAULT_MODEL,
        roi=parse_roi(roi) if roi and roi.strip() else None,
        limits=APP_LIMITS,
        syncnet_checkpoint=syncnet or None,
        syncnet_download=False,
        lse_crop=lse_crop or CROP_FACE,
    )


def _plot_rules(rules) -> list[str]:
    return [r for r in (rules or DEFAULT_PLOT_RULES) if r in RULES]


def _work_root() -> Path:
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    return WORK_ROOT
