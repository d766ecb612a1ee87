"""The pictures: each builds from plain data, answers its question, and marks what goes wrong."""

import importlib
import inspect
import pkgutil
import re
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from museviz import plots
from museviz.analysis import Options, analyze
from museviz.grid import SOURCE_ENCODER
from museviz.rules import Timeline, schedule_all

NTSC = float(Fraction(30000, 1001))
WHOLE_CLIP_FIGURES = ("mapping", "edges", "drift")


def constant_rate(fps: float, seconds: float) -> Timeline:
    return Timeline.constant_rate(fps, seconds, seconds)


def texts(fig: Figure) -> str:
    """Every string drawn in the figure (titles, labels, legends, notes), one per line."""
    return "\n".join(t.get_text() for t in fig.findobj(Text) if t.get_text())


def axis_labels(fig: Figure) -> list[str]:
    """Labels of every axis, secondary axes included."""
    axes = [a for ax in fig.get_axes() for a in (ax, *ax.child_axes)]
    return [label for ax in axes for label in (ax.get_xlabel(), ax.get_ylabel()) if label]


def has_legend(fig: Figure) -> bool:
    return bool(fig.findobj(lambda a: type(a).__name__ == "Legend"))


def whole_clip(name: str, t: Timeline, schedules) -> Figure:
    return {"mapping": plots.mapping_figure, "edges": plots.edges_figure, "drift": plots.drift_figure}[name](t, schedules)


@pytest.fixture(scope="module")
def clip25(clips):
    return analyze(clips("sync25.mp4", duration_s=4.0), Options())


def figures_of(a) -> dict[str, Figure]:
    t, s = a.timeline, a.schedules
    return {
        "mapping": plots.mapping_figure(t, s),
        "edges": plots.edges_figure(t, s),
        "features": plots.features_figure(t, a.mel80, a.whisper.features, a.whisper.source),
        "drift": plots.drift_figure(t, s),
        "frame": plots.frame_figure(t, s, t.n_frames // 2),
        "timeline": plots.timeline_figure(t, s, None, 0, 6),
    }


def test_every_figure_of_a_25fps_clip_asks_its_question_with_labelled_axes_and_a_legend(clip25):
    for name, fig in figures_of(clip25).items():
        words = texts(fig)
        assert "?" in words, name
        labels = axis_labels(fig)
        assert any("(s)" in label or "per s" in label for label in labels), (name, labels)
        for ax in fig.get_axes():
            if ax.axison:
                assert ax.get_ylabel(), (name, ax)
        assert has_legend(fig), name


def test_synthetic_timeline_needs_no_audio_features_for_the_alignment_figures():
    t = constant_rate(NTSC, 8)
    s = schedule_all(t)
    for name in WHOLE_CLIP_FIGURES:
        fig = whole_clip(name, t, s)
        assert "?" in texts(fig) and has_legend(fig), name
    assert "?" in texts(plots.frame_figure(t, s, 100))
    assert "?" in texts(plots.timeline_figure(t, s, ["exact", "musetalk-v1.5"], 100, 5))


def test_frame_figure_writes_v1_formula_with_frame_137s_numbers_at_2997():
    t = constant_rate(NTSC, 10)
    words = texts(plots.frame_figure(t, schedule_all(t), 137))
    assert "int(137 * 50 / 29.97) = 228" in words
    assert "F = int(29.97) = 29" in words
    assert "frame 137" in words


def test_frame_figure_finds_latentsyncs_chunk_through_its_25fps_reencode():
    t = constant_rate(NTSC, 10)
    words = texts(plots.frame_figure(t, schedule_all(t), 137, ["latentsync"]))
    assert "25 fps re-encode: frame 114 shows source frame 137" in words


def test_v15_exit_at_60fps_is_marked_not_silently_missing():
    t = constant_rate(60, 10)
    s = schedule_all(t)
    assert s["musetalk-v1.5"].exit_frame == 599
    for name in WHOLE_CLIP_FIGURES:
        assert "exits at frame 599" in texts(whole_clip(name, t, s)), name
    words = texts(plots.frame_figure(t, s, 599))
    assert "exits at frame 599" in words and "runs past" in words


def test_v1_extra_chunks_and_wav2lip_missing_tail_are_named_at_25fps():
    t = constant_rate(25, 10)
    words = texts(plots.mapping_figure(t, schedule_all(t)))
    assert "2 chunks past the last frame" in words
    assert "no chunk for the last 3 frames" in words


def test_v15_drift_at_2997_is_written_as_194ms_per_minute_of_audio():
    t = constant_rate(NTSC, 60)
    words = texts(plots.drift_figure(t, schedule_all(t)))
    assert "musetalk-v1.5: +1.94 s per minute of audio" in words


def test_training_rules_are_drawn_only_when_asked():
    t = constant_rate(25, 4)
    s = schedule_all(t)
    assert "wav2lip-train" not in texts(plots.drift_figure(t, s))
    assert "wav2lip-train" in texts(plots.drift_figure(t, s, ["exact-mel80", "wav2lip", "wav2lip-train"]))


def test_features_figure_says_when_whisper50_is_the_logmel_fallback(clip25):
    a = clip25
    assert a.whisper.source == "logmel-pool"
    words = texts(plots.features_figure(a.timeline, a.mel80, a.whisper.features, a.whisper.source))
    assert "logmel-pool FALLBACK" in words


def test_features_figure_shows_the_chosen_whisper_layer():
    t = constant_rate(25, 2)
    mel = np.zeros((80, t.n_features("mel80")), np.float32)
    tokens = np.random.default_rng(0).normal(size=(t.n_features("whisper50"), 5, 384)).astype(np.float32)
    words = texts(plots.features_figure(t, mel, tokens, SOURCE_ENCODER, "tiny"))
    assert "layer 4 of 0–4 (last)" in words and "whisper-encoder (tiny)" in words and "FALLBACK" not in words
    assert "layer 2 of 0–4" in texts(plots.features_figure(t, mel, tokens, SOURCE_ENCODER, "tiny", layer=2))
    with pytest.raises(ValueError, match="layer 5 does not exist"):
        plots.features_figure(t, mel, tokens, SOURCE_ENCODER, "tiny", layer=5)


@pytest.mark.parametrize("fps", [15.0, float(Fraction(24000, 1001)), NTSC, float(Fraction(60000, 1001))])
def test_teaching_view_draws_synthetic_timelines_from_15_to_60fps(fps):
    t = constant_rate(fps, 3)
    fig = plots.timeline_figure(t, schedule_all(t), None, 10, 6)
    assert f"at {fps:g} fps" in texts(fig)
    assert "frame 15" in texts(fig)


def test_clip_without_audio_still_draws_and_says_why_rules_fail(clips, tmp_path):
    a = analyze(clips("silent.mp4", duration_s=1.0, audio=None), Options())
    paths = plots.save_plots(a, tmp_path)
    assert set(paths) == {"mapping", "edges", "features", "drift", "frame"}
    assert "no whisper50 tokens" in texts(plots.mapping_figure(a.timeline, a.schedules))


def test_save_plots_writes_each_png_and_the_sync_one_when_measured(clip25, tmp_path):
    paths = plots.save_plots(clip25, tmp_path / "plots")
    assert sorted(paths) == ["drift", "edges", "features", "frame", "mapping", "sync"]
    for name, path in paths.items():
        assert path == tmp_path / "plots" / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 20_000, name


def test_bad_frame_and_unknown_rule_are_errors_with_a_sentence():
    t = constant_rate(25, 2)
    s = schedule_all(t)
    with pytest.raises(ValueError, match="frame 50 does not exist"):
        plots.frame_figure(t, s, 50)
    with pytest.raises(ValueError, match="unknown rule nope"):
        plots.drift_figure(t, s, ["nope"])


def test_frame_formulas_are_the_lines_frame_figure_prints():
    t = constant_rate(NTSC, 10)
    lines = plots.frame_formulas(t, schedule_all(t), 137, ["musetalk-v1"])
    assert lines["musetalk-v1"][1] == "center_idx = int(137 * 50 / 29.97) = 228"
    assert "+1.94" not in lines["musetalk-v1"][0]
    fig = plots.frame_figure(t, schedule_all(t), 137, ["musetalk-v1"], formulas=False)
    assert "center_idx" not in texts(fig)


def test_plots_build_figures_without_pyplot_so_threads_do_not_share_state():
    modules = [importlib.import_module(f"museviz.plots.{m.name}") for m in pkgutil.iter_modules(plots.__path__)]
    assert len(modules) >= 7
    for module in [plots, *modules]:
        assert not re.search(r"^\s*(import|from)\s.*pyplot", inspect.getsource(module), re.MULTILINE), module.__name__


def test_every_rule_is_drawn_in_time_labelled_with_the_grid_it_reads():
    from museviz.rules import RULES

    t = constant_rate(NTSC, 5)
    s = schedule_all(t)
    words = texts(plots.frame_figure(t, s, 60, list(RULES)))
    for name, rule in RULES.items():
        assert (name if rule.grid == rule.stream else f"{name} ({rule.grid})") in words, name
    assert "✕ not paired: sonic makes 12.5 frames a second" in texts(plots.timeline_figure(t, s, ["sonic"], 0, 6))


def test_a_kept_frame_figure_draws_each_frame_as_a_new_one_would_whatever_came_before():
    t = constant_rate(NTSC, 10)
    s = schedule_all(t)
    kept = plots.FrameFigure(t, s, ["exact", "musetalk-v1.5", "wav2lip", "sonic"])
    # the middle, the first frame (zero-padded windows), the last (no wav2lip chunk: taller,
    # another legend), one sonic skips, and the middle again
    for frame in (137, 0, t.n_frames - 1, 61, 137):
        fresh = plots.figure_rgb(plots.frame_figure(t, s, frame, ["exact", "musetalk-v1.5", "wav2lip", "sonic"]))
        np.testing.assert_array_equal(kept.rgb(frame), fresh)
    assert f"frame {t.n_frames - 1}" in texts(kept.figure(t.n_frames - 1))


def test_threads_sharing_a_frame_figure_each_get_their_frame():
    t = constant_rate(25, 6)
    s = schedule_all(t)
    kept = plots.FrameFigure(t, s, formulas=False)
    frames = [10, 75, 140, 10, 75, 140]
    with ThreadPoolExecutor(max_workers=3) as pool:
        drawn = list(pool.map(kept.rgb, frames))
    for frame, image in zip(frames, drawn):
        np.testing.assert_array_equal(image, plots.figure_rgb(plots.frame_figure(t, s, frame, formulas=False)))
