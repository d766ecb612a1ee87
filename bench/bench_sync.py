"""What the sync estimate adds to the analysis of a 60 s 640x360 25 fps clip.

    python bench/bench_sync.py [--runs 3] [--seconds 60]

The target: ``estimate_sync`` takes less time than the analysis itself (``analyze``
without the sync estimate: probe, mel80, whisper50 through a tiny-shaped encoder, rules,
checks, report.json and features.npz). Also printed, as context: decoding every frame's
Y plane, the part the estimate cannot skip. Everything is measured in the same process,
interleaved, with the model loaded once; medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, talking_clip, timed, whisper_checkpoint  # noqa: E402
from museviz.analysis import Options, analyze  # noqa: E402
from museviz.media import iter_luma, read_media  # noqa: E402
from museviz.report import write_report  # noqa: E402
from museviz.sync import estimate_sync  # noqa: E402

TARGET_RATIO = 1.0  # estimate_sync / analysis without it: less than this


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="museviz-bench-") as tmp:
        work = Path(tmp)
        clip = talking_clip(work / "clip.mp4", args.seconds)
        engine = Options(whisper_checkpoint=whisper_checkpoint(work), sync=False)
        media = read_media(clip)
        results = []

        def analysis(options=engine):
            write_report(analyze(clip, options), work / "out")

        def sync():
            results.append(estimate_sync(media))

        def decode():
            for _ in iter_luma(media):
                pass

        analysis()
        analysis_s, sync_s, with_sync_s, decode_s = [], [], [], []
        for _ in range(args.runs):
            analysis_s.append(timed(analysis))
            sync_s.append(timed(sync))
            with_sync_s.append(timed(lambda: analysis(dataclasses.replace(engine, sync=True))))
            decode_s.append(timed(decode))

    result = results[-1]
    ratio = median(sync_s) / median(analysis_s)
    runs = lambda ts: ", ".join(f"{t:.2f}" for t in ts)
    print(f"clip: {args.seconds:.0f} s, 25 fps, 640x360, {media.video.n_frames} frames; {args.runs} runs, medians")
    print(f"analysis without the sync estimate: {median(analysis_s):.3f} s  (runs: {runs(analysis_s)})")
    print(f"estimate_sync:                      {median(sync_s):.3f} s  (runs: {runs(sync_s)})")
    print(f"analysis with the sync estimate:    {median(with_sync_s):.3f} s  (runs: {runs(with_sync_s)}): "
          f"adds {median(with_sync_s) - median(analysis_s):.3f} s")
    print(f"ratio estimate_sync / analysis: {ratio:.2f}  (target < {TARGET_RATIO:g}: {'met' if ratio < TARGET_RATIO else 'NOT met'})")
    print(f"context: decoding every frame's Y plane alone takes {median(decode_s):.3f} s")
    print(f"result: {result.words}; confidence {result.confidence:.2f}; roi {result.roi_source} (a face in {result.face_fraction:.0%} of the frames)")


if __name__ == "__main__":
    main()
