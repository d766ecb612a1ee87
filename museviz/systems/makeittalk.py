"""MakeItTalk: AutoVC content rows at 62.5 Hz, an 18-row look-ahead window, video at 62.5 fps.

Source: yzhou359/MakeItTalk @ fad2fe466dc1ac3b6141b930c99b8f1298e3de00 (src/autovc/
AutoVC_mel_Convertor_retrain_version.py, src/dataset/audio2landmark/audio2landmark_dataset.py
``my_collate_in_segments``, src/approaches/train_audio2landmark.py, main_end2end.py).
"""

from __future__ import annotations

import numpy as np

from museviz.grid import GRIDS
from museviz.rules import SKIP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, generated, windows

SOURCE = "yzhou359/MakeItTalk @ fad2fe46"
WINDOW_ROWS = 18  # au_data[i : i + 18]
SEGMENT_WINDOWS = 512
MIN_SEGMENT_WINDOWS = 10  # a segment with fewer windows is skipped
MAKEITTALK_FPS = GRIDS["autovc"].rate_hz  # 62.5: one landmark frame per AutoVC row


def makeittalk_frames(n_rows: int) -> int:
    """Windows ``range(0, T - 18)`` in segments of 512, a last segment of fewer than 10 skipped."""
    n_windows = max(n_rows - WINDOW_ROWS, 0)
    tail = n_windows % SEGMENT_WINDOWS
    return n_windows - tail if tail < MIN_SEGMENT_WINDOWS else n_windows


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_rows = t.n_features("autovc")
    return [
        f"T = {n_rows} AutoVC rows at 62.5 Hz; {max(n_rows - WINDOW_ROWS, 0)} windows, {makeittalk_frames(n_rows)} kept (segments of 512, fewer than 10 skipped)",
        f"landmark frame {k} (62.5 fps) <- rows [{k}, {k + WINDOW_ROWS}): the LSTM's last step, 272 ms of look-ahead",
        reads(s, k),
    ]


@rule(
    "makeittalk", "autovc", "inference", "T = N // 256 + 1 rows at 62.5 Hz; frame k at 62.5 fps reads rows [k, k + 18); T - 18 frames less a short last segment", _explain,
    System("MakeItTalk", "AutoVC content (80-d) from a 62.5 Hz mel (hop 256)", "62.5 fps (landmarks and video)",
           "T - 18, T = floor(N' / 256) + 1; a last segment of fewer than 10 windows dropped", "rows [k, k + 18): 272 ms of look-ahead, none behind",
           "no padding: the last 18 rows make no frame; raises under 6912 samples", "AutoVC in 4096-row chunks; windows in segments of 512", SOURCE),
)
def makeittalk(t: Timeline) -> Schedule:
    """MakeItTalk: ``T = floor(N' / 256) + 1`` AutoVC rows at 62.5 Hz (``N' = N + 1`` when
    ``N % 256 == 0``); landmark frame ``k`` is the LSTM's last step over rows ``[k, k + 18)``
    (17 rows, 272 ms, of look-ahead), ``range(0, T - 18)``. The windows go in segments of
    512 and a segment with fewer than 10 is skipped, so up to 9 tail frames vanish; with
    ``T <= 18`` (empty ``torch.stack``) or only one short segment (empty
    ``np.concatenate``) it raises. Video at 62.5 fps.
    """
    n_rows = t.n_features("autovc")
    n_windows = max(n_rows - WINDOW_ROWS, 0)
    n_frames = makeittalk_frames(n_rows)
    if n_frames == 0:
        why = "no 18-row window (torch.stack of nothing)" if n_windows == 0 else f"its only segment has {n_windows} windows, fewer than 10 (np.concatenate of nothing)"
        return failed("makeittalk", "autovc", MAKEITTALK_FPS, f"raises at frame 0: {why}", WINDOW_ROWS, t, exit_frame=0)
    return generated("makeittalk", "autovc", MAKEITTALK_FPS, n_rows, windows(np.arange(n_frames), WINDOW_ROWS), SKIP, t)
