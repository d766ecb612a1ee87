"""DINet: DeepSpeech rows at 25 Hz, 5 rows centred on each frame; the last frame is never made.

Source: MRzzm/DINet @ 3b57fb0a2482213327890fbb76baeafdaa412597 (inference.py:48-49, 84 and
125-144, utils/deep_speech.py ``compute_audio_feature``, dataset/dataset_DINet_clip.py).
"""

from __future__ import annotations

import numpy as np

from museviz.rules import CLAMP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, make_schedule, own_frames, windows

SOURCE = "MRzzm/DINet @ 3b57fb0a"
DINET_FPS = 25
REACH = 2  # rows [j - 2, j + 3)
WIDTH = 2 * REACH + 1
MIN_ROWS = 8  # random.sample(range(5, R + 2), 5) needs 5 values


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_rows = t.n_features("deepspeech25")
    return [
        f"R = ceil(ceil(n_mfcc / 2) / 2) = {n_rows} DeepSpeech rows at 25 Hz; range(5, R + 4) writes frames 0..{n_rows - 2}",
        f"rows [{k} - 2, {k} + 3) edge-padded (np.pad mode='edge')",
        reads(s, k),
    ]


@rule(
    "dinet", "deepspeech25", "inference", "R DeepSpeech rows at 25 Hz; frame j reads rows [j - 2, j + 3), edge-padded; R - 1 frames", _explain,
    System("DINet", "DeepSpeech 0.1 logits (29), MFCC 100 Hz -> 50 Hz -> logits -> every other row: 25 Hz", "25 fps assumed (warns otherwise)",
           "R - 1 of R = ceil(ceil(n_mfcc / 2) / 2): the last row never gets a frame", "rows [j - 2, j + 3): centred, 5 rows",
           "edge-replicated 2 rows each side; raises under 4720 samples", "frame by frame; the template video ping-pongs", SOURCE),
)
def dinet(t: Timeline) -> Schedule:
    """DINet: ``R`` DeepSpeech rows at 25 Hz (``ceil(ceil(n_mfcc / 2) / 2)``, decimated,
    not interpolated), padded by repeating 2 edge rows at each end; output frame
    ``j = clip_end_index - 5`` reads rows ``[j - 2, j + 3)``. ``range(5, R + 4)`` runs
    ``R - 1`` times, so the last row never gets a frame. Frames are the template video's,
    written at 25 fps whatever its rate. ``random.sample(range(5, R + 2), 5)`` picks the
    reference frames first and raises for ``R < 8`` (audio of 0.3 s or less): no output.
    """
    n_rows = t.n_features("deepspeech25")
    if n_rows < MIN_ROWS:
        return failed("dinet", "deepspeech25", DINET_FPS, f"raises at frame 0: R = {n_rows} rows, and random.sample(range(5, R + 2), 5) needs R >= 8",
                      WIDTH, t, exit_frame=0)
    n_frames = n_rows - 1
    raw = windows(np.arange(n_frames) - REACH, WIDTH)
    return make_schedule("dinet", "deepspeech25", DINET_FPS, n_rows, raw, CLAMP, own_frames(t, n_frames), t, picture_times_s=np.arange(n_frames) / DINET_FPS)
