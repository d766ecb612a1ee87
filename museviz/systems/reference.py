"""museviz's reference: on each stream, the window of the systems' width centred on each
frame's real presentation time. No system's source: this is what the others are measured
against.
"""

from __future__ import annotations

import numpy as np

from museviz.rules import STREAM_RATES, WHISPER50, ZERO, Schedule, Timeline, reads, rule
from museviz.systems.blocks import TIME_EPSILON_S, make_schedule, own_frames, windows
from museviz.systems.musetalk import TOKEN_WINDOW
from museviz.systems.wav2lip import MEL_WINDOW


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    rate = int(STREAM_RATES[s.stream])
    width = s.raw.shape[1]
    back = (width - 2) // 2
    t_s = t.frame_times_s[k]
    start = int(s.raw[k, 0])
    unit = "tokens" if s.stream == WHISPER50 else "mel"
    return [
        f"t_{k} = {t_s:.4f} s (the frame's real presentation time)",
        f"start = floor({rate} * {t_s:.4f} - {back}) = {start}",
        f"{unit} [{start}, {start + width}): centre {(start + (width - 1) / 2) / rate:.4f} s",
        reads(s, k),
    ]


@rule("exact", "whisper50", "reference", "tokens [s, s + 10) with s = floor(50 t_i - 4): centred on the frame's real time t_i; zeros outside", _explain)
def exact(t: Timeline) -> Schedule:
    """museviz's reference on whisper50: 10 tokens centred on the frame's real time.

    Token ``k`` is centred at ``k / 50`` s, so the window ``[s, s + 10)`` is centred at
    ``(s + 4.5) / 50``; ``s = floor(50 t_i - 4)`` puts that within 10 ms of ``t_i``.
    One chunk per decoded frame, whatever the frame rate (VFR-safe); zeros outside the audio.
    """
    return centred("exact", "whisper50", TOKEN_WINDOW, t)


@rule("exact-mel80", "mel80", "reference", "mel [s, s + 16) with s = floor(80 t_i - 7): centred on the frame's real time t_i; zeros outside", _explain)
def exact_mel80(t: Timeline) -> Schedule:
    """museviz's reference on mel80: 16 mel frames centred on the frame's real time.

    Mel frame ``m`` is centred at ``m / 80`` s; ``[s, s + 16)`` is centred at
    ``(s + 7.5) / 80``, and ``s = floor(80 t_i - 7)`` puts that within 6.25 ms of ``t_i``.
    """
    return centred("exact-mel80", "mel80", MEL_WINDOW, t)


def centred(name: str, stream: str, width: int, t: Timeline) -> Schedule:
    """``width`` features of ``stream`` centred on each decoded frame's real time; zeros outside."""
    rate = STREAM_RATES[stream]
    starts = np.floor((t.frame_times_s + TIME_EPSILON_S) * rate - (width - 2) / 2).astype(np.int64)
    return make_schedule(name, stream, t.fps, t.n_features(stream), windows(starts, width), ZERO, own_frames(t), t)
