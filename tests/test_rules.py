"""Each system's rule against the hand-worked cases of ALIGNMENT.md."""

import math
from fractions import Fraction

import numpy as np
import pytest

from museviz.rules import RULES, Timeline, schedule_all

NTSC = float(Fraction(30000, 1001))
FIRST_RULES = ["musetalk-v1", "latentsync", "musetalk-v1.5", "wav2lip", "exact", "exact-mel80", "musetalk-v1.5-train", "wav2lip-train", "syncnet-train"]


def constant_rate(fps: float, seconds: float, audio_seconds: float | None = None) -> Timeline:
    """``seconds`` of frames and (unless told otherwise) exactly ``seconds`` of audio."""
    return Timeline.constant_rate(fps, seconds, seconds if audio_seconds is None else audio_seconds)


def test_v1_makes_252_chunks_for_10s_at_25fps_two_more_than_frames():
    v1 = RULES["musetalk-v1"].schedule(constant_rate(25, 10))
    assert v1.n_chunks == 252
    assert v1.n_chunks - 250 == 2


def test_v1_frame0_repeats_the_first_token_for_the_four_before_the_audio():
    v1 = RULES["musetalk-v1"].schedule(constant_rate(25, 10))
    assert v1.indices[0].tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 4, 5]
    assert v1.clamped[0] and not v1.zero_padded[0]


def test_v1_last_chunks_clamp_to_the_last_token_and_reach_past_the_audio():
    v1 = RULES["musetalk-v1"].schedule(constant_rate(25, 10))
    assert v1.indices[-1].tolist() == [498] + [499] * 9
    assert v1.raw[-1, 0] == 2 * 251 - 4
    assert v1.past_audio[-1] and v1.clamped[-1]
    assert v1.source_frame[-2:].tolist() == [-1, -1]


def test_v1_chunk_count_is_w_half_plus_two_at_25fps_for_any_length():
    for seconds in (1, 3.3, 7.72, 31):
        t = constant_rate(25, seconds)
        w = t.n_features("whisper50")
        assert RULES["musetalk-v1"].schedule(t).n_chunks == w // 2 + 2


def test_wav2lip_makes_247_chunks_for_10s_at_25fps_with_the_last_pinned():
    w2l = RULES["wav2lip"].schedule(constant_rate(25, 10))
    assert w2l.n_chunks == 247
    assert w2l.indices[-1].tolist() == list(range(801 - 16, 801))
    assert w2l.pinned.tolist() == [False] * 246 + [True]
    assert w2l.indices[5].tolist() == list(range(16, 32))


def test_wav2lip_inference_reads_one_frame_later_than_training():
    t = constant_rate(25, 10)
    infer, train = RULES["wav2lip"].schedule(t), RULES["wav2lip-train"].schedule(t)
    for k in range(1, 200):
        assert infer.raw[k - 1, 0] == train.raw[k, 0]
    assert train.dropped[0]


def test_v15_frame0_reads_four_zero_tokens_then_the_first_six():
    v15 = RULES["musetalk-v1.5"].schedule(constant_rate(25, 10))
    assert v15.indices[0].tolist() == [-1, -1, -1, -1, 0, 1, 2, 3, 4, 5]
    assert v15.zero_padded[0] and not v15.clamped[0]
    assert v15.n_chunks == 250


def test_v15_truncates_2997_to_29_and_its_audio_runs_194s_ahead_after_60s():
    t = constant_rate(NTSC, 60)
    v15 = RULES["musetalk-v1.5"].schedule(t)
    assert v15.fps_used == 29
    assert v15.n_chunks == 60 * 29
    last = v15.n_chunks - 1
    assert last / 29 - v15.picture_times_s[last] == pytest.approx(1.94, abs=0.005)
    assert v15.drift_s[last] - v15.drift_s[0] == pytest.approx(1.94, abs=0.03)


@pytest.mark.parametrize("fps, per_minute_s", [(24000 / 1001, 2.44), (60000 / 1001, 0.94), (24.99, 2.38)])
def test_v15_truncation_drift_per_minute(fps, per_minute_s):
    v15 = RULES["musetalk-v1.5"].schedule(constant_rate(fps, 60))
    last = v15.n_chunks - 1
    assert last / int(fps) - v15.picture_times_s[last] == pytest.approx(per_minute_s, abs=0.01)


def test_v15_exits_at_60fps_instead_of_crashing_museviz():
    v15 = RULES["musetalk-v1.5"].schedule(constant_rate(60, 10))
    assert v15.exit_frame == 599
    assert "exits at frame 599" in v15.error
    assert v15.n_chunks == 599


@pytest.mark.parametrize("fps, offset_tokens", [(15, -4), (20, -2), (24, -2), (25, 0), (30, 0), (49, 0), (50, 2), (60, 2)])
def test_v15_padding_shifts_windows_against_v1(fps, offset_tokens):
    t = constant_rate(fps, 10)
    v15 = RULES["musetalk-v1.5"].schedule(t)
    step = 50 / int(fps)
    i = 7
    assert v15.raw[i, 0] - (int(i * step) - 4) == offset_tokens


def test_latentsync_forces_25fps_and_duplicates_or_drops_frames_of_a_2997_clip():
    t = constant_rate(NTSC, 10)
    ls = RULES["latentsync"].schedule(t)
    assert ls.fps_used == 25
    w = t.n_features("whisper50")
    assert ls.n_chunks == w // 2 + 2
    shown = ls.source_frame[ls.source_frame >= 0]
    assert len(shown) == round(t.video_duration_s * 25)
    assert np.diff(shown).max() == 2


def test_exact_windows_centre_on_each_real_frame_time_even_when_irregular():
    times = np.cumsum(np.r_[0, np.full(20, 0.04), np.full(20, 0.0667)])
    t = Timeline(times, 25.0, times[-1] + 0.0667, round((times[-1] + 0.07) * 16000))
    for name, tolerance in (("exact", 0.010), ("exact-mel80", 0.00625)):
        s = RULES[name].schedule(t)
        assert s.n_chunks == len(times)
        assert np.max(np.abs(s.drift_s)) <= tolerance + 1e-9


def test_training_windows_short_when_audio_ends_early():
    t = constant_rate(25, 10, audio_seconds=9.5)
    sync = RULES["syncnet-train"].schedule(t)
    assert sync.dropped.sum() > 0
    full = RULES["syncnet-train"].schedule(constant_rate(25, 10))
    assert full.dropped.sum() == 0


def test_only_wav2lip_fails_on_audio_shorter_than_its_16_mel_window():
    schedules = schedule_all(constant_rate(25, 0.2, audio_seconds=0.1), FIRST_RULES)  # newer systems fail on 0.1 s in their own ways
    failed = {name for name, s in schedules.items() if s.error}
    assert failed == {"wav2lip"}
    assert "fewer than the 16" in schedules["wav2lip"].error
    assert schedules["musetalk-v1"].indices[0].tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 4, 4]


def test_exact_reference_is_not_pushed_a_token_early_by_float_frame_times():
    t = constant_rate(25, 10)
    exact = RULES["exact"].schedule(t)
    assert exact.raw[29, 0] == 2 * 29 - 4
    assert np.all(exact.raw[:, 0] == 2 * np.arange(250) - 4)


@pytest.mark.parametrize("fps, picks", [(50, lambda k: 2 * k), (25, lambda k: k)])
def test_latentsync_picks_source_frames_as_ffmpegs_fps_filter_rounds(fps, picks):
    ls = RULES["latentsync"].schedule(constant_rate(fps, 4))
    shown = ls.source_frame[ls.source_frame >= 0]
    assert shown.tolist() == [picks(k) for k in range(len(shown))]
    assert len(shown) == 100


def literal_musetalk_v1(n_tokens: int, fps: float) -> list[list[int]]:
    """MuseTalk v1's loop as ALIGNMENT.md gives it, written plainly."""
    chunks, i = [], 0
    while True:
        c = int(i * 50 / fps)
        chunks.append([min(max(j, 0), n_tokens - 1) for j in range(c - 4, c + 6)])
        if int(i * (50.0 / fps)) > n_tokens:
            return chunks
        i += 1


def literal_wav2lip(n_mel: int, fps: float) -> list[list[int]]:
    chunks, i = [], 0
    while True:
        s = int(i * (80.0 / fps))
        if s + 16 > n_mel:
            chunks.append(list(range(n_mel - 16, n_mel)))
            return chunks
        chunks.append(list(range(s, s + 16)))
        i += 1


def literal_musetalk_v15(n_samples: int, fps: float) -> tuple[list[list[int]], int | None]:
    duration_s = n_samples / 16000
    f = int(fps)
    m = 50 / f
    p = math.ceil(m)
    length = math.floor(duration_s * 50)
    padded = [-1] * min(2 * p, length) + list(range(length)) + [-1] * min(6 * p, length)
    chunks = []
    for i in range(math.floor(duration_s * f)):
        a = math.floor(i * m)
        window = padded[a : a + 10]
        if len(window) != 10:
            return chunks, i
        chunks.append(window)
    return chunks, None


def test_rules_equal_plain_loops_over_random_rates_and_lengths():
    rng = np.random.default_rng(7)
    for _ in range(150):
        fps = float(rng.choice([23.976, 24, 25, 29.97, 30, 50, 59.94, 60, rng.uniform(15, 60)]))
        n_samples = int(rng.integers(3_000, 200_000))
        t = Timeline(np.arange(round(n_samples / 16000 * fps)) / fps, fps, n_samples / 16000, n_samples)
        s = schedule_all(t, ["musetalk-v1", "wav2lip", "musetalk-v1.5"])
        assert s["musetalk-v1"].indices.tolist() == literal_musetalk_v1(n_samples // 320, fps)
        assert s["wav2lip"].indices.tolist() == literal_wav2lip(1 + n_samples // 200, fps)
        chunks, exit_frame = literal_musetalk_v15(n_samples, fps)
        assert s["musetalk-v1.5"].indices.tolist() == chunks and s["musetalk-v1.5"].exit_frame == exit_frame
