"""PC-AVS: lws mel at 100 Hz, 20 columns centred on each target frame; its output is 2 frames early.

Source: Hangz-nju-cuhk/Talking-Face_PC-AVS @ 201d2b946caa93a2ce7c798dd080be65959d2592
(config/AudioConfig.py, data/voxtest_dataset.py ``frame2audio_indexs`` and ``load_spectrogram``,
inference.py ``inference_single_audio``, options/base_options.py).
"""

from __future__ import annotations

import numpy as np

from museviz.rules import ZERO, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, generated, windows

SOURCE = "Hangz-nju-cuhk/Talking-Face_PC-AVS @ 201d2b94"
PCAVS_FPS = 25
BINS_PER_FRAME = 4  # int(16000 / 160 / 25)
FRAMES_PER_CLIP = 5  # num_frames_per_clip: audio of frames f - 2 .. f + 2
FIRST_TARGET = 2


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_cols = t.n_features("lws-mel")
    return [
        f"M = {n_cols} lws columns; targets f = 2 .. {n_cols // BINS_PER_FRAME - 3}: {max(n_cols // BINS_PER_FRAME - 4, 0)} frames",
        f"output frame {k} is target f = {k + 2}: mel [4 (f - 2), +20) = [{4 * k}, {4 * k + 20}), the audio of frames {k}..{k + 4}",
        reads(s, k),
    ]


@rule(
    "pc-avs", "lws-mel", "inference", "targets f = 2 .. floor(M / 4) - 3 read lws mel [4 (f - 2), +20); output frame f - 2 shows target f", _explain,
    System("PC-AVS", "lws mel (fft 1280, hop 160), 80 bins", "25 fps", "floor(M / 4) - 4, M = ceil(N / 160) + 7: the first 2 and last 2 frames never made",
           "mel [4 (f - 2), +20): frames f - 2 .. f + 2, centred on target f", "none reachable; output frame f - 2 shows target f: 80 ms early",
           "batches of 16", SOURCE),
)
def pc_avs(t: Timeline) -> Schedule:
    """PC-AVS: ``M = ceil(N / 160) + 7`` lws columns (100 Hz, 4 per frame); targets
    ``f = 2 .. floor(M / 4) - 3`` read columns ``[4 (f - 2), 4 (f - 2) + 20)``, the audio of
    frames ``f - 2 .. f + 2``. Images are saved from index 0 for target 2 and encoded at
    25 fps with the audio from 0 s: output frame ``o`` shows target ``o + 2``, 2 frames
    (80 ms) before its audio, and the video is 4 frames short. No frame under 1921 samples.
    """
    n_cols = t.n_features("lws-mel")
    n_frames = n_cols // BINS_PER_FRAME - 2 * FIRST_TARGET
    if n_frames <= 0:
        return failed("pc-avs", "lws-mel", PCAVS_FPS, f"makes no frame: M = {n_cols} columns leave no target", BINS_PER_FRAME * FRAMES_PER_CLIP, t)
    return generated("pc-avs", "lws-mel", PCAVS_FPS, n_cols, windows(BINS_PER_FRAME * np.arange(n_frames), BINS_PER_FRAME * FRAMES_PER_CLIP), ZERO, t)
