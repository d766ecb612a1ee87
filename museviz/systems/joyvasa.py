"""JoyVASA: HuBERT tokens per 4 s chunk, averaged in pairs to 25 fps, with a built-in 80 ms lead.

Source: jdh-algo/JoyVASA @ 74290f61accfbabef19b195a54b8122141f0e336
(src/live_portrait_wmg_wrapper.py ``gen_motion_sequence`` l.359-420, src/modules/common.py:34-47,
src/modules/dit_talking_head.py l.201-215, src/modules/hubert.py; training
src/dataset/talkinghead_dataset_hungry.py l.160).
"""

from __future__ import annotations

import numpy as np

from museviz.grid import CNN_STRIDE, GRIDS, SAMPLE_RATE
from museviz.rules import ZERO, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, generated, make_schedule, own_frames

SOURCE = "jdh-algo/JoyVASA @ 74290f61"
DEFAULT_FPS = 25  # the checkpoint's fps (train.py default)
DEFAULT_PREV_MOTIONS = 25  # the checkpoint's n_prev_motions (models.yaml, train.py; the class default is 10)
PAD_BEFORE = 1280  # samples of silence put before the audio ("add silence audio frame before animation")
PAD_AFTER = 640
REFLECT_PAD = 40  # pad_audio reflects 40 samples each side: token g covers padded [320 g - 40, 320 g + 360)
CHUNK_FRAMES = 100
PAIR = 2  # a frame is the mean of two tokens: its window entry spans both


def token_position(token: np.ndarray, offset_samples: int) -> np.ndarray:
    """A HuBERT token's position on the ``hubert`` grid: token ``g`` of audio that starts
    ``offset_samples`` before the clip covers clip samples ``[320 g - 40 - offset, +400)``."""
    centre = CNN_STRIDE * np.asarray(token, dtype=np.float64) - REFLECT_PAD + 200 - offset_samples
    return GRIDS["hubert"].position_at(centre / SAMPLE_RATE)


def joyvasa_frames(n_samples: int, fps: float = DEFAULT_FPS) -> int:
    """``int(len(audio) / 16000 * fps)`` of the padded audio: ``floor((N + 1920) / 640)``,
    except where the float undercounts (N = 126720 gives 200, not 201)."""
    return int((n_samples + PAD_BEFORE + PAD_AFTER) / SAMPLE_RATE * fps)


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    chunk = k // CHUNK_FRAMES
    return [
        f"audio padded with 1280 zero samples before, 640 after: int(({t.n_samples} + 1920) / 16000 * 25) = {joyvasa_frames(t.n_samples)} frames",
        f"frame {k} = mean of tokens {2 * k}, {2 * k + 1} of the padded audio: samples [{640 * k - 1320}, {640 * k - 600}) of the clip",
        f"chunk {chunk}: self-attention over frames {max(CHUNK_FRAMES * chunk - DEFAULT_PREV_MOTIONS, 0)}..{CHUNK_FRAMES * chunk + CHUNK_FRAMES - 1} (n_prev_motions {DEFAULT_PREV_MOTIONS})",
        reads(s, k),
    ]


@rule(
    "joyvasa", "hubert", "inference", "audio padded 1280 before, 640 after; frame j = mean of HuBERT tokens 2j, 2j + 1: samples [640 (j - 2) - 40, 640 (j - 1) + 40)", _explain,
    System("JoyVASA", "chinese-hubert-base (released) per 4 s chunk, 50 Hz, averaged in pairs to 25 Hz", "25 fps (the checkpoint's)",
           "int((N + 1920) / 16000 * 25) (padded audio)", "token pair 2j, 2j + 1: audio centred at 640 (j - 1.5): an 80 ms lead",
           "zero-padded audio; padded frames of the last chunk deleted", "100-frame chunks, no overlap, 25 previous motions (a checkpoint setting)", SOURCE),
)
def joyvasa(t: Timeline, fps: float = DEFAULT_FPS) -> Schedule:
    """JoyVASA: the audio is padded with 1280 zero samples before and 640 after, cut into
    4 s chunks each reflect-padded by 40 samples and encoded alone (200 tokens per chunk),
    and the 50 Hz tokens are averaged in pairs (``align_corners=False`` to half the
    length): frame ``j`` hears samples ``[640 j - 1320, 640 j - 600)`` of the clip, centred
    at ``640 (j - 1.5)``, while it is shown at ``640 j``: a deliberate 2-frame (80 ms) lead.
    ``int(len / 16000 * fps)`` frames of the padded audio, ``fps`` the checkpoint's (25).
    Motion frame ``j`` cross-attends its own audio only; self-attention spans the chunk's
    100 frames and the ``n_prev_motions`` before, another checkpoint setting (25 in the
    released one's, 10 in the class), which changes what the motions see of each other but
    not the audio a frame reads, so it is no parameter here (the explanation names it).
    """
    n_frames = joyvasa_frames(t.n_samples, fps)
    if n_frames == 0:
        return failed("joyvasa", "hubert", fps, "no audio: no frame", 1, t, resampled=True)
    raw = token_position(2 * np.arange(n_frames)[:, None] + 0.5, PAD_BEFORE)
    return generated("joyvasa", "hubert", fps, t.n_features("hubert"), raw, ZERO, t, indices=raw.copy(), span=PAIR)


def _explain_train(t: Timeline, s: Schedule, k: int) -> list[str]:
    return [f"audio cropped at [round(start * 640), round(end * 640)): frame {k} = tokens 2j, 2j + 1 of the crop, samples [{640 * k - 40}, {640 * k + 680})", reads(s, k)]


@rule(
    "joyvasa-train", "hubert", "training", "25 fps assumed; audio cropped with the frames, no padding: frame k hears samples [640 k - 40, 640 k + 680)", _explain_train,
    System("JoyVASA training", "HuBERT (or wav2vec2) on the sample's audio crop", "25 fps assumed", "one per clip frame",
           "token pair 2k, 2k + 1 of the crop: audio centred at 640 (k + 0.5), no lead", "reflect padding of the crop", "the sample's frames", SOURCE),
)
def joyvasa_train(t: Timeline) -> Schedule:
    """JoyVASA training: the audio of a sample is cropped at ``[round(start * 640),
    round(end * 640))`` with no offset, so frame ``k`` hears its own 40 ms: the 80 ms lead of
    inference is not there in training."""
    raw = token_position(2 * np.arange(t.n_frames)[:, None] + 0.5, 0)
    return make_schedule("joyvasa-train", "hubert", float(DEFAULT_FPS), t.n_features("hubert"), raw, ZERO, own_frames(t), t, indices=raw.copy(), span=PAIR)
