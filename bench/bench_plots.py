"""How long each figure takes to build and save as a PNG (a timing script, not a test).

    python bench/bench_plots.py [--repeats 15]

The Inspect tab redraws ``frame_figure`` on every slider move; its target is under about
150 ms on a 60 s clip. Most of that time is matplotlib drawing text glyph by glyph, so it is
also timed without the formula text (``formulas=False``, for an app that shows
``frame_formulas`` as text itself), and kept from frame to frame (``FrameFigure.rgb``: the
figure made once, each frame drawn over what stays; no PNG). Also times every figure on a
60 s 29.97 fps timeline, the sync figure of a 60 s talking clip (analysed first, which takes
a few seconds), and the whole-clip figures on a 10 min 60 fps one (36000 frames). Prints
median wall-clock and CPU ms, and the time of a plain Python loop so numbers from different
machines can be compared.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import talking_clip  # noqa: E402
from museviz.analysis import Options, analyze  # noqa: E402
from museviz.grid import SOURCE_ENCODER, n_mel_frames, n_tokens  # noqa: E402
from museviz.plots import FrameFigure, drift_figure, edges_figure, features_figure, figure_png, frame_figure, mapping_figure, sync_figure, timeline_figure  # noqa: E402
from museviz.rules import Timeline, schedule_all  # noqa: E402

NTSC = float(Fraction(30000, 1001))
CALIBRATION_LOOP = 5_000_000  # additions in the reference Python loop


def constant_rate(fps: float, seconds: float) -> Timeline:
    return Timeline.constant_rate(fps, seconds, seconds)


def median_ms(build, out: Path, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU ms of ``repeats`` build + save runs, after one warm-up;
    ``build`` returns a figure to save, or the pixels of one it drew itself.

    On a shared machine the CPU time is the steadier number: it leaves out waiting for a core.
    """
    def run(i: int) -> None:
        drawn = build(i)
        if not isinstance(drawn, np.ndarray):
            figure_png(drawn, out)

    run(0)
    wall, cpu = [], []
    for i in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run(i)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def calibration_ms() -> float:
    start = time.perf_counter()
    total = 0
    for i in range(CALIBRATION_LOOP):
        total += i
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of frame_figure (other figures: a third of that)")
    args = parser.parse_args()
    few = max(3, args.repeats // 3)

    minute = constant_rate(NTSC, 60)
    minute_s = schedule_all(minute)
    long = constant_rate(60.0, 600)
    long_s = schedule_all(long)
    rng = np.random.default_rng(0)
    mel = rng.normal(size=(80, n_mel_frames(minute.n_samples))).astype(np.float32)
    whisper = rng.normal(size=(n_tokens(minute.n_samples), 5, 384)).astype(np.float32)
    frames = rng.integers(0, minute.n_frames, size=args.repeats)

    print(f"python loop of {CALIBRATION_LOOP:,} additions: {calibration_ms():.0f} ms (this machine's speed)")
    kept = FrameFigure(minute, minute_s)
    kept_bare = FrameFigure(minute, minute_s, formulas=False)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figure.png"
        talk = analyze(talking_clip(Path(folder) / "talk.mp4", 60.0), Options())
        rows = [
            ("frame_figure, 60 s at 29.97 fps", lambda i: frame_figure(minute, minute_s, int(frames[i % len(frames)])), args.repeats),
            ("frame_figure(formulas=False)", lambda i: frame_figure(minute, minute_s, int(frames[i % len(frames)]), formulas=False), args.repeats),
            ("FrameFigure.rgb, kept (no PNG)", lambda i: kept.rgb(int(frames[i % len(frames)])), args.repeats),
            ("FrameFigure(formulas=False).rgb, kept", lambda i: kept_bare.rgb(int(frames[i % len(frames)])), args.repeats),
            ("timeline_figure, 8 frames", lambda i: timeline_figure(minute, minute_s, None, 900, 8), few),
            ("mapping_figure, 60 s at 29.97 fps", lambda i: mapping_figure(minute, minute_s), few),
            ("edges_figure, 60 s at 29.97 fps", lambda i: edges_figure(minute, minute_s), few),
            ("drift_figure, 60 s at 29.97 fps", lambda i: drift_figure(minute, minute_s), few),
            ("features_figure, 60 s", lambda i: features_figure(minute, mel, whisper, SOURCE_ENCODER, "tiny"), few),
            ("sync_figure, 60 s talking clip", lambda i: sync_figure(talk.sync, talk.timeline.frame_times_s), few),
            ("mapping_figure, 10 min at 60 fps", lambda i: mapping_figure(long, long_s), few),
            ("drift_figure, 10 min at 60 fps", lambda i: drift_figure(long, long_s), few),
            ("edges_figure, 10 min at 60 fps", lambda i: edges_figure(long, long_s), few),
        ]
        print(f"{'build + save PNG, median of n runs':<40} {'wall ms':>8} {'CPU ms':>8} {'n':>3}")
        for name, build, repeats in rows:
            wall, cpu = median_ms(build, out, repeats)
            print(f"{name:<40} {wall:8.0f} {cpu:8.0f} {repeats:3d}")


if __name__ == "__main__":
    main()
