"""LatentSync 1.0, 1.5 and 1.6: MuseTalk v1's whisper50 window after forcing 25 fps.

Source: bytedance/LatentSync @ a229c3948406bc2cf6eaf4873e662e70c6a04746 (1.6 release
d058a614, tail fix 76eddc13: latentsync/pipelines/lipsync_pipeline.py:364-398); 1.0
inference bf00e095 and the 1.5 release 75a4a173 (``num_inferences = min(len(video_frames),
len(whisper_chunks)) // num_frames``); training scripts/train_unet.py:274-283. The window
(latentsync/whisper/audio2feature.py ``get_sliced_feature``) is the same in every version.
"""

from __future__ import annotations

import numpy as np

from museviz.rules import CLAMP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import make_schedule, reencoded_frames, round_half_up, windows
from museviz.systems.musetalk import TOKEN_WINDOW, V1_LEFT, _explain_v1, v1_loop

SOURCE = "bytedance/LatentSync @ a229c394"
LATENTSYNC_FPS = 25  # read_video re-encodes every video with ffmpeg -r 25
CHUNK_FRAMES = 16  # frames per inference


def _reencoded(t: Timeline) -> np.ndarray:
    n_out = int(round_half_up(t.video_duration_s * LATENTSYNC_FPS))
    return reencoded_frames(t, LATENTSYNC_FPS, n_out)


def _explain_v10(t: Timeline, s: Schedule, k: int) -> list[str]:
    n_video = len(_reencoded(t))
    n_chunks = t.n_features("whisper50") // 2 + 2
    kept = s.n_chunks
    return [f"16 * floor(min({n_video} frames at 25 fps, {n_chunks} chunks) / 16) = {kept} frames made", *_explain_v1(t, s, k)]


def _explain_train(t: Timeline, s: Schedule, k: int) -> list[str]:
    c = 2 * k
    return [f"get_sliced_feature(fps=25): c = int({k} * 50 / 25) = {c}", f"tokens [{c - 4}, {c + 6})", reads(s, k)]


@rule(
    "latentsync", "whisper50", "inference", "video forced to 25 fps; then c = int(i * 50 / 25); tokens [c - 4, c + 6), clamped", _explain_v1,
    System("LatentSync 1.6", "Whisper tiny encoder, 5 states (W, 5, 384)", "25 fps (the video is re-encoded with -r 25)", "W // 2 + 2 (the video looped or cut to fit)",
           "tokens [c - 4, c + 6), c = 2i", "clamp to [0, W - 1]", "16-frame chunks, ceil(n / 16), the last one short", SOURCE),
)
def latentsync(t: Timeline) -> Schedule:
    """LatentSync (1.6): MuseTalk v1's rule after re-encoding the video at 25 fps.

    Output frame ``k`` of the 25 fps video shows the last source frame whose time, counted
    from the first frame, rounds (half away from zero, as ffmpeg's ``fps`` filter does) to
    slot ``k`` or earlier, so the picture paired with chunk ``k`` is that frame: duplicates
    and drops show as local drift.
    """
    return v1_loop("latentsync", t, float(LATENTSYNC_FPS), _reencoded(t))


@rule(
    "latentsync-1.5", "whisper50", "inference", "as latentsync, but 16 * floor(min(frames at 25 fps, W // 2 + 2) / 16) frames", _explain_v10,
    System("LatentSync 1.0 and 1.5", "Whisper tiny encoder, 5 states", "25 fps (re-encoded)", "16 * floor(min(frames at 25 fps, W // 2 + 2) / 16)",
           "tokens [c - 4, c + 6), c = 2i", "clamp to [0, W - 1]", "16-frame chunks, the remainder dropped; a short video shortens the output",
           "bytedance/LatentSync @ 75a4a173 (1.5), bf00e095 (1.0)"),
)
def latentsync_15(t: Timeline) -> Schedule:
    """LatentSync 1.0 and the 1.5 release: the same windows, but ``num_inferences =
    min(len(video_frames), len(whisper_chunks)) // 16``, so only ``16 * floor(min(frames at
    25 fps, W // 2 + 2) / 16)`` frames are made: the remainder is dropped, and a video
    shorter than its audio shortens the output."""
    full = v1_loop("latentsync-1.5", t, float(LATENTSYNC_FPS), _reencoded(t))
    n_video = int(round_half_up(t.video_duration_s * LATENTSYNC_FPS))
    n = CHUNK_FRAMES * (min(n_video, full.n_chunks) // CHUNK_FRAMES)
    error = full.error or (None if n else f"makes no frame: {min(n_video, full.n_chunks)} frames are fewer than one {CHUNK_FRAMES}-frame chunk")
    return make_schedule("latentsync-1.5", "whisper50", full.fps_used, full.n_valid, full.raw[:n], CLAMP, full.source_frame[:n], t, error=error)


@rule(
    "latentsync-train", "whisper50", "training", "video forced to 25 fps; frame k reads tokens [2k - 4, 2k + 6), clamped", _explain_train,
    System("LatentSync training (1.5 on)", "Whisper tiny encoder, 5 states", "25 fps (preprocessing re-encodes)", "one per frame at 25 fps",
           "tokens [2k - 4, 2k + 6)", "clamp (start = randint(0, total - 16) reaches both edges)", "16 frames per sample", SOURCE),
)
def latentsync_train(t: Timeline) -> Schedule:
    """LatentSync training: ``crop_overlap_audio_window`` reads frames ``start .. start + 15``
    with ``get_sliced_feature(fps=25)``: frame ``k`` reads tokens ``[2k - 4, 2k + 6)``,
    clamped. From 1.5 on ``start = randint(0, total - 16)`` (1.0 kept 8 frames from each
    end), so every frame of a clip of 16 frames or more is trained on, edges clamped."""
    source = _reencoded(t)
    n_tok = t.n_features("whisper50")
    raw = windows(2 * np.arange(len(source)) - V1_LEFT, TOKEN_WINDOW)
    dropped = np.full(len(source), len(source) < CHUNK_FRAMES)
    return make_schedule("latentsync-train", "whisper50", float(LATENTSYNC_FPS), n_tok, raw, CLAMP, source, t, dropped=dropped)
