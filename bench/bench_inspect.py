"""How fast the Inspect tab answers a slider move on a 60 s clip.

    python bench/bench_inspect.py [--moves 20]

Starts ``app.py`` on a free port, analyses a 60 s 640x360 25 fps clip through
gradio_client (no overlay), then moves to ``--moves`` frames spread over the clip and
times each round trip of the ``/inspect`` endpoint (the frame above its windows strip, and
the formulas) and of ``/inspect_plot`` (the full matplotlib one-frame plot, drawn when
the slider is let go). Prints medians; the target for ``/inspect`` is 300 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import app_server, median, talking_clip, timed  # noqa: E402
from museviz.webapp import ANALYZE_OUTPUTS  # noqa: E402

TARGET_S = 0.300
RULES = ["exact", "musetalk-v1", "musetalk-v1.5", "wav2lip"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20)
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory(prefix="museviz-bench-") as tmp:
        work = Path(tmp)
        clip = talking_clip(work / "clip.mp4", 60.0)
        with app_server(work) as (url, _):
            client = Client(url, verbose=False, download_files=str(work / "dl"))
            result = client.predict(handle_file(str(clip)), RULES, "tiny", None, 0.1, "", False, 0, api_name="/analyze")
            n_frames = dict(zip(ANALYZE_OUTPUTS, result))["report"]["video"]["n_frames"]  # the analysis id stays in this client's session
            frames = [round(i * (n_frames - 1) / (args.moves - 1)) for i in range(args.moves)]
            fast = [timed(lambda f=f: client.predict(f, RULES, api_name="/inspect")) for f in frames]
            full = [timed(lambda f=f: client.predict(f, RULES, api_name="/inspect_plot")) for f in frames[: max(args.moves // 4, 3)]]
    print(f"60 s 640x360 25 fps clip ({n_frames} frames), {args.moves} slider moves through gradio_client, medians")
    print(f"/inspect (frame + windows strip + formulas): {median(fast) * 1000:.0f} ms  (target <= {TARGET_S * 1000:.0f} ms: "
          f"{'met' if median(fast) <= TARGET_S else 'NOT met'}; slowest {max(fast) * 1000:.0f} ms)")
    print(f"/inspect_plot (full one-frame plot, on release): {median(full) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
