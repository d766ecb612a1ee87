"""Diff2Lip: Wav2Lip's window one frame early (its training offset), at 25 fps.

Source: soumik-kanad/diff2lip @ 0655a45b7106d87fdcedab349ec7afa9812c8a06 (generate.py
``crop_audio_window``, ``load_all_indiv_mels``, ``load_video_frames``, ``generate`` l.31-57).
"""

from __future__ import annotations

import numpy as np

from museviz.rules import SKIP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, first_index, generated, round_half_up, windows

SOURCE = "soumik-kanad/diff2lip @ 0655a45b"
DIFF2LIP_FPS = 25  # frames are extracted with ffmpeg -vf fps=25
MEL_WINDOW = 16
SYNCNET_T = 5


def diff2lip_start(k: int) -> int:
    """List entry ``k`` has ``i = k + 1`` and starts at frame ``max(i - 5 // 2, 0)``: ``int(80 * max(k - 1, 0) / 25)``."""
    return int(80.0 * (max(k + 1 - SYNCNET_T // 2, 0) / float(DIFF2LIP_FPS)))


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    start = diff2lip_start(k)
    return [f"i = {k} + 1: start frame max(i - 2, 0) = {max(k - 1, 0)}", f"mel [int(80 * {max(k - 1, 0)} / 25), +16) = [{start}, {start + MEL_WINDOW})", reads(s, k)]


@rule(
    "diff2lip", "mel80", "inference", "video resampled to 25 fps; frame k reads mel [int(80 max(k - 1, 0) / 25), +16); stops at the first short window", _explain,
    System("Diff2Lip", "80 Hz mel, librosa 0.9.2 (zero padding)", "25 fps (ffmpeg -vf fps=25)", "min(video frames, #{k : int(3.2 max(k - 1, 0)) + 16 <= M})",
           "mel [int(3.2 max(k - 1, 0)), +16): one frame before the frame (Wav2Lip's training offset)", "short tail window: the loop stops",
           "groups of 32 x 5 frames; every frame's window copies the whole mel (memory grows with the square of the length)", SOURCE),
)
def diff2lip(t: Timeline) -> Schedule:
    """Diff2Lip: list entry ``k`` (``i = k + 1``) reads ``crop_audio_window(max(i - 2, 0))``
    = mel ``[int(80 * max(k - 1, 0) / 25), +16)``: Wav2Lip's training offset, one frame
    early, with frames 0 and 1 sharing start 0. The loop stops at the first window shorter
    than 16 (no pinned tail); then both lists are cut to ``min(video frames at 25 fps, mels)``.
    """
    n_mel = t.n_features("mel80")
    n_mels = first_index(lambda k: diff2lip_start(k) + MEL_WINDOW > n_mel, n_mel / 3.2)
    n_video = int(round_half_up(t.video_duration_s * DIFF2LIP_FPS))
    n = min(n_video, n_mels)
    if n == 0:
        return failed("diff2lip", "mel80", DIFF2LIP_FPS, f"makes no frame: {n_mels} mel windows fit, {n_video} video frames", MEL_WINDOW, t)
    starts = [diff2lip_start(k) for k in range(n)]
    return generated("diff2lip", "mel80", DIFF2LIP_FPS, n_mel, windows(np.array(starts), MEL_WINDOW), SKIP, t)
