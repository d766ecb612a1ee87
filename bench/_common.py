"""Shared by the benchmarks: input clips and a Whisper checkpoint, made on the spot."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

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
