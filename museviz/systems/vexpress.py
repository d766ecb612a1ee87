"""V-Express: wav2vec2 states interpolated to twice the frame count, 10 rows a frame; the
video is stretched to the audio.

Source: tencent-ailab/V-Express @ 6814f7db362dc9e26644162034b4d28c5277651a (inference.py
l.245-263, pipelines/v_express_pipeline.py ``prepare_audio_embeddings`` l.374-407,
pipelines/context.py; training datasets/talking_face_video.py l.70-95 and 209-211).
"""

from __future__ import annotations

import numpy as np

from museviz.grid import SAMPLE_RATE
from museviz.rules import ZERO, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, generated, half_pixel, make_schedule, own_frames

SOURCE = "tencent-ailab/V-Express @ 6814f7db"
NOMINAL_FPS = 30.0
CONTEXT_FRAMES = 24  # context_frames
CONTEXT_STRIDE = 20  # context_frames - context_overlap (4)
ROWS_PER_FRAME = 2  # the states are interpolated to 2 V rows
PAD_FRAMES = 2  # num_pad_audio_frames: 4 zero rows each side
WIDTH = 2 * ROWS_PER_FRAME * PAD_FRAMES + ROWS_PER_FRAME  # rows [2i - 4, 2i + 6): 10


def vexpress_frames(n_samples: int) -> tuple[int, int]:
    """(``int(N / 16000 * 30)``, ``V``): the nominal frame count in V-Express's float
    order, and the frames its 24-frame windows with stride 20 cover (the tail dropped)."""
    nominal = int(n_samples / SAMPLE_RATE * NOMINAL_FPS)
    return nominal, (nominal - CONTEXT_FRAMES) // CONTEXT_STRIDE * CONTEXT_STRIDE + CONTEXT_FRAMES


def _rows(n_frames: int) -> np.ndarray:
    return ROWS_PER_FRAME * np.arange(n_frames)[:, None] + np.arange(-ROWS_PER_FRAME * PAD_FRAMES, WIDTH - ROWS_PER_FRAME * PAD_FRAMES)


def _positions(rows: np.ndarray, n_rows: int, n_native: int) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated rows' native positions (``half_pixel``); rows outside ``[0, n_rows)`` are zero."""
    raw, read = half_pixel(rows, n_rows, n_native)
    return raw, np.where((rows < 0) | (rows >= n_rows), np.nan, read)


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    nominal, n_video = vexpress_frames(t.n_samples)
    n_cnn = t.n_features("wav2vec2")
    return [
        f"int({t.n_samples} / 16000 * 30) = {nominal} frames; V = ({nominal} - 24) // 20 * 20 + 24 = {n_video}; shown at V / D = {s.fps_used:.3f} fps",
        f"{n_cnn} states interpolated to 2V = {2 * n_video} rows (align_corners=False): row r reads (r + 0.5) * {n_cnn} / {2 * n_video} - 0.5",
        f"rows [2 * {k} - 4, 2 * {k} + 6) = [{2 * k - 4}, {2 * k + 6}), zero rows outside [0, {2 * n_video})",
        reads(s, k),
    ]


@rule(
    "v-express", "wav2vec2", "inference", "V = ((int(N / 16000 * 30) - 24) // 20) * 20 + 24 frames at V / D fps; states interpolated to 2V rows; rows [2i - 4, 2i + 6)", _explain,
    System("V-Express", "wav2vec2-base-960h last state at 50 Hz, interpolated to 2V rows (align_corners=False)", "30 fps nominal; written at V / duration",
           "V = ((int(N / 16000 * 30) - 24) // 20) * 20 + 24: up to 19 tail frames dropped", "rows [2i - 4, 2i + 6): 5 frames x 2",
           "zeros (4 rows each side)", "24-frame windows, overlap 4, an exact fit", SOURCE),
)
def v_express(t: Timeline) -> Schedule:
    """V-Express: ``int(N / 16000 * 30)`` nominal frames, of which its 24-frame windows
    (stride 20) cover ``V = ((n - 24) // 20) * 20 + 24``: the tail is dropped, and the video
    is written at ``V / duration`` fps, stretched to the audio. wav2vec2's last state (``C``
    tokens at 50 Hz) is interpolated to ``2V`` rows with ``align_corners=False`` (row ``r``
    samples ``(r + 0.5) C / 2V - 0.5``), padded with 4 zero rows each side, and frame ``i``
    reads rows ``[2i - 4, 2i + 6)``. Under 24 nominal frames (0.8 s) there is no window.
    """
    nominal, n_video = vexpress_frames(t.n_samples)
    n_cnn = t.n_features("wav2vec2")
    if nominal < CONTEXT_FRAMES or n_cnn == 0:
        return failed("v-express", "wav2vec2", NOMINAL_FPS, f"raises at frame 0: {nominal} frames are fewer than one {CONTEXT_FRAMES}-frame window", WIDTH, t,
                      resampled=True, exit_frame=0)
    raw, indices = _positions(_rows(n_video), ROWS_PER_FRAME * n_video, n_cnn)
    return generated("v-express", "wav2vec2", n_video / (t.n_samples / SAMPLE_RATE), n_cnn, raw, ZERO, t, indices=indices)


def _explain_train(t: Timeline, s: Schedule, k: int) -> list[str]:
    return [
        f"states interpolated to 2 * {t.n_frames} decoded frames = {2 * t.n_frames} rows (align_corners=False)",
        f"rows [2 * {k} - 4, 2 * {k} + 6) = [{2 * k - 4}, {2 * k + 6}), zeros outside",
        reads(s, k),
    ]


@rule(
    "v-express-train", "wav2vec2", "training", "states interpolated to 2 x the decoded frame count; frame k reads rows [2k - 4, 2k + 6)", _explain_train,
    System("V-Express training", "wav2vec2-base-960h last state, interpolated to 2 x the decoded frames", "the clip's frames, whatever their rate",
           "one per decoded frame", "rows [2k - 4, 2k + 6)", "zeros (4 rows each side)", "20 consecutive frames", SOURCE),
)
def v_express_train(t: Timeline) -> Schedule:
    """V-Express training: each file's last state is interpolated the same way to
    ``2 * video_len`` rows, ``video_len`` the decoded frame count (so the audio is
    stretched onto the clip's frames, whatever their rate), with the same zero-padded
    ``[2k - 4, 2k + 6)`` window; samples are 20 consecutive frames."""
    n_cnn = t.n_features("wav2vec2")
    if t.n_frames == 0 or n_cnn == 0:
        return failed("v-express-train", "wav2vec2", t.fps, "no frames or no audio to interpolate", WIDTH, t, resampled=True)
    raw, indices = _positions(_rows(t.n_frames), ROWS_PER_FRAME * t.n_frames, n_cnn)
    return make_schedule("v-express-train", "wav2vec2", t.fps, n_cnn, raw, ZERO, own_frames(t), t, indices=indices)
