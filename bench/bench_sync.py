"""How long ``estimate_sync`` takes on a 60 s 640x360 25 fps clip, against decoding its frames alone.

    python bench/bench_sync.py [--runs 3] [--seconds 60]

Decoding every frame is the part estimate_sync cannot skip, so it is the yardstick: both
are measured in the same process, interleaved, on a probed clip (``read_media`` is not
timed); medians of ``--runs``. The target is a few seconds for the minute of video.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, talking_clip, timed  # noqa: E402
from museviz.media import iter_frames, read_media  # noqa: E402
from museviz.sync import estimate_sync  # noqa: E402

TARGET_S = 5.0  # "a few seconds" for 60 s of 640x360 video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="museviz-bench-") as tmp:
        media = read_media(talking_clip(Path(tmp) / "clip.mp4", args.seconds))
        results = []

        def sync():
            results.append(estimate_sync(media))

        def decode():
            for _ in iter_frames(media):
                pass

        sync_s, decode_s = [], []
        for _ in range(args.runs):
            sync_s.append(timed(sync))
            decode_s.append(timed(decode))

    result = results[-1]
    ratio = median(sync_s) / median(decode_s)
    print(f"clip: {args.seconds:.0f} s, 25 fps, 640x360, {media.video.n_frames} frames; {args.runs} runs, medians")
    print(f"estimate_sync:         {median(sync_s):.3f} s  (runs: {', '.join(f'{t:.2f}' for t in sync_s)})")
    print(f"plain decode (frames): {median(decode_s):.3f} s  (runs: {', '.join(f'{t:.2f}' for t in decode_s)})")
    print(f"ratio estimate_sync / decode: {ratio:.2f}; target {TARGET_S:.0f} s: {'met' if median(sync_s) <= TARGET_S else 'NOT met'}")
    print(f"result: {result.words}; confidence {result.confidence:.2f}; roi {result.roi_source} ({result.face_fraction:.0%} of searches found a face)")


if __name__ == "__main__":
    main()
