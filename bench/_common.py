"""Shared by the benchmarks: input clips and a Whisper checkpoint, made on the spot."""

from __future__ import annotations

import dataclasses
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
APP_START_TIMEOUT_S = 120.0
SPEECH_TEXT = (
    "Every frame of a talking head video is paired with a short window of audio features. "
    "When the rule that picks the window is off, the lips drift away from the sound."
)


def speech_for(duration_s: float) -> np.ndarray:
    """Real speech (espeak-ng) repeated to ``duration_s`` at 16 kHz."""
    from museviz.synth import speech_16k

    one = speech_16k(SPEECH_TEXT)
    return np.tile(one, int(np.ceil(duration_s * 16000 / len(one))))[: round(duration_s * 16000)]


def talking_clip(path: Path, duration_s: float, size=(640, 360), fps=Fraction(25), audio_s: float | None = None) -> Path:
    """A talking-face clip with real speech (``audio_s`` of it, default the video's length)."""
    from museviz.synth import ClipSpec, write_clip

    if not path.exists():
        spec = ClipSpec(fps=fps, duration_s=duration_s, size=size, audio=speech_for(duration_s), audio_duration_s=audio_s)
        write_clip(path, spec)
    return path


def whisper_checkpoint(folder: Path) -> str | None:
    """None when openai-whisper's cache has tiny; else a random-weight tiny checkpoint
    (the same architecture, so the same compute)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    from museviz.whisper50 import _in_cache

    if _in_cache("tiny"):
        return None
    path = folder / "tiny-random.pt"
    if not path.exists():
        dims = ModelDimensions(80, 1500, 384, 6, 4, 51865, 448, 384, 6, 4)
        torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": Whisper(dims).state_dict()}, path)
    return str(path)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_table(rows: list[tuple]) -> None:
    """Rows of (figure, clip, measured, value, target, met: bool or None for context) in
    aligned columns, each with its verdict."""
    header = ("figure", "clip", "measured", "value", "target", "")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(5)]
    for row in [header] + rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
        verdict = "" if row is header or row[5] is None else ("met" if row[5] else "NOT MET")
        print("  ".join(cells + [verdict]))


@contextmanager
def app_server(work: Path, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python app.py`` on a free port, its temp folders and log under ``work`` (and
    ``extra_env`` in its environment); yields (url, process) once a gradio_client can
    connect, and stops it afterwards."""
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_TEMP_DIR": str(work / "gradio"), "TMPDIR": str(work), **(extra_env or {})}
    url = f"http://127.0.0.1:{port}/"
    with open(work / "app.log", "w") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + APP_START_TIMEOUT_S
            while True:
                try:
                    Client(url, verbose=False)
                    break
                except Exception:
                    if time.time() > deadline or server.poll() is not None:
                        raise RuntimeError(f"app.py did not start: {(work / 'app.log').read_text()[-2000:]}") from None
                    time.sleep(1.0)
            yield url, server
        finally:
            server.terminate()
            server.wait(timeout=60)
