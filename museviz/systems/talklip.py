"""TalkLip: 4 stacked filterbank frames per 25 fps row, encoder row i for frame i; the video is
stretched to the audio.

Source: Sxjdwang/TalkLip @ 7ed53ee2f0ffb3636de49e0f24719eef1c757252 (inf_demo.py ``fre_audio``,
``audio_visual_pad``, ``synt_demo``; models/talklip.py:115).
"""

from __future__ import annotations

import math

import numpy as np

from museviz.rules import ZERO, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, make_schedule

SOURCE = "Sxjdwang/TalkLip @ 7ed53ee2"
TALKLIP_FPS = 25


def talklip_repeat(n_rows: int, n_video: int) -> int:
    """``audio_visual_pad``: each video frame is repeated ``ceil(A / V)`` times when the audio is longer, else once."""
    return math.ceil(n_rows / n_video) if n_rows > n_video else 1


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_rows = t.n_features("talklip-fbank")
    repeat = talklip_repeat(n_rows, max(t.n_frames, 1))
    return [
        f"A = ceil(n_fbank / 4) = {n_rows} rows; the video's {t.n_frames} frames each repeated {repeat} x, cut to A, written at 25 fps",
        f"frame {k} shows video frame {k} // {repeat} = {k // repeat} and reads encoder row {k} (the whole utterance as context)",
        reads(s, k),
    ]


@rule(
    "talklip", "talklip-fbank", "inference", "A = ceil(n_fbank / 4) rows at 25 Hz; frame i reads encoder row i; video frames repeated ceil(A / V) x and cut to A", _explain,
    System("TalkLip", "log filterbank (26) stacked x 4 -> 104-d -> AV-HuBERT encoder", "25 fps (written so whatever the input)",
           "A = ceil(n_fbank / 4); the video is repeated ceil(A / V) x and cut to A (slow motion)", "encoder row i (whole-utterance context)",
           "zero rows to a multiple of 4", "the whole clip in one pass", SOURCE),
)
def talklip(t: Timeline) -> Schedule:
    """TalkLip's demo: ``A = ceil(n_fbank / 4)`` rows (26 log filterbanks every 10 ms,
    stacked by 4 with zero padding: 25 rows a second); output frame ``i`` is encoder row
    ``i``, which sees the whole utterance. The video is forced to ``A`` frames: when the
    audio is longer, ``repeat_interleave`` repeats each of the ``V`` frames ``ceil(A / V)``
    times (slow motion), then it is cut to ``A``; written at 25 fps. (The demo reads the
    wav at its own rate; museviz assumes 16 kHz.)
    """
    n_rows = t.n_features("talklip-fbank")
    if t.n_frames == 0:
        return failed("talklip", "talklip-fbank", TALKLIP_FPS, "no video frames to repeat", 1, t)
    repeat = talklip_repeat(n_rows, t.n_frames)
    frame = np.arange(n_rows)
    return make_schedule("talklip", "talklip-fbank", TALKLIP_FPS, n_rows, frame[:, None], ZERO, frame // repeat, t, picture_times_s=frame / TALKLIP_FPS)
