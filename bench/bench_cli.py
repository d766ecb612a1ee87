"""A whole ``museviz analyze`` process, as a user runs it, against the floor of the same work.

    python bench/bench_cli.py [--runs 5] [--seconds 60] [--long-minutes 10]

(1) ``museviz analyze`` of a 60 s 640x360 25 fps talking clip with everything (features,
    sync, every plot, the overlay) against the floor: a process that loads the Whisper
    encoder, runs it over the audio and re-encodes the clip padded to the overlay's size
    (``bench/_floor.py``; target: at most 2.0x). Both are whole processes (interpreter,
    imports, model loading), started one after the other, run after run.
(2) ``museviz analyze --no-overlay --no-plots`` of the same clip, as a whole process
    (target: 2.5 s wall), with a process that only starts Python beside it.
(3) Peak memory of each process and of the full analysis of a ``--long-minutes`` 1280x720
    clip (target: under 1 GB; 0 skips it), three figures each:
    - peak: the process's own high-water mark of resident memory (``VmHWM``, exact);
    - PSS: the proportional set size of the process and its descendants (the features and
      the drawing processes) summed, sampled every 0.2 s: each page shared by n processes
      (the pages a forked child has not written to yet, the libraries) counts 1/n in each,
      so the sum is the memory the analysis takes from the machine (a spike shorter than
      0.2 s can be missed);
    - RSS: the resident memory of the same processes summed at the same moments, which
      counts every shared page once per process holding it (an overestimate).

The Whisper model is tiny-sized (random weights, or openai-whisper's cache when it has
tiny). Times are medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, median, talking_clip, whisper_checkpoint  # noqa: E402
from bench.bench_overlay import write_input  # noqa: E402
from museviz.overlay import VIDEO_CODEC, VIDEO_OPTIONS, VIDEO_PIX_FMT  # noqa: E402

TARGET_VS_FLOOR = 2.0
TARGET_LEAN_S = 2.5
TARGET_PEAK_MB = 1024
TREE_SAMPLE_S = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--long-minutes", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="museviz-bench-cli-") as tmp:
        work = Path(tmp)
        clip = talking_clip(work / "talk.mp4", args.seconds)
        checkpoint = whisper_checkpoint(work)
        analyze = [sys.executable, "-m", "museviz.cli", "analyze", str(clip), "--out", str(work / "out")]
        analyze += ["--whisper-checkpoint", checkpoint] if checkpoint else []
        run_process(analyze)  # once first: files in the page cache, the overlay's size known
        overlay_size = _frame_size(work / "out" / "overlay.mp4")
        floor = [sys.executable, str(ROOT / "bench" / "_floor.py"), str(clip), checkpoint or "tiny", str(work / "floor.mp4"),
                 *map(str, overlay_size), VIDEO_CODEC, VIDEO_PIX_FMT, json.dumps(VIDEO_OPTIONS)]
        commands = {
            "floor: encoder passes + padded re-encode": floor,
            "museviz analyze (everything)": analyze,
            "museviz analyze --no-overlay --no-plots": [*analyze, "--no-overlay", "--no-plots"],
            "python -m this (the interpreter alone)": [sys.executable, "-m", "this"],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        memory: dict[str, list[Memory]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                wall, used = run_process(command)
                walls[name].append(wall)
                memory[name].append(used)
        full, lean, base = (median(walls[name]) for name in list(commands)[1:3] + list(commands)[:1])
        print(f"clip: {args.seconds:g} s 640x360 25 fps; overlay {overlay_size[0]}x{overlay_size[1]}; {args.runs} runs, medians; "
              f"whisper {'random-weight tiny' if checkpoint else 'tiny'}; {os.cpu_count()} cores")
        for name in commands:
            runs = ", ".join(f"{w:.2f}" for w in walls[name])
            print(f"  {name:44s} {median(walls[name]):6.2f} s  {Memory.worst(memory[name])}  (runs: {runs})")
        print(f"(1) full analyze / floor: {full / base:.2f}  (target <= {TARGET_VS_FLOOR}: {'met' if full / base <= TARGET_VS_FLOOR else 'NOT met'})")
        print(f"(2) --no-overlay --no-plots: {lean:.2f} s wall  (target <= {TARGET_LEAN_S} s: {'met' if lean <= TARGET_LEAN_S else 'NOT met'})")
        if args.long_minutes > 0:
            long_clip = write_input(work / "long.mp4", args.long_minutes * 60, (1280, 720))
            command = [sys.executable, "-m", "museviz.cli", "analyze", str(long_clip), "--out", str(work / "long-out")]
            wall, used = run_process(command + (["--whisper-checkpoint", checkpoint] if checkpoint else []))
            verdicts = ", ".join(f"{name} {'met' if mb < TARGET_PEAK_MB else 'NOT met'}" for name, mb in (("peak", used.peak_mb), ("PSS", used.pss_mb)))
            print(f"(3) full analyze of {args.long_minutes:g} min 1280x720: {used}; {wall:.1f} s wall  (target < {TARGET_PEAK_MB} MB: {verdicts})")


@dataclass(frozen=True)
class Memory:
    """The memory of one run, in MB: the process's own high-water mark, and the largest
    sums over it and its descendants of their PSS and of their RSS (see the module docstring)."""

    peak_mb: float
    pss_mb: float
    rss_mb: float

    @classmethod
    def worst(cls, runs: list[Memory]) -> Memory:
        return cls(*(max(getattr(m, f) for m in runs) for f in ("peak_mb", "pss_mb", "rss_mb")))

    def __str__(self) -> str:
        return f"peak {self.peak_mb:5.0f} MB, with its children PSS {self.pss_mb:5.0f} MB, RSS {self.rss_mb:5.0f} MB"


def run_process(command: list[str]) -> tuple[float, Memory]:
    """(wall seconds, its memory) of the Python program ``command`` (``python -m ...`` or
    ``python script ...``) run to its end under ``bench/_peak.py``; raises if it fails.
    The process and its children (the features and the drawing processes) are sampled
    every ``TREE_SAMPLE_S``."""
    with tempfile.NamedTemporaryFile("r", prefix="museviz-peak-") as peak:
        start = time.perf_counter()
        child = subprocess.Popen([command[0], str(ROOT / "bench" / "_peak.py"), peak.name, *command[1:]], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        tree_kb = [0, 0]  # the largest sums of PSS and of RSS

        def sample() -> None:
            while child.poll() is None:
                tree_kb[:] = map(max, tree_kb, _tree_kb(child.pid))
                time.sleep(TREE_SAMPLE_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        child.wait()
        wall = time.perf_counter() - start
        sampler.join()
        if child.returncode:
            raise SystemExit(f"{' '.join(command)} failed: {child.stderr.read()}")
        child.stderr.close()
        own_mb = int(peak.read()) / 1024
        pss_mb, rss_mb = (kb / 1024 for kb in tree_kb)
        return wall, Memory(own_mb, pss_mb, max(rss_mb, own_mb))


def _tree_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in kB of ``pid`` and all its descendants now, summed (0 for those gone
    meanwhile). Both come from one read of ``smaps_rollup`` per process, of the lines
    after its header, ``Rss:`` and ``Pss:`` (the kernel writes them first).
    Children are listed under the thread that started them: museviz starts its processes
    from its main thread, so only that thread's list is read (reading every thread's cost
    this benchmark a quarter of a core)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            _range, rss, pss = rollup.readline(), rollup.readline(), rollup.readline()
        with open(f"/proc/{pid}/task/{pid}/children") as listed:
            children = [int(c) for c in listed.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    if not pss.startswith("Pss:"):  # a process exiting has no mappings left
        return 0, 0
    below = [_tree_kb(c) for c in children]
    return _kb(pss) + sum(b[0] for b in below), _kb(rss) + sum(b[1] for b in below)


def _kb(line: str) -> int:
    """``Pss:   1234 kB`` -> 1234."""
    return int(line.split()[1])


def _frame_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height


if __name__ == "__main__":
    main()
