"""Whole clips through the engine: the checks see each pitfall with its numbers."""

from fractions import Fraction

import pytest

from museviz.analysis import Options, analyze
from museviz.synth import vfr_times


def checks_of(analysis) -> dict:
    return {c.id: c for c in analysis.checks}


@pytest.fixture(scope="module")
def fallback():
    return Options()


def test_in_sync_25fps_clip_passes_every_check_but_the_rule_notes(clips, fallback):
    a = analyze(clips("sync25.mp4", duration_s=4.0), fallback)
    levels = {c.id: c.level for c in a.checks}
    assert all(level in ("ok", "info") for level in levels.values()), levels
    assert levels["v1-extra-chunks"] == "info" and checks_of(a)["v1-extra-chunks"].value == 2
    assert checks_of(a)["wav2lip-tail"].value == 100 - a.schedules["wav2lip"].n_chunks
    assert a.whisper.source == "logmel-pool" and a.warnings


def test_2997_clip_warns_of_v15_truncation_with_the_drift(clips, fallback):
    a = analyze(clips("ntsc6.mp4", fps=Fraction(30000, 1001), duration_s=6.0), fallback)
    c = checks_of(a)
    assert c["fps-not-25"].level == "warn"
    truncation = c["v15-fps-truncation"]
    assert truncation.level == "warn"
    last = a.schedules["musetalk-v1.5"].n_chunks - 1
    assert truncation.value == pytest.approx(last / 29 - last * 1001 / 30000, abs=1e-6)
    assert "int(fps) = 29" in truncation.message and "fps=25" in truncation.fix


def test_60fps_clip_reports_where_v15_would_exit(clips, fallback):
    # PCM audio in AVI keeps exactly 2 s of samples: W = 100, and frame 119 overflows.
    a = analyze(clips("fps60.avi", fps=Fraction(60), duration_s=2.0), fallback)
    assert a.media.audio.n_samples_16k == 32000
    c = checks_of(a)["v15-window-overflow"]
    assert c.level == "error"
    assert c.value == a.schedules["musetalk-v1.5"].exit_frame == 119
    assert checks_of(a)["v15-padding-offset"].value == 40


def test_short_audio_warns_of_mismatch_and_short_training_windows(clips, fallback):
    a = analyze(clips("short_audio.mp4", duration_s=4.0, audio_duration_s=3.5), fallback)
    c = checks_of(a)
    assert c["duration-mismatch"].level == "warn"
    assert c["duration-mismatch"].value == pytest.approx(-0.5, abs=0.03)
    assert c["training-window-short"].level == "warn" and c["training-window-short"].value >= 10
    tolerant = analyze(clips("short_audio.mp4", duration_s=4.0, audio_duration_s=3.5), Options(duration_tolerance_s=0.6))
    assert checks_of(tolerant)["duration-mismatch"].level == "ok"


def test_vfr_clip_warns_with_the_worst_frame_error(clips, fallback):
    a = analyze(clips("vfr4.mp4", frame_times_s=vfr_times(4.0)), fallback)
    c = checks_of(a)["vfr"]
    assert c.level == "warn" and c.value > 0.04


def test_clip_without_audio_is_an_error_check_not_a_crash(clips, fallback):
    a = analyze(clips("silent.mp4", duration_s=1.0, audio=None), fallback)
    c = checks_of(a)
    assert c["no-audio"].level == "error"
    assert a.whisper.features.shape[0] == 0 and a.mel80.shape == (80, 1)


def test_clip_longer_than_30s_crosses_the_segment_boundary(clips, speech, whisper_checkpoint):
    import numpy as np

    long_speech = np.tile(speech, 6)[: 16000 * 32]
    a = analyze(clips("long32.mp4", duration_s=32.0, audio=long_speech, size=(64, 48)), Options(whisper_checkpoint=whisper_checkpoint))
    n = a.media.audio.n_samples_16k
    assert n > 30 * 16000
    assert a.whisper.features.shape == (n // 320, 5, 384)
    assert a.whisper.source == "whisper-encoder"
    assert a.schedules["musetalk-v1"].n_chunks == n // 320 // 2 + 2
