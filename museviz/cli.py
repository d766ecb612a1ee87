"""``museviz`` on the command line: gather arguments, call the library, print results.

Bad input ends with exit status 2 and one line ``museviz: error: ...`` on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path

from museviz.checks import DEFAULT_DURATION_TOLERANCE_S, TARGET_FPS
from museviz.config import CHECKPOINT_ENV, CLI_DECODE_TIMEOUT_S, CLI_MAX_DURATION_S, DEFAULT_MODEL, SYNCNET_ENV, env_checkpoint, env_syncnet
from museviz.errors import MusevizError
from museviz.fix import AUTO, OFFSET_HELP, FixOptions, done_words, fix_clip, parse_fps, parse_offset, parse_sample_rate
from museviz.lse import CROP_FACE, CROP_MODES, KEEP_MIN_LSE_C
from museviz.media import Limits, check_video
from museviz.mouth import parse_roi
from museviz.sync import KEEP_MAX_OFFSET_FRAMES, KEEP_MIN_CONFIDENCE

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
OVERLAY_NAME = "overlay.mp4"
LEVEL_TAGS = {"ok": "  ok ", "info": " info", "warn": " WARN", "error": "ERROR"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error."""

    def error(self, message: str) -> None:
        if message.endswith("expected one argument"):  # argparse reads "--offset -3f" as two options
            message += "; a value starting with - is written with =, as --offset=-3f"
        raise MusevizError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="museviz", description="See and measure how lip-sync systems map video frames onto audio features.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    a = commands.add_parser("analyze", help="analyse one video: report.json, features.npz")
    a.add_argument("video", help="the video file (mp4, mov, webm, mkv, avi)")
    a.add_argument("--out", required=True, metavar="DIR", help="folder for the results (created if missing)")
    a.add_argument(
        "--whisper-checkpoint", metavar="PATH", default=env_checkpoint(),
        help=f"a Whisper checkpoint in openai-whisper's format (default: ${CHECKPOINT_ENV})",
    )
    a.add_argument("--whisper-model", default=DEFAULT_MODEL, metavar="NAME", help=f"openai-whisper model name (default {DEFAULT_MODEL})")
    a.add_argument("--fps", type=_positive, help="the frame rate pipelines believe (default: the container's average rate)")
    a.add_argument(
        "--duration-tolerance", type=_non_negative, default=DEFAULT_DURATION_TOLERANCE_S, metavar="S",
        help=f"audio/video duration mismatch allowed, in seconds (default {DEFAULT_DURATION_TOLERANCE_S})",
    )
    a.add_argument("--rule", action="append", default=[], metavar="FILE",
                   help="a rule of your own, as a TOML or JSON spec (see museviz/spec.py); repeat for more")
    _add_limits(a)
    _add_lse(a)
    _add_analyze_outputs(a)
    u = commands.add_parser("audit", help="audit every video under a folder: one row per clip, a keep verdict")
    u.add_argument("folder", help="the folder of clips (searched recursively)")
    u.add_argument("--out", required=True, metavar="CSV", help="the table to write (a .json copy goes next to it); an existing one is resumed")
    u.add_argument("--workers", type=_count, metavar="N", help="processes on this machine (default: one per core)")
    u.add_argument("--scheduler", metavar="ADDRESS", help="run the clips on this Dask scheduler instead (tcp://host:8786)")
    u.add_argument(
        "--duration-tolerance", type=_non_negative, default=DEFAULT_DURATION_TOLERANCE_S, metavar="S",
        help=f"audio/video duration mismatch allowed, in seconds (default {DEFAULT_DURATION_TOLERANCE_S})",
    )
    u.add_argument("--max-offset", type=_whole, default=KEEP_MAX_OFFSET_FRAMES, metavar="F",
                   help=f"largest |sync offset| kept, in frames (default {KEEP_MAX_OFFSET_FRAMES}, LatentSync's)")
    u.add_argument("--min-confidence", type=_non_negative, default=KEEP_MIN_CONFIDENCE, metavar="C",
                   help=f"smallest sync confidence kept (default {KEEP_MIN_CONFIDENCE})")
    u.add_argument("--roi", type=parse_roi, metavar="X,Y,W,H", help="mouth region as fractions of the frame, instead of face detection")
    u.add_argument("--min-lse-c", type=_non_negative, default=KEEP_MIN_LSE_C, metavar="C",
                   help=f"smallest SyncNet confidence (LSE-C) kept, when LSE is measured (default {KEEP_MIN_LSE_C:g}, LatentSync's)")
    _add_lse(u)
    _add_limits(u)
    u.add_argument("--fix-dir", metavar="DIR",
                   help="write a fixed copy (25 fps, the offset removed, the audio trimmed) of every clip whose faults can all be fixed into DIR, re-checked")
    f = commands.add_parser("fix", help="write a fixed copy of one video: a constant frame rate, the audio in sync, matching lengths")
    f.add_argument("video", help="the video file (mp4, mov, webm, mkv, avi); never written to")
    f.add_argument("--out", required=True, metavar="FIXED.mp4", help="the fixed clip, an mp4 file (written whole or not at all)")
    f.add_argument("--offset", type=_argument(parse_offset), default=parse_offset(AUTO), metavar="auto|Nf|Nms",
                   help=f"the audio-visual offset to remove: {OFFSET_HELP}, or 0 (default auto; a value starting with - takes =, as --offset=-3f)")
    f.add_argument("--fps", type=_argument(parse_fps), default=parse_fps(str(TARGET_FPS)), metavar="25|source|N",
                   help="the constant output rate: each output frame shows the source frame on screen at its time (default 25; "
                        "source: the source's average rate; 29.97 is 30000/1001)")
    f.add_argument("--trim", action="store_true", help="cut the audio, or pad it with silence, to the video's duration")
    f.add_argument("--sample-rate", type=_argument(parse_sample_rate), metavar="HZ", help="resample the audio to HZ (default: keep its rate)")
    f.add_argument("--roi", type=parse_roi, metavar="X,Y,W,H", help="mouth region as fractions of the frame, for the sync estimate, instead of face detection")
    f.add_argument(
        "--duration-tolerance", type=_non_negative, default=DEFAULT_DURATION_TOLERANCE_S, metavar="S",
        help=f"audio/video duration mismatch allowed, in seconds (default {DEFAULT_DURATION_TOLERANCE_S})",
    )
    f.add_argument("--json", action="store_true", help="print the fix and each check before and after as JSON")
    _add_limits(f)
    return parser


def _argument(parse):
    """An argparse ``type`` from a museviz parser: its ``MusevizError`` becomes argparse's usage error."""

    def convert(text: str):
        try:
            return parse(text)
        except MusevizError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _add_lse(p: argparse.ArgumentParser) -> None:
    p.add_argument("--syncnet", metavar="PATH", default=env_syncnet(),
                   help=f"SyncNet weights (syncnet_v2.model) for LSE-C and LSE-D (default: ${SYNCNET_ENV}, then the cache, then a download)")
    p.add_argument("--lse-crop", choices=CROP_MODES, default=CROP_FACE,
                   help="SyncNet's input: crops around the face as syncnet_python cuts them, or the whole frames for clips that are already face crops (default face)")


def _add_limits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-duration", type=_positive, default=CLI_MAX_DURATION_S, metavar="S",
                   help=f"refuse clips longer than this, in seconds (default {CLI_MAX_DURATION_S:g})")
    p.add_argument("--decode-timeout", type=_non_negative, default=CLI_DECODE_TIMEOUT_S, metavar="S",
                   help=f"stop a pass over a file after this many seconds of decoding (default {CLI_DECODE_TIMEOUT_S:g})")


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(max_duration_s=args.max_duration, decode_timeout_s=args.decode_timeout)


def _add_analyze_outputs(a: argparse.ArgumentParser) -> None:
    a.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    a.add_argument("--no-overlay", action="store_true", help="do not render overlay.mp4")
    a.add_argument("--no-sync", action="store_true", help="do not estimate the audio-visual offset")
    a.add_argument("--shift-ms", type=_finite, default=0.0, metavar="MS", help="render the overlay with the audio moved by MS (positive: later)")
    a.add_argument("--roi", type=parse_roi, metavar="X,Y,W,H", help="mouth region as fractions of the frame, instead of face detection")


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    return value


def _non_negative(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative: give 0 or more")
    return value


def _positive(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not above 0")
    return value


def _whole(text: str) -> int:
    value = _non_negative(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(value)


def _count(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 or more")
    return value


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return {"audit": _audit, "fix": _fix}.get(args.command, _analyze)(args)
    except MusevizError as exc:
        print(f"museviz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("museviz: error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, or input nobody foresaw: still one line, never a traceback
        if os.environ.get("MUSEVIZ_DEBUG"):
            raise
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        print(f"museviz: error: museviz failed ({type(exc).__name__}: {first_line}); set MUSEVIZ_DEBUG=1 for the traceback and report it", file=sys.stderr)
        return EXIT_INTERNAL


def _analyze(args: argparse.Namespace) -> int:
    # Imported here, not at the top: torch and matplotlib take seconds to load, and a
    # usage error should not wait for them.
    from museviz.spec import load_rules

    custom = load_rules(args.rule)
    check_video(args.video, _limits(args))
    from museviz.analysis import Options
    from museviz.outputs import Wanted, analyze_and_draw
    from museviz.overlay import DEFAULT_OVERLAY_RULES
    from museviz.report import write_report

    options = Options(
        fps=args.fps,
        duration_tolerance_s=args.duration_tolerance,
        whisper_checkpoint=args.whisper_checkpoint,
        whisper_model=args.whisper_model,
        sync=not args.no_sync,
        roi=args.roi,
        limits=_limits(args),
        syncnet_checkpoint=args.syncnet,
        lse_crop=args.lse_crop,
        custom_rules=custom,
    )
    yours = [r.name for r in custom]
    out = Path(args.out)
    created = not out.exists()
    wanted = Wanted(
        out,
        plots=not args.no_plots,
        plot_rules=_with_defaults_of_plots(yours),
        overlay=None if args.no_overlay else out / OVERLAY_NAME,
        overlay_rules=[*DEFAULT_OVERLAY_RULES, *yours],
        shift_ms=args.shift_ms,
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        made = analyze_and_draw(args.video, options, wanted, on_analysis=lambda a: written.update(write_report(a, out)), processes=True)
        analysis = made.analysis
        paths = [*written.values(), *made.plots.values(), *([made.overlay] if made.overlay else [])]
    except OSError as exc:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise MusevizError(f"cannot write to {out}: {exc.strerror or exc}") from None
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    for warning in analysis.warnings:
        print(f"museviz: warning: {warning}", file=sys.stderr)
    print(summary(analysis))
    print(f"wrote {len(paths)} files into {out}: " + ", ".join(p.name for p in paths))
    return 0


def _with_defaults_of_plots(yours: list[str]) -> list[str] | None:
    """The plots' rules: the default ones and ``yours`` (None, the defaults, without
    importing matplotlib, when there are none of yours)."""
    if not yours:
        return None
    from museviz.plots import DEFAULT_PLOT_RULES

    return [*DEFAULT_PLOT_RULES, *yours]


def _audit(args: argparse.Namespace) -> int:
    from museviz.audit import AuditSettings, ProgressBar, run_audit, summary_text

    settings = AuditSettings(args.duration_tolerance, args.max_offset, args.min_confidence, args.roi, _limits(args),
                             syncnet=args.syncnet, lse_crop=args.lse_crop, min_lse_c=args.min_lse_c, fix_dir=args.fix_dir)
    result = run_audit(args.folder, args.out, settings, workers=args.workers, scheduler=args.scheduler, progress=ProgressBar())
    print(summary_text(result))
    return 0


def _fix(args: argparse.Namespace) -> int:
    options = FixOptions(args.offset, args.fps, args.trim, args.sample_rate, args.roi, args.duration_tolerance, _limits(args))
    result = fix_clip(args.video, args.out, options)
    print(json.dumps(result.to_dict(), indent=1) if args.json else fix_summary(result))
    return 0


def fix_summary(result) -> str:
    """The fix in a few lines: what was done, then each check before -> after."""
    lines = [f"fixed {os.path.basename(result.source)} into {result.out_path}: {done_words(result)}"]
    changes = result.changes
    width = max(len(c.before_text) for c in changes)
    for c in changes:
        lines.append(f"  {c.id:<22} {LEVEL_TAGS[c.before.level]}  {c.before_text:<{width}}  ->  {LEVEL_TAGS[c.after.level]}  {c.after_text}")
    still = [c for c in changes if c.after.level in ("warn", "error")]
    for c in still:
        lines.append(f"still {c.after.level}: {c.id}: {c.after.message}")
    return "\n".join(lines)


def summary(analysis) -> str:
    """A short human account: the clip, the features, chunk counts, and the checks."""
    v, a = analysis.media.video, analysis.media.audio
    audio = f"{a.duration_s:.2f} s audio ({a.sample_rate} Hz, {a.channels} ch)" if a.present else "no audio"
    w = analysis.whisper
    lines = [
        f"{os.path.basename(analysis.media.path)}: {v.n_frames} frames at {v.fps_text} fps ({v.fps:.3f}"
        f"{', variable' if v.vfr else ''}), {'x'.join(map(str, v.display_size))}, {v.duration_s:.2f} s video, {audio}",
        f"features: whisper50 {' x '.join(map(str, w.features.shape))} ({w.source}{', ' + w.model if w.model else ''}), "
        f"mel80 {' x '.join(map(str, analysis.mel80.shape))}",
        "chunks: " + " | ".join(f"{name} {s.n_chunks}" + (" (fails)" if s.error else "") for name, s in analysis.schedules.items()),
        lse_line(analysis),
        "checks:",
    ]
    for check in analysis.checks:
        lines.append(f"  {LEVEL_TAGS[check.level]}  {check.id:<22} {check.message}")
        if check.fix and check.level in ("warn", "error"):
            lines.append(f"{'':31}fix: {check.fix}")
            if check.museviz_fix:
                lines.append(f"{'':31}or:  {check.museviz_fix}")
    return "\n".join(lines)


def lse_line(analysis) -> str:
    """SyncNet's numbers in one line, or why they are missing."""
    lse = analysis.lse
    if lse is None:
        return f"lse: not measured: {analysis.lse_error}"
    agreement = lse.agreement(analysis.sync)
    if agreement is None or agreement["agree"] is None:
        agrees = ""
    else:
        agrees = f"; {'agrees' if agreement['agree'] else 'disagrees'} with the sync estimate ({analysis.sync.offset_frames:+d} frames)"
    return (
        f"lse: LSE-C {lse.scores.lse_c:.3f}, LSE-D {lse.scores.lse_d:.3f}, offset {lse.scores.offset_frames:+d} frames at 25 fps"
        f"{agrees} ({lse.crop} crops, {lse.checkpoint_name})"
    )


if __name__ == "__main__":
    sys.exit(main())
