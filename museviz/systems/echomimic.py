"""EchoMimic v1 and V2: MuseTalk v1's whisper50 window, at 24 fps by default.

Sources: antgroup/echomimic @ a53e97040398ddae5d26df0d2054a8f1e9f9df6d (audio code last
changed d5ceccf; src/models/whisper/audio2feature.py l.16-46 and 98-111,
src/pipelines/pipeline_echo_mimic.py l.395-406, infer_audio2vid*.py ``--fps 24``);
antgroup/echomimic_v2 @ a312dec05ec7f9b3e0e2c2802e4a1a5d3788cfb3 (the same audio2feature.py;
infer.py l.181, src/pipelines/pipeline_echomimicv2.py l.467-474).
"""

from __future__ import annotations

from museviz.grid import SAMPLE_RATE
from museviz.rules import CLAMP, Schedule, System, Timeline, reads, rule
from museviz.systems.blocks import failed, generated, musetalk_v1_centres, windows
from museviz.systems.musetalk import TOKEN_WINDOW, V1_LEFT

SOURCE = "antgroup/echomimic @ a53e9704"
DEFAULT_FPS = 24  # --fps in every infer_audio2vid*.py: the pipeline's 25 is overridden
V1_MAX_FRAMES = 1200  # -L
V2_MAX_FRAMES = 240  # args.L in infer.py


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    c = int(k * 50 / s.fps_used)
    return [f"center_idx = int({k} * 50 / {s.fps_used:g}) = {c}", f"tokens [{c} - 4, {c} + 6) = [{c - 4}, {c + 6})", reads(s, k)]


@rule(
    "echomimic", "whisper50", "inference", "24 fps; c = int(i * 50 / 24); tokens [c - 4, c + 6), clamped; min(1200, MuseTalk v1's chunk count) frames", _explain,
    System("EchoMimic", "Whisper tiny encoder, 5 states pre-ln_post (W, 5, 384)", "24 fps (the CLI default)", "min(L = 1200, 1 + first i with int(i * 50 / fps) > W)",
           "tokens [c - 4, c + 6), c = int(i * 50 / 24): centres 2 or 3 tokens apart", "clamp to [0, W - 1]", "context 12 / overlap 3, circular, shifted 2 a step", SOURCE),
)
def echomimic(t: Timeline, fps: float = DEFAULT_FPS, max_frames: int = V1_MAX_FRAMES) -> Schedule:
    """EchoMimic: MuseTalk v1's ``get_sliced_feature`` and ``feature2chunks`` at ``fps``
    (24, the CLI default, not the pipeline's 25), ``min(L, chunks)`` frames with ``L =
    1200``: about 2 frames more than the audio's own count, each centred at
    ``int(i * 50 / 24)`` (2 or 3 tokens apart), generated at 24 fps."""
    return _echomimic("echomimic", t, fps, lambda n_chunks: min(max_frames, n_chunks))


def _echomimic(name: str, t: Timeline, fps: float, count) -> Schedule:
    n_tok = t.n_features("whisper50")
    if n_tok == 0:
        return failed(name, "whisper50", fps, "no whisper50 tokens: the audio is shorter than 20 ms", TOKEN_WINDOW, t)
    centres = musetalk_v1_centres(n_tok, fps)
    n = count(len(centres))
    return generated(name, "whisper50", fps, n_tok, windows(centres[:n] - V1_LEFT, TOKEN_WINDOW), CLAMP, t)


@rule(
    "echomimic-v2", "whisper50", "inference", "as echomimic; min(240, int(D * 24), pose frames, chunks) frames", _explain,
    System("EchoMimic V2", "Whisper tiny encoder, 5 states (the same audio2feature.py)", "24 fps", "min(240, int(duration * 24), pose frames, chunks)",
           "tokens [c - 4, c + 6), c = int(i * 50 / 24)", "clamp to [0, W - 1]", "context 12 / overlap 3, circular, shifted 3 a step", "antgroup/echomimic_v2 @ a312dec0"),
)
def echomimic_v2(t: Timeline, fps: float = DEFAULT_FPS, max_frames: int = V2_MAX_FRAMES, pose_frames: int | None = None) -> Schedule:
    """EchoMimic V2: the same window; ``L = min(240, int(duration * 24), pose frames)`` with
    moviepy's float duration (``N / 16000``), then ``min(L, chunks)``. ``pose_frames`` is the
    length of the pose sequence given with the image (default: long enough)."""
    limit = min(max_frames, int(t.n_samples / SAMPLE_RATE * fps), pose_frames if pose_frames is not None else max_frames)
    return _echomimic("echomimic-v2", t, fps, lambda n_chunks: min(limit, n_chunks))
