"""Audit throughput: clips per second with 1 and 2 worker processes on 20 six-second clips.

    python bench/bench_audit.py [--clips 20] [--runs 3]

The clips are talking-face clips with real speech (320x240, 25 fps, a mix of in-sync,
late audio and 29.97 fps). Each run audits the folder from scratch into a new CSV; the
figures are medians of ``--runs``, with the speed-up of 2 workers over 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, speech_for, timed  # noqa: E402
from museviz.audit import run_audit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # Imported here: worker processes re-import this script, and scipy (which synth loads)
    # would add seconds to each worker's start.
    from museviz.synth import ClipSpec, write_clip

    speech = speech_for(6.0)
    with tempfile.TemporaryDirectory(prefix="museviz-bench-") as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        for i in range(args.clips):
            fps = Fraction(30000, 1001) if i % 4 == 3 else Fraction(25)
            write_clip(folder / f"clip{i:02d}.mp4", ClipSpec(fps=fps, audio=speech, audio_delay_s=0.04 * (i % 3), size=(320, 240)))
        seconds = {}
        for workers in (1, 2):
            seconds[workers] = [timed(lambda w=workers, r=r: run_audit(folder, Path(tmp) / f"w{w}-{r}.csv", workers=w)) for r in range(args.runs)]
    rates = {w: args.clips / median(s) for w, s in seconds.items()}
    print(f"{args.clips} clips of 6 s, 320x240; medians of {args.runs} runs (process start-up included)")
    for w in (1, 2):
        print(f"{w} worker{'s' if w > 1 else ' '}: {median(seconds[w]):6.2f} s  {rates[w]:.2f} clips/s  (runs: {', '.join(f'{t:.1f}' for t in seconds[w])})")
    print(f"speed-up with 2 workers: {rates[2] / rates[1]:.2f} x")


if __name__ == "__main__":
    main()
