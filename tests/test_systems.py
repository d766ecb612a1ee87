"""Every system's rule against its own code, restated plainly: the loops and expressions of
systems/wav2vec-era.md and systems/mel-era.md, written as the systems write them (lists,
Python floats, the libraries' arithmetic), compared on every frame for audio lengths from
400 samples to 10 minutes.

Each ``literal_*`` returns ``(windows, exit_frame)``: one list per frame of what it reads,
integer indices (-1: a zero feature) or fractional positions on the rule's grid (None: a
zero feature), up to the frame where the system raises (``exit_frame``, or None).
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from museviz.rules import RULES, Timeline
from museviz.systems import echomimic, joyvasa, nerf

SR = 16000
MINUTE = 60 * SR
# Dense near the small lengths where the systems' edge cases live, then spread out to 10 minutes.
LENGTHS = sorted(
    set(range(400, 8000, 23))
    | {int(n) for n in np.geomspace(8000, 10 * MINUTE, 70)}
    | {10 * MINUTE, 40000, 100000, 4480, 18560, 126720, 160000, 240000, 400000, 1307973, 136963, 645, 4720, 4721, 2640, 2999, 3000, 6911, 6912, 12799, 12800,
       80000, 80001, 960000, 960640, 1920640 + 7, 1920, 1921, 480, 479}
)
LONG = 2 * MINUTE  # past this, the slower checks (other rates, training rules) take every eighth length


def lengths(every_long: int = 1, every_short: int = 1) -> list[int]:
    """Every ``every_short``-th length up to 2 minutes, every ``every_long``-th past it, and 10 minutes."""
    short, long = [n for n in LENGTHS if n <= LONG], [n for n in LENGTHS if n > LONG][::every_long]
    return short[::every_short] + long + ([10 * MINUTE] if 10 * MINUTE not in long else [])


def clip(n_samples: int, fps: float = 25.0) -> Timeline:
    """``n_samples`` of audio and a video of the same length at ``fps``."""
    return Timeline.constant_rate(fps, n_samples / SR, n_samples / SR)


def agree(name: str, n_samples: int, literal, t: Timeline | None = None, **kwargs):
    """The rule's windows (and exit) equal the literal code's, frame by frame."""
    t = t or clip(n_samples)
    fn = RULES[name].apply
    s = RULES[name].schedule(t) if not kwargs else fn(t, **kwargs)
    windows, exit_frame = literal
    assert s.exit_frame == exit_frame, (name, n_samples, s.exit_frame, exit_frame, s.error)
    assert s.n_chunks == len(windows), (name, n_samples, s.n_chunks, len(windows))
    if not windows:
        return s
    if s.resampled:
        want = np.array([[np.nan if p is None else p for p in w] for w in windows], dtype=np.float64)
        assert want.shape == s.indices.shape, (name, n_samples)
        same = np.isclose(s.indices, want, atol=1e-6, rtol=0) | (np.isnan(s.indices) & np.isnan(want))
        assert same.all(), (name, n_samples, np.argwhere(~same)[:3], s.indices[~same][:3], want[~same][:3])
    else:
        got, windows = s.indices.tolist(), [[-1 if p is None else p for p in w] for w in windows]
        assert got == windows, (name, n_samples, next(((i, a, b) for i, (a, b) in enumerate(zip(got, windows)) if a != b), None))
    return s


# -- the building blocks, as the libraries compute them -----------------------------------------


def cnn_frames(n: int) -> int:
    """wav2vec2's / HuBERT's feature extractor, layer by layer: ``(n - kernel) // stride + 1``."""
    for kernel, stride in zip((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)):
        n = (n - kernel) // stride + 1 if n >= kernel else 0
    return n


def interpolate_align_corners(n_in: int, n_out: int) -> list[float]:
    """``F.interpolate(size=n_out, mode='linear', align_corners=True)``: where output ``j`` reads."""
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return [scale * j for j in range(n_out)]


def interpolate_half_pixel(n_in: int, n_out: int) -> list[float]:
    """``F.interpolate(size=n_out, mode='linear')`` (align_corners=False), as ATen's CPU kernel:
    the source index clamped at 0, the right neighbour only when there is one."""
    scale = n_in / n_out
    out = []
    for j in range(n_out):
        src = max(scale * (j + 0.5) - 0.5, 0.0)
        i0 = int(src)
        i1 = i0 + 1 if i0 < n_in - 1 else i0
        out.append(i0 + (src - i0) * (i1 - i0))
    return out


def speech_frames(n: int) -> int:
    """python_speech_features ``framesig``: 25 ms frames every 10 ms at 16 kHz."""
    frame_len, frame_step = 400, 160
    return 1 if n <= frame_len else 1 + int(math.ceil((1.0 * n - frame_len) / frame_step))


def get_audio_features(features: list, index: int, left: int = 4, width: int = 8) -> list:
    """AD-NeRF's ``get_audio_features(att_mode=2)`` over a list (None: a zero row), with
    ``zeros_like(auds[:pad])``'s length."""
    lo, hi = index - left, index - left + width
    pad_left = pad_right = 0
    if lo < 0:
        pad_left, lo = -lo, 0
    if hi > len(features):
        pad_right, hi = hi - len(features), len(features)
    auds = features[lo:hi]
    if pad_left > 0:
        auds = [None] * len(auds[:pad_left]) + auds
    if pad_right > 0:
        auds = auds + [None] * len(auds[:pad_right])
    return auds


def window_of_features(features: list, n_frames: int, left: int = 4, width: int = 8):
    """``get_audio_features`` for every frame; (windows, the first frame whose window is short)."""
    windows = []
    for i in range(n_frames):
        w = get_audio_features(features, i, left, width)
        if len(w) != width:
            return windows, i
        windows.append(w)
    return windows, None


# -- wav2vec2-era -------------------------------------------------------------------------------


def literal_hallo(n: int, fps: int = 25, clip_length: int = 16, pad_per_frame: int | None = None, trim: bool = True):
    """hallo/datasets/audio_processor.py ``preprocess`` + scripts/inference.py ``process_audio_emb``."""
    pad_per_frame = pad_per_frame or SR // fps
    seq_len = math.ceil(n / SR * fps)
    audio_length = seq_len
    n_audio = n
    if clip_length > 0 and seq_len % clip_length != 0:
        n_audio += (clip_length - seq_len % clip_length) * pad_per_frame
        seq_len += clip_length - seq_len % clip_length
    positions = interpolate_align_corners(cnn_frames(n_audio), seq_len)
    out = audio_length if trim else seq_len
    return [[positions[max(min(i + j, seq_len - 1), 0)] for j in range(-2, 3)] for i in range(out)], None


def literal_hallo2(n: int):
    """cut_audio (pydub, 60 s), preprocess per segment (padding the last one only when its own
    seq_len % 16), the embeddings concatenated, ``times = T // 16``, the output cut to audio_length."""
    length_ms = round(1000 * (n / SR))
    starts_ms = list(range(0, length_ms, 60000))
    positions, audio_length, processed = [], 0, 0
    for k, start_ms in enumerate(starts_ms):
        end_ms = min(start_ms + 60000, length_ms)
        n_seg = end_ms * 16 - start_ms * 16
        seq_len = math.ceil(n_seg / SR * 25)
        audio_length += seq_len
        if k == len(starts_ms) - 1 and seq_len % 16 != 0:
            all_len = seq_len + processed
            n_seg += (16 - all_len % 16) * 640
            seq_len += 16 - all_len % 16
        segment_start = start_ms * 16
        positions += [(segment_start + 320 * p) / 320 for p in interpolate_align_corners(cnn_frames(n_seg), seq_len)]
        processed += seq_len
    times = len(positions) // 16
    out = min(times * 16, audio_length)
    return [[positions[max(min(i + j, len(positions) - 1), 0)] for j in range(-2, 3)] for i in range(out)], None


def literal_float(n: int):
    """FLOAT: ``T = ceil(N * fps / sr)``, replicate-padded to ``int(T * 16000 / 25)`` samples,
    50-frame chunks after 10 previous frames (zeros for the first), each frame attending
    ``mask[i, max(0, i - 2):i + 3]`` of its 60; what lies past the chunk is not attended
    (here: the last attended repeated, as museviz draws it)."""
    seq_len = math.ceil(n * 25 / SR)
    positions = interpolate_align_corners(cnn_frames(int(seq_len * 16000 / 25)), seq_len)
    windows = []
    for c in range(math.ceil(seq_len / 50)):
        current = [positions[min(50 * c + j, seq_len - 1)] for j in range(50)]
        previous = [None] * 10 if c == 0 else [positions[50 * c - 10 + j] for j in range(10)]
        sequence = previous + current
        for p in range(10, 60):
            if 50 * c + p - 10 >= seq_len:
                break
            attended = sequence[max(0, p - 2) : p + 3]
            windows.append(attended + [attended[-1]] * (5 - len(attended)))
    return windows, None


def literal_aniportrait(n: int):
    seq_len = math.ceil(n / SR * 30)
    chunks = [n - s for s in range(0, n, 80000)]
    if len(chunks) < 2:
        return [], 0
    pose_len = sum(150 for _ in chunks[:-2]) + (150 + seq_len % 150)
    positions = interpolate_align_corners(cnn_frames(n), seq_len)
    windows = [[positions[i]] for i in range(min(seq_len, pose_len))]
    return windows, (pose_len if pose_len < seq_len else None)


def literal_v_express(n: int):
    duration = n / SR
    init_video_length = int(duration * 30.0)
    num_windows = (init_video_length - 24) // 20 + 1
    if num_windows <= 0:
        return [], 0
    video_length = (num_windows - 1) * 20 + 24
    rows = interpolate_half_pixel(cnn_frames(n), 2 * video_length)
    padded = [None] * 4 + rows + [None] * 4
    return [padded[2 * i : 2 * (i + 4 + 1)] for i in range(video_length)], None


def literal_sonic(n: int):
    audio_len = min(n // 640, 10000)
    tokens = list(range(2 * audio_len))
    prompts = [None] * 4 + tokens + [None] * 6
    step = 2
    return [prompts[i * 2 * step : i * 2 * step + 10] for i in range(audio_len // step)], None


def get_sliced_feature(length: int, vid_idx: int, fps: float) -> list[int]:
    center_idx = int(vid_idx * 50 / fps)
    return [min(max(idx, 0), length - 1) for idx in range(center_idx - 2 * 2, center_idx + (2 + 1) * 2)]


def feature2chunks(length: int, fps: float) -> list[list[int]]:
    chunks, i = [], 0
    while True:
        start_idx = int(i * (50.0 / fps))
        chunks.append(get_sliced_feature(length, i, fps))
        i += 1
        if start_idx > length:
            return chunks


def literal_echomimic(n: int, fps: float = 24, L: int = 1200):
    chunks = feature2chunks(n // 320, fps)
    return chunks[: min(L, len(chunks))], None


def literal_echomimic_v2(n: int, fps: float = 24):
    L = min(240, int(n / SR * fps))
    chunks = feature2chunks(n // 320, fps)
    return chunks[: min(L, len(chunks))], None


def literal_joyvasa(n: int, fps: int = 25):
    """gen_motion_sequence: ``F.pad(audio, (1280, 640))``, chunks of 100 frames encoded alone
    (each reflect-padded by 40), tokens averaged in pairs; positions on the hubert grid."""
    n_audio = n + 1280 + 640
    clip_len = int(n_audio / 16000 * fps)
    n_subdivision = math.ceil(clip_len / 100) if clip_len > 100 else 1
    windows = []
    for k in range(n_subdivision):
        start = round(100 * k * 640)
        n_tokens = cnn_frames(round(100 * (k + 1) * 640) - start + 80)
        halves = interpolate_half_pixel(n_tokens, n_tokens // 2)
        for j, token in enumerate(halves):
            if len(windows) == clip_len:
                break
            centre = start + 320 * token - 40 + 200 - 1280
            windows.append([(centre - 200) / 320])
    return windows, None


# -- mel-era ---------------------------------------------------------------------------------


def literal_sadtalker(n: int):
    bit_per_frames = SR / 25
    num_frames = int(n / bit_per_frames)
    if num_frames == 0:
        return [], 0
    n_mel = 1 + int(num_frames * bit_per_frames) // 200
    windows = []
    for i in range(num_frames):
        start_idx = int(80.0 * ((i - 2) / float(25)))
        windows.append([min(max(item, 0), n_mel - 1) for item in range(start_idx, start_idx + 16)])
    return windows, None


def literal_dinet(n: int):
    rows = len(range(0, len(range(0, speech_frames(n), 2)), 2))
    if len(range(5, rows + 2)) < 5:
        return [], 0
    padded = [0, 0] + list(range(rows)) + [rows - 1, rows - 1]
    return [padded[end - 5 : end] for end in range(5, rows + 4)], None


def literal_ip_lap(n: int, n_template: int):
    n_mel = 1 + n // 200
    mel_chunks, k = [], 0
    while True:
        start_idx = int(k * (80.0 / 25))
        if start_idx + 16 > n_mel:
            break
        mel_chunks.append(list(range(start_idx, start_idx + 16)))
        k += 1
    if len(mel_chunks) - 2 <= 0:
        return [], None
    sequence = list(range(n_template))
    num_of_repeat = len(mel_chunks) // n_template + 1
    sequence = (sequence + list(reversed(sequence))) * ((num_of_repeat + 1) // 2)
    written = []
    for batch_idx, b in enumerate(range(0, len(mel_chunks) - 2)):
        T_mel = []
        for mel_chunk_idx in range(b, b + 5):
            T_mel.append(mel_chunks[max(0, mel_chunk_idx - 2)])
            if mel_chunk_idx >= len(sequence):
                return written, len(written)
            sequence[mel_chunk_idx]
        written.append(T_mel[2])
        if batch_idx == 0:
            written += [T_mel[2], T_mel[2]]
    return written, None


def literal_diff2lip(n: int, n_video: int):
    n_mel = 1 + n // 200
    mels, i = [], 1
    while True:
        start_idx = int(80.0 * (max(i - 5 // 2, 0) / float(25)))
        if len(range(start_idx, min(start_idx + 16, n_mel))) != 16:
            break
        mels.append(list(range(start_idx, start_idx + 16)))
        i += 1
    return mels[: min(n_video, len(mels))], None


def literal_talklip(n: int, n_video: int):
    n_rows = math.ceil(speech_frames(n) / 4)
    return [[i] for i in range(n_rows)], None


def literal_talklip_frames(n: int, n_video: int) -> list[int]:
    """``audio_visual_pad`` over the video's frame numbers."""
    audio, video = list(range(math.ceil(speech_frames(n) / 4))), list(range(n_video))
    diff = len(audio) - len(video)
    if diff > 0:
        repeat = math.ceil(len(audio) / len(video))
        video = [v for v in video for _ in range(repeat)]
    diff = len(audio) - len(video)
    if diff == 0:
        diff = len(video)
    return video[:diff]


def hubert_rows(n: int) -> int:
    kernel, stride = 400, 320
    return (n - (kernel - stride)) // stride


def literal_geneface(n: int):
    len_mel = hubert_rows(n)
    num_to_pad = 0 if len_mel % 8 == 0 else 8 - len_mel % 8
    rows = list(range(len_mel)) + [None] * num_to_pad
    frames = [rows[int(math.floor(j * 2.0))] for j in range(len(rows) // 2)]
    if not frames:
        return [], None
    windows = []
    for i in range(len(frames)):
        idx = min(max(0, i), len(frames) - 1)
        windows.append([frames[min(max(f, 0), len(frames) - 1)] for f in range(idx - 2, idx + 3)])
    return windows, None


def literal_genefacepp(n: int, smo_win_size: int = 5):
    hubert = list(range(hubert_rows(n)))
    hubert = hubert[: len(hubert) // 8 * 8]
    frames = [(hubert[2 * j] + hubert[2 * j + 1]) / 2 for j in range(len(hubert) // 2)]
    if not frames:
        return [], None
    return window_of_features(frames, len(frames), smo_win_size // 2, smo_win_size)


def literal_er_nerf(n: int):
    hidden = list(range(hubert_rows(n)))
    if len(hidden) % 2 == 1:
        hidden = hidden[:-1]
    features = [(hidden[2 * j], hidden[2 * j + 1]) for j in range(len(hidden) // 2)]
    if not features:
        return [], None
    windows, short = window_of_features(features, len(features))
    return [[r for f in w for r in ((-1, -1) if f is None else f)] for w in windows], short


def literal_rad_nerf(n: int):
    """Each feature (a stack of 16 rows) as the centre of its rows: padded row ``p`` is row ``p - 8``."""
    num_frames = int(round(n / SR * 50))
    rows = [k for k in range(0, num_frames - 1, 1)]
    padded = [None] * 8 + rows + [None] * 8
    features = [(w - 8 + 7.5, padded[w : w + 16]) for w in range(0, len(padded) - 16, 2)]
    if not features:
        return [], 0
    windows, short = window_of_features([centre for centre, _ in features], len(features))
    return windows, short


def literal_synctalk(n: int):
    """Each feature (SyncNet's audio encoder over 16 mel frames) as the centre of its window."""
    n_mel = 1 + n // 200
    if n_mel < 16:
        return [], 0
    data_len = int((n_mel - 16) / 80.0 * float(25)) + 2
    outputs = []
    for k in range(data_len):
        start_idx = int(80.0 * (k / float(25)))
        end_idx = start_idx + 16
        if end_idx > n_mel:
            end_idx = n_mel
            start_idx = end_idx - 16
        outputs.append((start_idx + end_idx - 1) / 2)
    features = [outputs[0]] * 2 + outputs + [outputs[-1]] * 2
    return window_of_features(features, len(features))


def literal_makeittalk(n: int):
    if n % 256 == 0:
        n += 1
    n_rows = (n + 2 * 512 - 1024) // 256 + 1
    windows = [list(range(i, i + 18)) for i in range(0, n_rows - 18, 1)]
    if not windows:
        return [], 0
    kept = []
    for s in range(0, len(windows), 512):
        segment = windows[s : s + 512]
        if len(segment) < 10:
            continue
        kept += segment
    if not kept:
        return [], 0
    return kept, None


def literal_pc_avs(n: int):
    n_cols = (n + 2 * 1120 - 1280) // 160 + 1 if n % 160 == 0 else (n + 2 * 1120 - 1280) // 160 + 2
    targets = np.arange(2, n_cols // 4 - 2)
    return [list(range((f - 2) * 4, (f - 2) * 4 + 20)) for f in targets.tolist()], None


def live_steps(n: int, l: int = 10, B: int = 16) -> int:
    steps = 0
    while 320 * (l + 2 * B * steps) < n:
        steps += 1
    return steps


def literal_livetalking_wav2lip(n: int, l: int = 10, r: int = 10, B: int = 16):
    windows = []
    for k in range(live_steps(n, l, B)):
        frames = list(range(2 * B * k, 2 * B * k + l + r + 2 * B))
        mel_len = 1 + len(frames) * 320 // 200
        left = max(0, l * 80 / 50)
        i = 0
        while i < (len(frames) - l - r) / 2:
            start_idx = int(left + i * (80.0 / 25))
            cols = range(mel_len - 16, mel_len) if start_idx + 16 > mel_len else range(start_idx, start_idx + 16)
            windows.append([(frames[0] * 320 + 200 * c) / 200 for c in cols])
            i += 1
    return windows, None


def literal_livetalking_musetalk(n: int, l: int = 10, B: int = 16):
    windows = []
    for k in range(live_steps(n, l, B)):
        length = 1500
        for i in range(B):
            vid_idx = i + l / 2
            center_idx = int(vid_idx * 2)
            left_idx, right_idx = int(center_idx - 0 * 2), int(center_idx + 5 * 2)
            windows.append([2 * B * k + min(max(idx, 0), length - 1) for idx in range(left_idx, right_idx)])
    return windows, None


def literal_latentsync_15(n: int, n_video: int):
    chunks = feature2chunks(n // 320, 25)
    num_inferences = min(n_video, len(chunks)) // 16
    return chunks[: 16 * num_inferences], None


def literal_wav2lip_loop(n: int, fps: float):
    n_mel = 1 + n // 200
    if n_mel < 16:
        return [], None
    chunks, i = [], 0
    while True:
        start_idx = int(i * (80.0 / fps))
        if start_idx + 16 > n_mel:
            chunks.append(list(range(n_mel - 16, n_mel)))
            return chunks, None
        chunks.append(list(range(start_idx, start_idx + 16)))
        i += 1


INFERENCE = {
    "hallo": lambda n, t: literal_hallo(n),
    "hallo2": lambda n, t: literal_hallo2(n),
    "memo": lambda n, t: literal_hallo(n, fps=30, trim=False),
    "float": lambda n, t: literal_float(n),
    "aniportrait": lambda n, t: literal_aniportrait(n),
    "v-express": lambda n, t: literal_v_express(n),
    "sonic": lambda n, t: literal_sonic(n),
    "echomimic": lambda n, t: literal_echomimic(n),
    "echomimic-v2": lambda n, t: literal_echomimic_v2(n),
    "joyvasa": lambda n, t: literal_joyvasa(n),
    "sadtalker": lambda n, t: literal_sadtalker(n),
    "dinet": lambda n, t: literal_dinet(n),
    "ip-lap": lambda n, t: literal_ip_lap(n, t.n_frames),
    "diff2lip": lambda n, t: literal_diff2lip(n, t.n_frames),
    "talklip": lambda n, t: literal_talklip(n, t.n_frames),
    "geneface": lambda n, t: literal_geneface(n),
    "geneface++": lambda n, t: literal_genefacepp(n),
    "er-nerf": lambda n, t: literal_er_nerf(n),
    "rad-nerf": lambda n, t: literal_rad_nerf(n),
    "synctalk": lambda n, t: literal_synctalk(n),
    "makeittalk": lambda n, t: literal_makeittalk(n),
    "pc-avs": lambda n, t: literal_pc_avs(n),
    "livetalking-wav2lip": lambda n, t: literal_livetalking_wav2lip(n),
    "livetalking-musetalk": lambda n, t: literal_livetalking_musetalk(n),
    "latentsync-1.5": lambda n, t: literal_latentsync_15(n, t.n_frames),
    "videoretalking": lambda n, t: literal_wav2lip_loop(n, t.fps),
}


@pytest.mark.parametrize("name", list(INFERENCE))
def test_rule_agrees_with_the_systems_own_code_on_every_frame_from_400_samples_to_10_minutes(name):
    for n in lengths():
        t = clip(n)
        agree(name, n, INFERENCE[name](n, t), t)


@pytest.mark.parametrize("fps", [23.976, 24.0, float(Fraction(30000, 1001)), 30.0, 50.0])
def test_videoretalking_is_wav2lips_loop_at_the_clips_own_rate(fps):
    for n in lengths(every_long=8, every_short=3):
        t = clip(n, fps)
        agree("videoretalking", n, literal_wav2lip_loop(n, fps), t)


@pytest.mark.parametrize("fps", [24, 25])
def test_echomimic_at_its_24fps_default_and_at_25(fps):
    for n in lengths(every_long=8, every_short=3):
        agree("echomimic", n, literal_echomimic(n, fps), fps=fps)


@pytest.mark.parametrize("smo_win_size, pitch", [(3, False), (5, True)])
def test_genefacepp_window_and_rate_halving_are_the_checkpoints_settings(smo_win_size, pitch):
    for n in lengths(every_long=8, every_short=3):
        windows, short = literal_genefacepp(n, smo_win_size)
        if pitch:
            windows = [[None if p is None else p - 0.5 for p in w] for w in windows]
        agree("geneface++", n, (windows, short), smo_win_size=smo_win_size, pitch=pitch)


def test_ip_lap_raises_where_a_short_template_runs_out():
    one_frame = Timeline(np.zeros(1), 25.0, 0.04, SR)  # 1 s of audio, a 1-frame template: L = 21 is odd
    s = agree("ip-lap", SR, literal_ip_lap(SR, 1), one_frame)
    assert s.exit_frame == 20 and "raises at frame 20" in s.error
    for n_template in (2, 3, 7):
        for n in range(4000, 60000, 1777):
            agree("ip-lap", n, literal_ip_lap(n, n_template), Timeline(np.arange(n_template) / 25, 25.0, n_template / 25, n))


def test_talklip_repeats_each_video_frame_when_the_audio_is_longer():
    n = 3 * SR
    short_video = Timeline(np.arange(20) / 25, 25.0, 0.8, n)
    s = agree("talklip", n, literal_talklip(n, 20), short_video)
    assert s.source_frame.tolist() == literal_talklip_frames(n, 20)
    assert s.source_frame[:8].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]  # ceil(75 / 20) = 4: slow motion


# -- training rules ------------------------------------------------------------------------------


def literal_sampled(n_video: int, first_start: int, last_start: int, length: int) -> list[bool]:
    """Frames some ``randint(first_start, last_start)`` sample of ``length`` frames covers."""
    covered = [False] * n_video
    for start in range(first_start, last_start + 1):
        for k in range(start, start + length):
            covered[k] = True
    return covered


def test_hallo_train_reads_14_frame_samples_without_clamp():
    for n in lengths(every_long=8, every_short=4):
        t = clip(n)
        seq_len = math.ceil(n / SR * 25)
        positions = interpolate_align_corners(cnn_frames(n), seq_len)
        sampled = literal_sampled(t.n_frames, 2, t.n_frames - 14 - 2 - 1, 14)
        s = RULES["hallo-train"].schedule(t)
        for k in range(t.n_frames):
            rows = list(range(k - 2, k + 3))
            usable = sampled[k] and all(0 <= r < seq_len for r in rows)
            assert s.dropped[k] == (not usable), (n, k)
            if usable:
                assert np.allclose(s.indices[k], [positions[r] for r in rows], atol=1e-6)


def test_memo_train_stretches_the_audio_onto_the_decoded_frames():
    for n in lengths(every_long=8, every_short=4):
        t = clip(n)
        positions = interpolate_align_corners(cnn_frames(n), t.n_frames)
        sampled = literal_sampled(t.n_frames, 16, t.n_frames - 16 - 2 - 1, 16)
        s = RULES["memo-train"].schedule(t)
        assert s.dropped.tolist() == [not c for c in sampled], n
        for k in np.flatnonzero(~s.dropped):
            assert np.allclose(s.indices[k], [positions[r] for r in range(k - 2, k + 3)], atol=1e-6)


def test_v_express_train_interpolates_to_twice_the_decoded_frames():
    for n in lengths(every_long=8, every_short=4):
        t = clip(n)
        if not cnn_frames(n):
            continue
        rows = interpolate_half_pixel(cnn_frames(n), 2 * t.n_frames)
        padded = [None] * 4 + rows + [None] * 4
        agree("v-express-train", n, ([padded[2 * i : 2 * i + 10] for i in range(t.n_frames)], None), t)


def test_joyvasa_train_crops_each_frames_own_audio():
    for n in lengths(every_long=8, every_short=4):
        t = clip(n)
        windows = []
        for k in range(t.n_frames):
            crop_start = round(k * 640)
            token = interpolate_half_pixel(cnn_frames(640 + 80), 1)[0]  # the crop's first frame: tokens 0 and 1
            windows.append([(crop_start + 320 * token - 40 + 200 - 200) / 320])
        agree("joyvasa-train", n, (windows, None), t)


def test_latentsync_train_clamps_every_frame_of_a_16_frame_clip_or_longer():
    for n in lengths(every_long=8, every_short=4):
        t = clip(n)
        s = agree("latentsync-train", n, ([get_sliced_feature(max(n // 320, 1), k, 25) for k in range(t.n_frames)], None), t)
        assert s.dropped.all() == (t.n_frames < 16)


# -- the worked examples of the notes ----------------------------------------------------------


@pytest.mark.parametrize(
    "n, counts",
    [
        (40000, dict(hallo=63, memo=80, echomimic=62, latentsync=64, sonic=31, **{"v-express": 64}, float=63, joyvasa=65)),
        (100000, dict(hallo=157, memo=192, echomimic=152, latentsync=158, sonic=78, **{"v-express": 184}, float=157, joyvasa=159)),
        (4480, dict(hallo=8, memo=16, echomimic=9, latentsync=9, sonic=3, **{"v-express": 0}, float=7, joyvasa=10)),
    ],
)
def test_worked_examples_frame_counts(n, counts):
    t = clip(n)
    for name, count in counts.items():
        assert RULES[name].schedule(t).n_chunks == count, name


def test_worked_examples_windows_of_40000_samples():
    t = clip(40000)
    hallo = RULES["hallo"].schedule(t)
    rows = np.round(hallo.indices * 63 / 125).astype(int)  # CNN positions back to frames: C = 126, T = 64
    assert rows[0].tolist() == [0, 0, 0, 1, 2] and rows[62].tolist() == [60, 61, 62, 63, 63]
    echo = RULES["echomimic"].schedule(t)
    assert echo.indices[0].tolist() == [0] * 5 + [1, 2, 3, 4, 5]
    assert echo.indices[1].tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]
    assert (echo.indices[61] == 124).sum() == 9
    vx = RULES["v-express"].schedule(t)
    assert vx.fps_used == pytest.approx(25.6)
    assert RULES["v-express"].schedule(clip(100000)).fps_used == pytest.approx(29.44)
    assert RULES["sonic"].schedule(clip(40000)).n_chunks * 2 - 1 == 61
    assert RULES["hallo"].schedule(clip(4480)).n_chunks == 8 and math.ceil(4480 * 25 / SR) == 7


def test_run_verified_edge_cases():
    assert RULES["joyvasa"].schedule(clip(126720)).n_chunks == 200  # the float undercounts: not 201
    assert RULES["hallo2"].schedule(clip(1307973)).n_chunks == 2032  # the tail lost: 2032 of 2044
    assert RULES["hallo2"].schedule(clip(645)).n_chunks == 1  # pydub's whole ms: one frame fewer than hallo
    assert RULES["makeittalk"].schedule(clip(136963)).n_chunks == 512  # 518 windows, the last 6 skipped
    assert RULES["dinet"].schedule(clip(4720)).exit_frame == 0 and RULES["dinet"].schedule(clip(4721)).exit_frame is None
    assert RULES["synctalk"].schedule(clip(2999)).exit_frame == 0 and RULES["synctalk"].schedule(clip(3000)).error is None
    assert RULES["pc-avs"].schedule(clip(1920)).n_chunks == 0 and RULES["pc-avs"].schedule(clip(1921)).n_chunks > 0
    for n in (160000, 240000, 400000):
        ani = RULES["aniportrait"].schedule(clip(n))
        assert ani.exit_frame == math.ceil(n / SR * 30) - 150, n
    assert RULES["aniportrait"].schedule(clip(80000)).exit_frame == 0
    assert RULES["echomimic-v2"].schedule(clip(666)).n_chunks == 0 and RULES["echomimic-v2"].schedule(clip(667)).n_chunks == 1


def test_musetalk_15_training_reads_the_wrong_slice_past_30s():
    from museviz.systems.musetalk import training_slice_start, training_slice_tokens

    assert training_slice_start(700) == (600, 100)  # the 4 s .. 34 s slice
    assert training_slice_tokens(700) - 2 * 100 == 1196  # window [1196, 1206) in that slice
    assert training_slice_tokens(700) == 2 * 700 - 4  # the right audio
    assert training_slice_start(760) == (10, 0)  # wrapped into the first 30 s
    assert training_slice_tokens(760) == 2 * 10 - 4  # 30 s early


def test_joyvasa_frame_hears_80ms_before_it_is_shown_and_training_does_not():
    t = clip(5 * SR)
    inference, training = RULES["joyvasa"].schedule(t), RULES["joyvasa-train"].schedule(t)
    frame_s = 1 / 25
    assert np.allclose(inference.centre_s[10:100] - (np.arange(10, 100) + 0.5) * frame_s, -2 * frame_s)
    assert np.allclose(training.centre_s[10:100] - (np.arange(10, 100) + 0.5) * frame_s, 0.0)
    assert joyvasa.joyvasa_frames(4480) == 10 and nerf.deepspeech_rows(SR) == 50 and echomimic.DEFAULT_FPS == 24


@pytest.mark.parametrize(
    "t",
    [
        Timeline(np.zeros(1), 25.0, 0.04, 0),
        Timeline(np.zeros(1), 25.0, 0.04, 5),
        Timeline(np.zeros(0), 25.0, 0.0, SR),
        Timeline(np.arange(5) / 25, 25.0, 0.2, 3200),
        Timeline.constant_rate(0.5, 10),
        Timeline.constant_rate(1000, 0.5),
    ],
    ids=["no-audio", "5-samples", "no-frames", "5-frames", "0.5fps", "1000fps"],
)
def test_every_rule_and_check_copes_with_degenerate_clips(t):
    from museviz.checks import RULE_CHECK_IDS, rule_checks
    from museviz.rules import schedule_all

    schedules = schedule_all(t)
    for name, s in schedules.items():
        assert s.indices.shape == s.raw.shape and s.n_chunks == len(s.source_frame) == len(s.picture_times_s), name
        assert np.isfinite(s.centre_s).all(), name
    assert [c.id for c in rule_checks(t, schedules)] == list(RULE_CHECK_IDS)
