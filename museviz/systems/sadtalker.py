"""SadTalker: Wav2Lip's mel, 16 columns centred on each 25 fps frame.

Source: OpenTalker/SadTalker @ cd4c0465ae0b54a6f85af57f5c65fec9fe23e7f8 (src/generate_batch.py
``parse_audio_length``, ``crop_pad_audio``, ``get_data`` l.17 and 70-78; src/test_audio2coeff.py;
src/facerender/animate.py:213-219).
"""

from __future__ import annotations

import numpy as np

from museviz.grid import SAMPLE_RATE, n_mel_frames
from museviz.rules import CLAMP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, generated, windows

SOURCE = "OpenTalker/SadTalker @ cd4c0465"
SADTALKER_FPS = 25
MEL_WINDOW = 16


def sadtalker_frames(n_samples: int) -> int:
    """``int(N / (16000 / 25))``: the audio is cut to that many whole frames (640 samples each)."""
    return int(n_samples / (SAMPLE_RATE / SADTALKER_FPS))


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    start = int(80.0 * ((k - 2) / float(SADTALKER_FPS)))
    return [
        f"F = int({t.n_samples} / 640) = {sadtalker_frames(t.n_samples)} frames; the wav is cut to {sadtalker_frames(t.n_samples) * 640} samples: M = {s.n_valid}",
        f"start = int(80 * ({k} - 2) / 25) = {start}; mel [{start}, {start + MEL_WINDOW}) clamped to [0, {s.n_valid - 1}]",
        reads(s, k),
    ]


@rule(
    "sadtalker", "mel80", "inference", "F = int(N / 640) frames at 25 fps; mel [int(80 (i - 2) / 25), +16), each index clamped", _explain,
    System("SadTalker", "80 Hz mel, librosa 0.9.2 (zero padding)", "25 fps (fixed)", "F = int(N / 640); the wav cut to 640 F samples",
           "mel [int(80 (i - 2) / 25), +16): frames i - 2 .. i + 2, centred", "each index clamped to [0, M - 1] (int() truncates -6.4 to -6)",
           "audio2exp per frame; audio2pose in 32-frame chunks; the renderer reads 27 frames of coefficients", SOURCE),
)
def sadtalker(t: Timeline) -> Schedule:
    """SadTalker: ``F = int(N / 640.)`` frames at 25 fps; the wav is cut to ``640 F``
    samples before the mel (``M = 1 + 640 F // 200``). Frame ``i`` reads mel columns
    ``[int(80. * ((i - 2) / 25.)), +16)``, each clamped to ``[0, M - 1]``: centred on the
    frame, ``int()`` truncating toward zero (frame 0 starts at -6, not -7). Audio under
    640 samples gives an empty cut, and the mel raises.
    """
    n_frames = sadtalker_frames(t.n_samples)
    if n_frames == 0:
        return failed("sadtalker", "mel80", SADTALKER_FPS, f"raises at frame 0: {t.n_samples} samples are less than one 640-sample frame", MEL_WINDOW, t, exit_frame=0)
    n_mel = n_mel_frames(n_frames * SAMPLE_RATE // SADTALKER_FPS)
    starts = np.trunc(80.0 * ((np.arange(n_frames) - 2) / float(SADTALKER_FPS))).astype(np.int64)
    return generated("sadtalker", "mel80", SADTALKER_FPS, n_mel, windows(starts, MEL_WINDOW), CLAMP, t)
