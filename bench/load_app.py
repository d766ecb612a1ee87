"""Load test: many users analysing at once through gradio_client, against a running app.

    python bench/load_app.py [--burst 8] [--waves 5] [--wave-size 8]

Starts ``app.py`` on a free port (its default queue and concurrency limit), sends
``--burst`` analyses of the 6 s example at once, then ``--waves`` waves of ``--wave-size``
(40 more by default), each with the overlay, and checks every report. Prints how many
completed, failed or came back wrong, the latency per analysis, and the app's peak
resident memory (VmHWM of the server process; target under 3 GB).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import app_server, median  # noqa: E402
from museviz.plots import DEFAULT_PLOT_RULES  # noqa: E402
from museviz.webapp import ANALYZE_OUTPUTS  # noqa: E402

CLIP = ROOT / "assets" / "sync_25fps.mp4"
TARGET_MB = 3 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=8)
    parser.add_argument("--waves", type=int, default=5)
    parser.add_argument("--wave-size", type=int, default=8)
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory(prefix="museviz-load-") as tmp:
        work = Path(tmp)
        with app_server(work) as (url, server):
            peak = PeakMemory(server.pid)
            peak.start()
            lock = threading.Lock()
            results: list[tuple[str, float]] = []

            def one(i: int) -> None:
                started = time.perf_counter()
                try:
                    client = Client(url, verbose=False, download_files=str(work / "dl" / str(i)))
                    out = client.predict(handle_file(str(CLIP)), list(DEFAULT_PLOT_RULES), "tiny", None, 0.1, "", True, 0, api_name="/analyze")
                    named = dict(zip(ANALYZE_OUTPUTS, out))
                    report = named["report"]
                    ok = report["video"]["fps_fraction"] == "25/1" and report["video"]["n_frames"] == 150 and named["overlay"]
                    outcome = "ok" if ok else "wrong"
                except Exception as exc:  # the load test counts failures instead of stopping
                    outcome = f"error: {type(exc).__name__}: {exc}"
                with lock:
                    results.append((outcome, time.perf_counter() - started))

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=max(args.burst, args.wave_size)) as pool:
                list(pool.map(one, range(args.burst)))
                for wave in range(args.waves):
                    first = args.burst + wave * args.wave_size
                    list(pool.map(one, range(first, first + args.wave_size)))
            total_s = time.perf_counter() - start
            peak.stop()
        left = list((work / "museviz-work").iterdir()) if (work / "museviz-work").exists() else []

    outcomes = [o for o, _ in results]
    latencies = [t for _, t in results]
    print(f"{len(results)} analyses of the 6 s example ({args.burst} at once, then {args.waves} waves of {args.wave_size}), overlay on")
    print(f"ok {outcomes.count('ok')}, wrong {outcomes.count('wrong')}, errors {sum(o.startswith('error') for o in outcomes)}")
    for o in sorted({o for o in outcomes if o.startswith("error")}):
        print(f"  {o}")
    print(f"wall time {total_s:.1f} s; latency per analysis: median {median(latencies):.1f} s, max {max(latencies):.1f} s")
    print(f"app peak resident memory: {peak.peak_mb:.0f} MB (target < {TARGET_MB} MB: {'met' if peak.peak_mb < TARGET_MB else 'NOT met'})")
    print(f"per-request folders left: {len(left)}")


class PeakMemory:
    """The server's peak resident memory: VmHWM, read until it stops."""

    def __init__(self, pid: int):
        self.pid, self.peak_mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._read()
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            self._read()

    def _read(self) -> None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
        except OSError:
            pass


if __name__ == "__main__":
    main()
