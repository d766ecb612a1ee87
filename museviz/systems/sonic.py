"""Sonic: whisper50 tokens, one generated frame per 2 video frames (12.5 fps), doubled by RIFE.

Source: jixiaozhong/Sonic @ 51a74aec29e100d1505b97da7c03e4db6411dcb9 (sonic.py ``test``
l.51-68, src/dataset/test_preprocess.py ``get_audio_feature``, config/inference/sonic.yaml,
src/pipelines/pipeline_sonic.py l.542-611).
"""

from __future__ import annotations

import numpy as np

from museviz.rules import ZERO, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, generated, windows

SOURCE = "jixiaozhong/Sonic @ 51a74aec"
SAMPLES_PER_FRAME = 640  # audio_len = N // 640: 25 fps frames of audio
MAX_FRAMES = 10_000  # frame_num
STEP = 2  # step: one generated frame per 2 video frames
GENERATED_FPS = 25 / STEP  # 12.5
TOKENS_PER_STEP = 2 * STEP  # 4 whisper50 tokens between generated frames
LEFT = 4  # tokens [4i - 4, 4i + 6)
WIDTH = 10


def sonic_frames(n_samples: int) -> tuple[int, int]:
    """(``audio_len``, generated frames): ``min(N // 640, 10000)`` and ``audio_len // 2``."""
    audio_len = min(n_samples // SAMPLES_PER_FRAME, MAX_FRAMES)
    return audio_len, audio_len // STEP


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    audio_len, n_gen = sonic_frames(t.n_samples)
    return [
        f"audio_len = {t.n_samples} // 640 = {audio_len}; {n_gen} frames generated at 12.5 fps, RIFE makes {max(2 * n_gen - 1, 0)} at 25 fps",
        f"generated frame {k} = 25 fps frame {2 * k}: tokens [4 * {k} - 4, 4 * {k} + 6) = [{4 * k - 4}, {4 * k + 6}), zeros outside [0, {2 * audio_len})",
        reads(s, k),
    ]


@rule(
    "sonic", "whisper50", "inference", "audio_len = N // 640; audio_len // 2 frames at 12.5 fps; frame i reads tokens [4i - 4, 4i + 6); RIFE doubles to 25 fps", _explain,
    System("Sonic", "HF Whisper tiny, 5 states (last after LayerNorm), per 30 s chunk", "generates 12.5 fps; RIFE doubles it to 25",
           "audio_len = min(N // 640, 10000); audio_len // 2 generated, 2 (audio_len // 2) - 1 written", "tokens [4i - 4, 4i + 6): 200 ms around 25 fps frame 2i",
           "zeros (features cut to 2 audio_len tokens)", "25-frame windows, circular, shifted by 7 each step", SOURCE),
)
def sonic(t: Timeline) -> Schedule:
    """Sonic: ``audio_len = min(N // 640, 10000)``; with ``step = 2`` it generates
    ``audio_len // 2`` frames at 12.5 fps, frame ``i`` reading tokens ``[4i - 4, 4i + 6)``
    (the 200 ms around 25 fps frame ``2i``; the features are cut to ``2 audio_len`` tokens
    and zero-padded 4 before, 6 after). RIFE then puts one frame between each pair: half of
    the 25 fps output never had an audio window. (The motion bucket reads the last state
    over ``[4i - 24, 4i + 26)``.)
    """
    audio_len, n_gen = sonic_frames(t.n_samples)
    if n_gen == 0:
        return failed("sonic", "whisper50", GENERATED_FPS, f"makes no frame: audio_len = {audio_len}, fewer than 2", WIDTH, t)
    raw = windows(TOKENS_PER_STEP * np.arange(n_gen) - LEFT, WIDTH)
    return generated("sonic", "whisper50", GENERATED_FPS, 2 * audio_len, raw, ZERO, t)
