"""Run a Python program in this process and write its peak resident memory to a file.

    python bench/_peak.py PEAK_FILE -m module args...   or   python bench/_peak.py PEAK_FILE script.py args...

The kernel's account of a child's peak (``wait4``'s ``ru_maxrss``) includes the memory of
the process that started it, so a benchmark that has loaded torch would see every child
as big as itself. The high-water mark of this process's own memory (``VmHWM``), read as
it exits, is the program's alone.
"""

from __future__ import annotations

import atexit
import runpy
import sys


def _write_peak(path: str) -> None:
    with open("/proc/self/status") as status:
        peak_kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(peak_kb)


if __name__ == "__main__":
    peak_file, *program = sys.argv[1:]
    atexit.register(_write_peak, peak_file)
    if program[0] == "-m":
        sys.argv = [program[1], *program[2:]]
        runpy.run_module(program[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = program
        sys.path[0] = str(__import__("pathlib").Path(program[0]).resolve().parent)
        runpy.run_path(program[0], run_name="__main__")
