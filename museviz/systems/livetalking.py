"""LiveTalking (formerly metahuman-stream): Wav2Lip and MuseTalk on a rolling audio buffer.

Source: lipku/LiveTalking @ a5a77f4c395c8347789a16da1843cd1b08b48eea
(avatars/audio_features/base_asr.py, mel.py:47-63, whisper.py:58-75,
avatars/musetalk/whisper/audio2feature.py:42, avatars/base_avatar.py, config.py); before
the refactor 9db55d8b (lipasr.py, museasr.py, baseasr.py: the same rule).
"""

from __future__ import annotations

import numpy as np

from museviz.grid import MEL80_HOP_LENGTH, SAMPLE_RATE, n_mel_frames
from museviz.rules import CLAMP, PIN, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import generated

SOURCE = "lipku/LiveTalking @ a5a77f4c"
LIVE_FPS = 25  # --fps: "must be 25"
CHUNK = SAMPLE_RATE // (LIVE_FPS * 2)  # 320 samples: 20 ms of audio a chunk, 2 chunks a frame
BATCH = 16  # --batch_size
LEFT = 10  # -l: context chunks before
RIGHT = 10  # -r: context chunks after
MEL_WINDOW = 16
TOKEN_WINDOW = 10


def live_frames(n_samples: int, batch: int = BATCH, left: int = LEFT) -> int:
    """Frames made while the clip's audio lasts: batches of ``B`` frames, each consuming ``2B``
    chunks; a batch runs while its first frame's own audio (chunk ``l + 2n``) is speech."""
    per_batch = 2 * batch * CHUNK
    return batch * max(-(-(n_samples - CHUNK * left) // per_batch), 0)


def _frames(t: Timeline, batch: int, left: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame n, its step k, its place i in the batch) for every frame made."""
    n = np.arange(live_frames(t.n_samples, batch, left))
    return n, n // batch, n % batch


def _picture_times(n: np.ndarray, left: int) -> np.ndarray:
    """Frame ``n`` plays chunks ``l + 2n`` and ``l + 2n + 1``: the output's audio starts ``l`` chunks into the clip."""
    return CHUNK * (left + 2 * n) / SAMPLE_RATE


def _explain_wav2lip(t: Timeline, s: Schedule, k: int) -> list[str]:
    step, i = divmod(k, BATCH)
    start = int(LEFT * 80 / 50 + i * (80.0 / LIVE_FPS))
    return [
        f"frame {k} = step {step}, place {i}: the buffer is chunks [{2 * BATCH * step}, {2 * BATCH * step + LEFT + RIGHT + 2 * BATCH}), its own mel",
        f"start = int(16 + {i} * 3.2) = {start}: buffer mel [{start}, {start + MEL_WINDOW}) = clip mel from {51.2 * step + start:g}",
        f"the frame plays chunks {LEFT + 2 * k}, {LEFT + 2 * k + 1}: shown at {s.picture_times_s[k]:.3f} s of the clip's audio",
        reads(s, k),
    ]


@rule(
    "livetalking-wav2lip", "mel80", "inference", "batches of 16 frames over a buffer of 10 + 32 + 10 chunks; frame i reads buffer mel [int(16 + 3.2 i), +16)", _explain_wav2lip,
    System("LiveTalking (Wav2Lip)", "Wav2Lip's mel of each rolling buffer (its grid restarts every step)", "25 fps (must be)",
           "streaming: 16 frames per step, 2 x 20 ms chunks each", "buffer mel [int(1.6 l + 3.2 i), +16): from the frame's own audio, 200 ms forward",
           "silence (zeros) when no audio; pinned if past the buffer (never)", "fixed batches of 16; the output's audio starts l = 10 chunks (200 ms) in", SOURCE),
)
def livetalking_wav2lip(t: Timeline, batch: int = BATCH, left: int = LEFT, right: int = RIGHT) -> Schedule:
    """LiveTalking with Wav2Lip: audio arrives in 20 ms chunks; each step ``k`` takes
    ``2B`` new chunks and computes a mel of the buffer ``[2Bk, 2Bk + l + r + 2B)`` chunks on
    its own (so the mel grid restarts every step, at clip mel position ``51.2 k``); frame
    ``i`` of the batch reads buffer mel ``[int(l * 80 / 50 + 3.2 i), +16)``: from the start
    of the frame's own audio, 200 ms forward. Frame ``n = Bk + i`` plays chunks ``l + 2n``
    and ``l + 2n + 1``: it is shown when the clip's audio is at ``(320 l + 640 n) / 16000``
    s. Past the audio the stream feeds silence.
    """
    n, step, place = _frames(t, batch, left)
    buffer_mel = n_mel_frames(CHUNK * (left + right + 2 * batch))
    starts = (left * 80 / 50 + place * (80.0 / LIVE_FPS)).astype(np.int64)
    pinned = starts + MEL_WINDOW > buffer_mel
    starts = np.where(pinned, buffer_mel - MEL_WINDOW, starts)
    raw = (2 * batch * CHUNK * step / MEL80_HOP_LENGTH + starts)[:, None] + np.arange(MEL_WINDOW, dtype=np.float64)
    return generated("livetalking-wav2lip", "mel80", LIVE_FPS, t.n_features("mel80"), raw, PIN, t, indices=raw.copy(),
                     picture_times_s=_picture_times(n, left), pinned=pinned)


def _explain_musetalk(t: Timeline, s: Schedule, k: int) -> list[str]:
    step, i = divmod(k, BATCH)
    return [
        f"frame {k} = step {step}, place {i}: whisper rows of the buffer (chunks from {2 * BATCH * step}) = clip tokens from {2 * BATCH * step}",
        f"center = int(({i} + 5) * 2) = {2 * i + 10}; rows [{2 * i + 10}, {2 * i + 20}) = clip tokens [{2 * k + 10}, {2 * k + 20})",
        f"the frame plays chunks {LEFT + 2 * k}, {LEFT + 2 * k + 1}: shown at {s.picture_times_s[k]:.3f} s of the clip's audio",
        reads(s, k),
    ]


@rule(
    "livetalking-musetalk", "whisper50", "inference", "batches of 16 frames over a rolling buffer; frame n reads whisper tokens [2n + 10, 2n + 20): its own 200 ms", _explain_musetalk,
    System("LiveTalking (MuseTalk)", "Whisper tiny encoder of each rolling buffer, 5 states", "25 fps (must be)", "streaming: 16 frames per step",
           "tokens [2n + 10, 2n + 20): the frame's own audio and 200 ms forward (MuseTalk's -4 offset commented out)", "clamp (never reached: Whisper pads to 30 s)",
           "fixed batches of 16; the output's audio starts 200 ms in", SOURCE),
)
def livetalking_musetalk(t: Timeline, batch: int = BATCH, left: int = LEFT) -> Schedule:
    """LiveTalking with MuseTalk: Whisper runs on each step's buffer (chunks from ``2Bk``,
    so its rows line up with the clip's tokens from ``32 k``); ``_feature2chunks`` with
    ``audio_feat_win = [0, 5]`` and ``start = l / 2`` gives batch frame ``i`` rows
    ``[2i + 10, 2i + 20)``: frame ``n`` reads tokens ``[2n + 10, 2n + 20)``, from the start
    of its own audio (chunk ``l + 2n``) 200 ms forward, 4 tokens later than MuseTalk's
    ``[c - 4, c + 6)`` around the frame. Shown as ``livetalking-wav2lip`` is.
    """
    n, _, _ = _frames(t, batch, left)
    raw = (2 * n + left)[:, None] + np.arange(TOKEN_WINDOW)
    return generated("livetalking-musetalk", "whisper50", LIVE_FPS, t.n_features("whisper50"), raw, CLAMP, t, indices=raw.copy(),
                     picture_times_s=_picture_times(n, left))
