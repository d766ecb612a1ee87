"""IP_LAP: Wav2Lip's mel chunks (no pinned tail), centred on each frame; frames 0 and 1 copy frame 2.

Source: Weizhi-Zhong/IP_LAP @ 9b9dc03f0e90b10b92c904b202443c160afe7c45 (inference_single.py
l.238-245 and 434-515; train_landmarks_generator.py l.165-171; models/audio.py).
"""

from __future__ import annotations

import numpy as np

from museviz.rules import SKIP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, first_index, make_schedule, reencoded_frames, round_half_up, windows

SOURCE = "Weizhi-Zhong/IP_LAP @ 9b9dc03f"
IPLAP_FPS = 25  # the video is re-encoded with ffmpeg -r 25 when it is not 25 fps
MEL_STEP = 80.0 / IPLAP_FPS  # mel_idx_multiplier
MEL_WINDOW = 16
T = 5  # frames per landmark sample: the rendered one is the centre, index 2
COPIED = 2  # output frames 0 and 1 are written as copies of frame 2


def iplap_chunks(n_mel: int) -> int:
    """``L``: the mel chunks ``[int(3.2 k), +16)`` that fit, the loop stopping at the first that does not (no pinned tail)."""
    return first_index(lambda k: int(k * MEL_STEP) + MEL_WINDOW > n_mel, n_mel / MEL_STEP)


def iplap_template_exit(n_chunks: int, n_template: int) -> int | None:
    """The output frame at which ``input_frame_sequence[mel_chunk_idx]`` runs out, or None.

    The template's frame order is ``[0..V-1] + reversed`` repeated ``((L // V + 1) + 1) // 2``
    times; iteration ``b`` reads entries ``b .. b + 4`` and renders output frame ``b + 2``.
    """
    length = 2 * n_template * ((n_chunks // n_template + 2) // 2)
    if length >= n_chunks + 2:
        return None
    first_bad = max(length - (T - 1), 0)
    return first_bad + COPIED if first_bad else 0


def _template_order(n_template: int, n: int) -> np.ndarray:
    once = np.r_[np.arange(n_template), np.arange(n_template)[::-1]]
    return np.tile(once, n // len(once) + 1)[:n]


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_mel = t.n_features("mel80")
    chunk = max(k - COPIED, 0)
    start = int(chunk * MEL_STEP)
    lines = [
        f"L = {iplap_chunks(n_mel)} chunks [int(3.2 k), +16) within M = {n_mel} (no pinned tail); L frames written",
        f"frame {k} renders with chunk max({k} - 2, 0) = {chunk}: mel [{start}, {start + MEL_WINDOW})",
    ]
    if k < COPIED:
        lines.append(f"frame {k} is a copy of frame 2")
    return [*lines, reads(s, k)]


@rule(
    "ip-lap", "mel80", "inference", "video forced to 25 fps; L chunks mel [int(3.2 k), +16) that fit; frame p reads chunk max(p - 2, 0); frames 0, 1 copy frame 2", _explain,
    System("IP_LAP", "80 Hz mel, librosa 0.9.2 (zero padding)", "25 fps (re-encoded with -r 25)", "L = #{k : int(3.2 k) + 16 <= M}, no pinned tail",
           "mel [int(3.2 (p - 2)), +16): centred; frames 0 and 1 are copies of frame 2", "none needed; raises when the template's frame order runs out",
           "one frame per iteration; the template ping-pongs", SOURCE),
)
def ip_lap(t: Timeline) -> Schedule:
    """IP_LAP: the video is re-encoded at 25 fps; the mel chunks ``[int(3.2 k), +16)`` are
    collected while they fit (``L`` of them, no pinned tail). Iteration ``b`` renders output
    frame ``p = b + 2`` from chunk ``b = p - 2`` (centred on the frame) and writes it, and
    the first iteration writes it three times: output frames 0 and 1 are copies of frame 2.
    ``L`` frames; none when ``L < 3``. The template video's frame order
    (``iplap_template_exit``) runs out for some lengths, and the script raises there.
    """
    n_mel = t.n_features("mel80")
    n_chunks = iplap_chunks(n_mel)
    if n_chunks < T - COPIED:
        return failed("ip-lap", "mel80", IPLAP_FPS, f"makes no frame: L = {n_chunks} mel chunks, and range(0, L - 2) is empty", MEL_WINDOW, t)
    n_template = max(int(round_half_up(t.video_duration_s * IPLAP_FPS)), 1)
    exit_frame = iplap_template_exit(n_chunks, n_template)
    n_out = n_chunks if exit_frame is None else exit_frame
    error = None if exit_frame is None else (
        f"raises at frame {exit_frame}: input_frame_sequence (the {n_template}-frame template, ping-pong) has no entry for chunk {n_chunks + 1}")
    chunk = np.maximum(np.arange(n_out) - COPIED, 0)
    order = _template_order(n_template, n_out)
    shown = order[np.maximum(np.arange(n_out), min(COPIED, n_out - 1))] if n_out else order
    source = reencoded_frames(t, IPLAP_FPS, n_template)
    paired = np.where(np.arange(n_out) < n_template, source[np.minimum(shown, n_template - 1)], -1)
    raw = windows((chunk * MEL_STEP).astype(np.int64), MEL_WINDOW)
    return make_schedule("ip-lap", "mel80", IPLAP_FPS, n_mel, raw, SKIP, paired, t, picture_times_s=np.arange(n_out) / IPLAP_FPS, error=error, exit_frame=exit_frame)
