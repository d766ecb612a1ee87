"""The NeRF talking heads: GeneFace, GeneFace++, ER-NeRF, RAD-NeRF and SyncTalk. Per-frame
audio features at 25 fps (HuBERT, DeepSpeech or SyncNet's audio encoder), then a window of
them per rendered frame.

Sources: yerfor/GeneFace @ 15ff4e5c8fb5bb7dd8fc4cf7befca832ec40754c
(inference/audio2motion/audio2motion_infer.py, modules/audio2motion/vae.py:294 and 371,
data_gen/nerf/binarizer.py ``get_win_conds``, inference/nerfs/lm3d_radnerf_infer.py:77-85);
yerfor/GeneFacePlusPlus @ 6c35651d9b731c041e3f10b0577b8ace24d65806 (inference/genefacepp_infer.py,
modules/audio2motion/vae.py:295, modules/radnerfs/utils.py); Fictionarry/ER-NeRF @
0cf72d8fb598d321de86b445bcd363cc2f6346a5 (data_utils/hubert.py, nerf_triplane/utils.py
``get_audio_features``, nerf_triplane/network.py ``AudioAttNet``); ashawkey/RAD-NeRF @
0de5ed259592592294677ad6cf7605f478a0de57 (data_utils/deepspeech_features/deepspeech_features.py,
nerf/provider.py, nerf/utils.py); ZiqiaoPeng/SyncTalk @ d2427a3d7301234ca417ef7660aaf5a24e5d89b0
(nerf_triplane/provider.py l.160-235, nerf_triplane/utils.py ``AudDataset``).
"""

from __future__ import annotations

import math

import numpy as np

from museviz.grid import SAMPLE_RATE
from museviz.rules import CLAMP, ZERO, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import att_windows, failed, generated, windows

NERF_FPS = 25
HUBERT_PAD = 8  # GeneFace pads (GeneFace++ cuts) the HuBERT rows to a multiple of 8
GENEFACE_WINDOW = 5  # smo_win_size of lm3d_radnerf.yaml: landmark frames [i - 2, i + 3)
DS_ROWS = 16  # DeepSpeech rows per AD-NeRF feature: [2j - 8, 2j + 8)
DS_LEFT = 8
ATT_WIDTH = 8  # --att 2: features [i - 4, i + 4)
AVE_MEL = 16  # mel frames per SyncNet audio-encoder window
AVE_COPIES = 2  # first and last AVE features repeated twice at each end


def _explain_geneface(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_rows = t.n_features("hubert")
    padded = math.ceil(n_rows / HUBERT_PAD) * HUBERT_PAD
    return [
        f"T = ({t.n_samples} - 80) // 320 = {n_rows} HuBERT rows, zero-padded to {padded}: {padded // 2} frames; frame j = row 2j (nearest)",
        f"NeRF condition: landmark frames [{k} - 2, {k} + 3) edge-padded, each from its row 2j",
        reads(s, k),
    ]


@rule(
    "geneface", "hubert", "inference", "T = (N - 80) // 320 rows padded to 8k; frame j = row 2j (nearest); NeRF reads frames [i - 2, i + 3), edge-padded", _explain_geneface,
    System("GeneFace", "HuBERT-large last state (1024) at 50 Hz", "25 fps (nearest: row 2j)", "ceil(T / 8) * 4, T = (N - 80) // 320; cut to the training video with its poses",
           "audio-to-motion over the whole clip; NeRF: landmark frames [i - 2, i + 3)", "edge padding at inference (zeros in training); padded rows are zeros",
           "the whole clip at once", "yerfor/GeneFace @ 15ff4e5c"),
)
def geneface(t: Timeline) -> Schedule:
    """GeneFace: HuBERT rows ``T = (N - 80) // 320``, zero-padded to a multiple of 8;
    ``F.interpolate(scale_factor=0.5, mode='nearest')`` makes frame ``j`` row ``2j``
    (odd rows discarded), ``ceil(T / 8) * 4`` frames. The audio-to-motion model sees the
    whole clip; the NeRF is conditioned on landmark frames ``[i - 2, i + 3)``, edge-padded
    at inference (zero-padded by the training binarizer). With its training video's poses
    the output is cut to that video's length.
    """
    n_rows = t.n_features("hubert")
    n_frames = math.ceil(n_rows / HUBERT_PAD) * HUBERT_PAD // 2
    if n_frames == 0:
        return failed("geneface", "hubert", NERF_FPS, f"makes no frame: {n_rows} HuBERT rows", GENEFACE_WINDOW, t, resampled=True)
    frames = windows(np.arange(n_frames) - GENEFACE_WINDOW // 2, GENEFACE_WINDOW)
    rows = 2.0 * np.clip(frames, 0, n_frames - 1)
    indices = np.where(rows > n_rows - 1, np.nan, rows)
    return generated("geneface", "hubert", NERF_FPS, n_rows, 2.0 * frames, CLAMP, t, indices=indices)


def _explain_genefacepp(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_rows = t.n_features("hubert")
    w = s.raw.shape[1]
    return [
        f"T = ({t.n_samples} - 80) // 320 = {n_rows} HuBERT rows, cut to {n_rows // HUBERT_PAD * HUBERT_PAD}: {n_rows // HUBERT_PAD * 4} frames; frame j = mean of rows 2j, 2j + 1",
        f"NeRF condition (smo_win_size {w}, from the checkpoint): frames [{k} - {w // 2}, {k} + {w - w // 2}), zeros outside",
        reads(s, k),
    ]


@rule(
    "geneface++", "hubert", "inference", "T = (N - 80) // 320 rows cut to 8k; frame j = mean of rows 2j, 2j + 1; NeRF reads frames [i - w // 2, i + w - w // 2), w = 5", _explain_genefacepp,
    System("GeneFace++", "HuBERT-large last state (1024) at 50 Hz", "25 fps (linear: mean of rows 2j, 2j + 1; nearest with use_pitch)",
           "floor(T / 8) * 4, T = (N - 80) // 320", "NeRF: frames [i - w // 2, i + w - w // 2), w = smo_win_size from the checkpoint (5; 3 for some)",
           "zeros", "the whole clip at once", "yerfor/GeneFacePlusPlus @ 6c35651d"),
)
def genefacepp(t: Timeline, smo_win_size: int = GENEFACE_WINDOW, pitch: bool = False) -> Schedule:
    """GeneFace++: the HuBERT rows are cut (not padded) to a multiple of 8, ``floor(T / 8)
    * 4`` frames. ``VAEModel`` halves the rate with ``mode='linear'`` (frame ``j`` = mean of
    rows ``2j`` and ``2j + 1``); ``PitchContourVAEModel`` (``use_pitch`` in the checkpoint's
    config, ``pitch=True`` here) keeps ``'nearest'`` (row ``2j``). The NeRF reads frames
    ``[i - w // 2, i + w - w // 2)``, zeros outside, with ``w = smo_win_size`` from the
    checkpoint's config (5 in lm3d_radnerf.yaml, 3 in May/lm3d_radnerf_sr.yaml).
    """
    n_rows = t.n_features("hubert")
    n_frames = n_rows // HUBERT_PAD * HUBERT_PAD // 2
    if n_frames == 0:
        return failed("geneface++", "hubert", NERF_FPS, f"makes no frame: {n_rows} HuBERT rows", smo_win_size, t, resampled=True)
    frames, short = att_windows(n_frames, n_frames, smo_win_size, smo_win_size // 2)
    if short is not None:
        return failed("geneface++", "hubert", NERF_FPS, f"raises at frame {short}: its window holds fewer than {smo_win_size} frames ({n_frames} in all)",
                      smo_win_size, t, resampled=True, exit_frame=short)
    raw = 2.0 * frames + (0.0 if pitch else 0.5)
    indices = np.where((frames < 0) | (frames >= n_frames), np.nan, raw)
    return generated("geneface++", "hubert", NERF_FPS, n_rows, raw, ZERO, t, indices=indices, span=1.0 if pitch else 2.0)


def _explain_ernerf(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_rows = t.n_features("hubert")
    return [
        f"T = ({t.n_samples} - 80) // 320 = {n_rows} HuBERT rows; feature j = rows (2j, 2j + 1): {n_rows // 2} features (an odd last row dropped)",
        f"--att 2: features [{k} - 4, {k} + 4) = rows [{2 * k - 8}, {2 * k + 8}), zeros outside",
        reads(s, k),
    ]


@rule(
    "er-nerf", "hubert", "inference", "feature j = HuBERT rows (2j, 2j + 1), T // 2 of them; frame i reads features [i - 4, i + 4): rows [2i - 8, 2i + 8)", _explain_ernerf,
    System("ER-NeRF", "HuBERT-large (1024) at 50 Hz, rows paired (DeepSpeech by default, as RAD-NeRF)", "25 fps (pairs)", "floor(T / 2), T = (N - 80) // 320",
           "features [i - 4, i + 4) = rows [2i - 8, 2i + 8)", "zeros; with 3 features or fewer the windows come out short and AudioAttNet fails",
           "frame by frame; poses ping-pong", "Fictionarry/ER-NeRF @ 0cf72d8f"),
)
def er_nerf(t: Timeline) -> Schedule:
    """ER-NeRF with HuBERT: ``make_even_first_dim`` drops an odd last row and
    ``reshape(-1, 2, 1024)`` pairs the rest, so feature ``j`` is rows ``(2j, 2j + 1)``
    (no centring), ``floor(T / 2)`` features, one rendered frame each. ``--att 2`` gives
    frame ``i`` features ``[i - 4, i + 4)`` zero-padded: rows ``[2i - 8, 2i + 8)``."""
    n_rows = t.n_features("hubert")
    n_features = n_rows // 2
    if n_features == 0:
        return failed("er-nerf", "hubert", NERF_FPS, f"makes no frame: {n_rows} HuBERT rows pair into no feature", 2 * ATT_WIDTH, t)
    features, short = att_windows(n_features, n_features)
    if short is not None:
        return failed("er-nerf", "hubert", NERF_FPS, f"raises at frame {short}: {n_features} features make a window shorter than 8 for AudioAttNet",
                      2 * ATT_WIDTH, t, exit_frame=short)
    rows = (2 * features[:, :, None] + np.arange(2)).reshape(n_features, -1)
    zero = np.repeat((features < 0) | (features >= n_features), 2, axis=1)
    return generated("er-nerf", "hubert", NERF_FPS, n_rows, rows, ZERO, t, indices=np.where(zero, -1, rows))


def deepspeech_rows(n_samples: int) -> int:
    """``int(round(duration * 50))``: AD-NeRF interpolates the DeepSpeech logits to this many
    50 Hz rows (the identity where logits exist)."""
    return int(round(n_samples / SAMPLE_RATE * 50))


def _explain_radnerf(t: Timeline, s: Schedule, k: int) -> list[str]:
    n = deepspeech_rows(t.n_samples)
    return [
        f"round({t.n_samples} / 16000 * 50) = {n} rows, the last dropped: feature j = rows [2j - 8, 2j + 8), centred on row 2j - 0.5; {math.ceil((n - 1) / 2)} features",
        f"--att 2: features [{k} - 4, {k} + 4), each 16 rows: rows [{2 * k - 16}, {2 * k + 14}), zeros outside",
        reads(s, k),
    ]


@rule(
    "rad-nerf", "deepspeech50", "inference", "feature j = DeepSpeech rows [2j - 8, 2j + 8) (round(50 D) - 1 rows); frame i reads features [i - 4, i + 4)", _explain_radnerf,
    System("RAD-NeRF", "DeepSpeech 0.1 logits (29) at 50 Hz (or wav2vec2 logits)", "25 fps: 16-row windows, stride 2", "ceil((round(50 D) - 1) / 2)",
           "features [i - 4, i + 4), feature j = rows [2j - 8, 2j + 8): 30 rows, 600 ms", "zeros at both levels; fails under 480 samples",
           "frame by frame; poses ping-pong", "ashawkey/RAD-NeRF @ 0de5ed25"),
)
def rad_nerf(t: Timeline) -> Schedule:
    """RAD-NeRF with DeepSpeech: the logits are interpolated to ``n = round(50 D)`` rows,
    ``pure_conv_audio_to_deepspeech`` drops the last one, and 16-row windows with stride 2
    (8 zero rows each side) make feature ``j`` = rows ``[2j - 8, 2j + 8)``, ``ceil((n - 1)
    / 2)`` of them. ``--att 2`` gives frame ``i`` features ``[i - 4, i + 4)``, zeros
    outside: 8 stacks of 16 rows, ``[2i - 16, 2i + 14)``. Each window entry is a feature:
    the centre of its 16 rows, ``2j - 0.5`` (``span`` 16).
    """
    n_rows = deepspeech_rows(t.n_samples) - 1
    n_features = len(range(0, n_rows, 2))
    if n_features == 0:
        return failed("rad-nerf", "deepspeech50", NERF_FPS, "raises at frame 0: no DeepSpeech feature (under 480 samples)", ATT_WIDTH, t,
                      resampled=True, exit_frame=0, span=DS_ROWS)
    features, short = att_windows(n_features, n_features)
    if short is not None:
        return failed("rad-nerf", "deepspeech50", NERF_FPS, f"raises at frame {short}: {n_features} features make a window shorter than 8 for AudioAttNet",
                      ATT_WIDTH, t, resampled=True, exit_frame=short, span=DS_ROWS)
    centres = 2.0 * features - DS_LEFT + (DS_ROWS - 1) / 2
    indices = np.where((features < 0) | (features >= n_features), np.nan, centres)
    return generated("rad-nerf", "deepspeech50", NERF_FPS, n_rows, centres, ZERO, t, indices=indices, span=DS_ROWS)


def synctalk_windows(n_mel: int) -> tuple[np.ndarray, np.ndarray]:
    """SyncTalk's ``AudDataset``: ``int((M - 16) / 80. * 25) + 2`` mel windows, window ``k``
    starting at ``int(80 * k / 25)``, pinned to ``[M - 16, M)`` past the end; returns
    (their starts, which were pinned)."""
    n_windows = int((n_mel - AVE_MEL) / 80.0 * float(NERF_FPS)) + 2
    starts = (80.0 * (np.arange(n_windows) / float(NERF_FPS))).astype(np.int64)
    pinned = starts + AVE_MEL > n_mel
    return np.where(pinned, n_mel - AVE_MEL, starts), pinned


def _explain_synctalk(t: Timeline, s: Schedule, k: int) -> list[str]:
    starts, _ = synctalk_windows(t.n_features("mel80"))
    n_frames = len(starts) + 2 * AVE_COPIES
    return [
        f"{len(starts)} mel windows [int(80 k / 25), +16) through SyncNet's audio encoder; the first and last repeated twice: {n_frames} frames",
        f"frame f's feature = window max(f - 2, 0) (centred); --att 2: features [{k} - 4, {k} + 4), zeros outside",
        reads(s, k),
    ]


@rule(
    "synctalk", "mel80", "inference", "feature f = SyncNet audio encoder of mel [int(80 (f - 2) / 25), +16); frame i reads features [i - 4, i + 4)", _explain_synctalk,
    System("SyncTalk", "SyncNet audio encoder (512) on Wav2Lip mel windows", "25 fps", "int((M - 16) / 80 * 25) + 2 windows + 4 copies",
           "features [i - 4, i + 4); feature f = mel [int(3.2 (f - 2)), +16): 8 x 16 mel frames", "copies at the ends, the last window pinned, zeros for att; fails under 3000 samples",
           "encoder in batches of 64; poses ping-pong", "ZiqiaoPeng/SyncTalk @ d2427a3d"),
)
def synctalk(t: Timeline) -> Schedule:
    """SyncTalk (``--asr_model ave``): ``int((M - 16) / 80 * 25) + 2`` mel windows
    ``[int(80 k / 25), +16)`` (the last pinned to ``[M - 16, M)``) go through SyncNet's audio
    encoder; the first and last features are repeated twice at each end, so frame ``f``
    has window ``max(f - 2, 0)``'s feature, centred on it. ``--att 2`` gives frame ``i``
    features ``[i - 4, i + 4)``, zeros outside: 8 windows of 16 mel frames. Audio under
    3000 samples (fewer than 16 mel frames) makes it raise.
    """
    n_mel = t.n_features("mel80")
    if n_mel < AVE_MEL:
        return failed("synctalk", "mel80", NERF_FPS, f"raises at frame 0: {n_mel} mel frames, fewer than one 16-frame window", ATT_WIDTH, t,
                      resampled=True, exit_frame=0, span=AVE_MEL)
    starts, pinned_windows = synctalk_windows(n_mel)
    n_frames = len(starts) + 2 * AVE_COPIES
    features, _ = att_windows(n_frames, n_frames)
    zero = (features < 0) | (features >= n_frames)
    window = np.clip(features - AVE_COPIES, 0, len(starts) - 1)
    centre = (AVE_MEL - 1) / 2
    raw = np.trunc(80.0 * ((features - AVE_COPIES) / float(NERF_FPS))) + centre
    indices = np.where(zero, np.nan, starts[window] + centre)
    pinned = (pinned_windows[window] & ~zero).any(axis=1)
    return generated("synctalk", "mel80", NERF_FPS, n_mel, raw, ZERO, t, indices=indices, pinned=pinned, span=AVE_MEL)
