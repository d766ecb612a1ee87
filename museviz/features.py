"""Both feature streams of a clip's audio, as one call a thread or a process can run, and
what it returns (torch-free: the process that receives features does not import torch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Whisper50:
    """whisper50 features ``(W, layers, dim)`` float32 and where they came from.

    ``source`` is ``"whisper-encoder"`` or, without weights, ``"logmel-pool"``: the log-mel
    averaged in pairs, shape ``(W, 1, n_mels)``, on the same 50 Hz grid. ``warning`` says
    so in a sentence when it applies.
    """

    features: np.ndarray
    source: str
    model: str | None
    warning: str | None = None


Features = tuple[np.ndarray, Whisper50]  # mel80 (80, M) float32 and whisper50


def extract_features(audio_16k: np.ndarray, whisper_checkpoint: str | None, whisper_model: str, torch_threads: int | None = None) -> Features:
    """mel80 and whisper50 of 16 kHz mono audio (loads torch and the Whisper encoder on
    first use in this process). ``torch_threads`` sets torch's threads in this process
    (None: torch's default, one per core)."""
    from museviz.mel80 import mel80
    from museviz.whisper50 import load_encoder, whisper50

    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)

    encoder = load_encoder(whisper_checkpoint, whisper_model)
    return mel80(audio_16k), whisper50(audio_16k, encoder)
