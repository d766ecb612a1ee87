"""Wav2Lip and the projects that kept its loop: inference, generator and SyncNet training,
and VideoReTalking.

Sources: Rudrabha/Wav2Lip @ 5c90fa9b4a2c2a37d0b4ebf7633ac41534eb9941 (inference.py:232-244,
wav2lip_train.py:75-99; the forks Markfryazino/wav2lip-hq @ 33b7b531 and
primepake/wav2lip_288x288 @ 3e3e5f0c carry the same loop); MuseTalk's SyncNet training
(TMElyralab/MuseTalk @ 0a89dec4); OpenTalker/video-retalking @
d32e8e58248255e2d243eeaf3cba545dbe505ca8 (inference.py:184-196).
"""

from __future__ import annotations

import numpy as np

from museviz.grid import MEL80_PER_SECOND as MEL_PER_SECOND
from museviz.rules import PIN, SKIP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, first_index, make_schedule, own_frames, windows

SOURCE = "Rudrabha/Wav2Lip @ 5c90fa9b"
MEL_WINDOW = 16  # mel80 frames per video frame in Wav2Lip: 200 ms
SYNCNET_MEL_WINDOW = 52  # mel80 frames per MuseTalk SyncNet sample of 16 video frames
SYNCNET_VIDEO_FRAMES = 16
TRAINING_FPS = 25  # hparams.fps in Wav2Lip and MuseTalk training


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    if s.pinned[k]:
        m = s.n_valid
        return [f"int({k} * 80 / {s.fps_used:g}) + 16 > M = {m}: last chunk pinned", f"mel [M - 16, M) = [{m - MEL_WINDOW}, {m})", reads(s, k)]
    start = int(k * (MEL_PER_SECOND / s.fps_used))
    return [f"mel_idx = int({k} * 80 / {s.fps_used:g}) = {start}", f"mel [{start}, {start} + 16) = [{start}, {start + MEL_WINDOW})", reads(s, k)]


def _explain_training(t: Timeline, s: Schedule, k: int) -> list[str]:
    start = int(s.raw[k, 0])
    width = s.raw.shape[1]
    formula = {
        "wav2lip-train": f"mel [int(80 * ({k} - 1) / 25), +16) = [{start}, {start + width})",
        "syncnet-train": f"frames {k}..{k + SYNCNET_VIDEO_FRAMES - 1}: mel [int(80 * {k} / 25), +52) = [{start}, {start + width})",
    }[s.rule]
    return [formula, reads(s, k)]


WAV2LIP_SYSTEM = System(
    "Wav2Lip (and -HQ, -288)", "80 Hz mel, librosa 0.7 (reflect padding)", "the clip's fps", "1 + #{i : int(80 i / fps) + 16 <= M} (about 25 D - 3 at 25 fps)",
    "mel [int(80 i / fps), +16): starts at the frame, 200 ms forward", "the last window pinned to [M - 16, M)", "batches of 128, tail kept", SOURCE,
)


@rule("wav2lip", "mel80", "inference", "s = int(i * 80 / fps); mel [s, s + 16); last chunk pinned to [M - 16, M)", _explain, WAV2LIP_SYSTEM)
def wav2lip(t: Timeline) -> Schedule:
    """Wav2Lip inference: ``s = int(i * (80. / fps))``; mel frames ``[s, s + 16)``.

    When ``s + 16 > M`` one last chunk ``[M - 16, M)`` is appended and the loop stops,
    so the output has about ``25 D - 3`` frames at 25 fps.
    """
    return wav2lip_loop("wav2lip", t)


def wav2lip_loop(name: str, t: Timeline) -> Schedule:
    """Wav2Lip's inference loop at the clip's fps (see ``wav2lip``)."""
    n_mel = t.n_features("mel80")
    if n_mel < MEL_WINDOW:
        return failed(name, "mel80", t.fps, f"audio has {n_mel} mel frames, fewer than the {MEL_WINDOW} of one window", MEL_WINDOW, t)
    step = MEL_PER_SECOND / t.fps
    n_full = first_index(lambda i: int(i * step) + MEL_WINDOW > n_mel, n_mel / step)
    starts = np.append((np.arange(n_full) * step).astype(np.int64), n_mel - MEL_WINDOW)
    pinned = np.zeros(n_full + 1, bool)
    pinned[-1] = True
    return make_schedule(name, "mel80", t.fps, n_mel, windows(starts, MEL_WINDOW), PIN, own_frames(t, n_full + 1), t, pinned=pinned)


@rule(
    "videoretalking", "mel80", "inference", "Wav2Lip's loop at the clip's fps: mel [int(80 i / fps), +16); last chunk pinned", _explain,
    System("VideoReTalking", "80 Hz mel, librosa 0.9.2 (zero padding)", "the clip's fps (cv2)", "as Wav2Lip: 1 + #{i : int(80 i / fps) + 16 <= M}",
           "mel [int(80 i / fps), +16)", "the last window pinned to [M - 16, M)", "LNet batches, tail kept", "OpenTalker/video-retalking @ d32e8e58"),
)
def videoretalking(t: Timeline) -> Schedule:
    """VideoReTalking: Wav2Lip's inference loop verbatim, at the rate cv2 reports for the
    clip; only its mel differs at the edges (librosa 0.9.2 pads with zeros)."""
    return wav2lip_loop("videoretalking", t)


@rule(
    "wav2lip-train", "mel80", "training", "25 fps assumed; frame k reads mel [int(80 (k - 1) / 25), + 16); skipped if short", _explain_training,
    System("Wav2Lip generator training", "80 Hz mel", "25 fps assumed", "one per clip frame", "mel [int(80 (k - 1) / 25), +16): one frame earlier than inference",
           "short window: sample skipped", "5-frame samples", SOURCE),
)
def wav2lip_train(t: Timeline) -> Schedule:
    """Wav2Lip generator training: frame ``k`` reads ``[int(80 (k - 1) / fps), + 16)``.

    One frame earlier than inference. A window that is short (past the end, or a negative
    start that Python slicing turns into an empty slice) makes the sample be skipped.
    """
    n_mel = t.n_features("mel80")
    starts = (MEL_PER_SECOND * (np.arange(t.n_frames) - 1) / TRAINING_FPS).astype(np.int64)
    dropped = (starts < 0) | (starts + MEL_WINDOW > n_mel)
    return make_schedule("wav2lip-train", "mel80", float(TRAINING_FPS), n_mel, windows(starts, MEL_WINDOW), SKIP, own_frames(t), t, dropped=dropped)


@rule(
    "syncnet-train", "mel80", "training", "25 fps assumed; sample of frames f..f+15 reads mel [int(80 f / 25), + 52); skipped if short", _explain_training,
    System("Wav2Lip / MuseTalk SyncNet training", "80 Hz mel", "25 fps assumed", "one per start frame f (16 frames must exist)",
           "mel [int(80 f / 25), +52) for frames f..f+15 (Wav2Lip: +16 for f..f+4)", "short window: sample skipped", "one sample per start", "TMElyralab/MuseTalk @ 0a89dec4"),
)
def syncnet_train(t: Timeline) -> Schedule:
    """MuseTalk's SyncNet training: frames ``f..f+15`` read mel ``[int(80 f / fps), + 52)``.

    One chunk per possible start frame ``f`` (the 16 frames must exist); a short window is
    skipped ("invalid mel spectrogram shape ..., expected 52").
    """
    n_mel = t.n_features("mel80")
    n_samples = max(t.n_frames - SYNCNET_VIDEO_FRAMES + 1, 0)
    starts = (MEL_PER_SECOND * np.arange(n_samples) / TRAINING_FPS).astype(np.int64)
    dropped = starts + SYNCNET_MEL_WINDOW > n_mel
    return make_schedule(
        "syncnet-train", "mel80", float(TRAINING_FPS), n_mel, windows(starts, SYNCNET_MEL_WINDOW), SKIP, own_frames(t, n_samples), t, dropped=dropped
    )
