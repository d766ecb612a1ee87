"""How soon the app shows each part of an analysis of a 60 s upload.

    python bench/bench_app.py [--runs 5] [--seconds 60]

Starts ``app.py`` (``bench._common.app_server``), uploads a 60 s 640x360 25 fps talking
clip through gradio_client with each request of the Analyze button's endpoint (``--runs``
of them, with the overlay) and times each streamed update from the request: the summary (target: within 2 s), every plot, and the overlay
with the downloads (the end). The server's first analysis loads torch and the Whisper
encoder; it is run once before the timed runs and reported apart, as a fresh Space's
first visitor sees it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import app_server, median, talking_clip, whisper_checkpoint  # noqa: E402
from museviz.plots import DEFAULT_PLOT_RULES  # noqa: E402
from museviz.webapp import ANALYZE_OUTPUTS  # noqa: E402

TARGET_SUMMARY_S = 2.0
PLOTS = ("mapping", "drift", "edges", "features", "frame", "sync")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory(prefix="museviz-bench-app-") as tmp:
        work = Path(tmp)
        clip = talking_clip(work / "talk.mp4", args.seconds)
        checkpoint = whisper_checkpoint(work)
        with app_server(work, {"MUSEVIZ_WHISPER_CHECKPOINT": checkpoint} if checkpoint else {}) as (url, _server):
            client = Client(url, verbose=False)
            uploaded = handle_file(str(clip))
            first = timeline(client, uploaded)
            runs = [timeline(client, uploaded) for _ in range(args.runs)]
    print(f"clip: {args.seconds:g} s 640x360 25 fps; whisper {'random-weight tiny' if checkpoint else 'tiny'}; "
          f"{args.runs} runs after a first one, medians, seconds from the request (its upload included)")
    for part in ("summary", *PLOTS, "everything (overlay, downloads)"):
        times = [run[part] for run in runs]
        print(f"  {part:32s} {median(times):6.2f}  (runs: {', '.join(f'{t:.2f}' for t in times)}; first analysis {first[part]:.2f})")
    summary_s = median([run["summary"] for run in runs])
    print(f"summary within {summary_s:.2f} s (target <= {TARGET_SUMMARY_S} s: {'met' if summary_s <= TARGET_SUMMARY_S else 'NOT met'})")


def timeline(client, uploaded) -> dict[str, float]:
    """Seconds from the request to the first update that shows each part."""
    start = time.perf_counter()
    job = client.submit(uploaded, list(DEFAULT_PLOT_RULES), None, None, 0.1, "", True, 0, api_name="/analyze")
    seen: dict[str, float] = {}
    index = {name: ANALYZE_OUTPUTS.index(name) for name in ("summary", *PLOTS, "overlay")}
    shown = 0
    while not job.done() or shown < len(job.outputs()):
        outputs = job.outputs()
        now = time.perf_counter() - start
        for values in outputs[shown:]:
            for name, i in index.items():
                if values[i] and name not in seen:
                    seen[name] = now
        shown = len(outputs)
        time.sleep(0.02)
    job.result()
    seen["everything (overlay, downloads)"] = seen.pop("overlay")
    return seen


if __name__ == "__main__":
    main()
