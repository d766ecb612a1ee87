"""analyze_and_draw: the analysis with its plots, overlay and thumbnails from one pass,
in threads or in processes of their own, and nothing left behind when it fails."""

import multiprocessing
import multiprocessing.connection
import time

import av
import numpy as np
import pytest

from museviz.analysis import Options, analyze
from museviz.errors import MusevizError
from museviz.outputs import Wanted, analyze_and_draw

PLOTS = ["mapping", "edges", "features", "drift", "frame", "sync"]


@pytest.fixture(scope="module")
def clip(clips):
    return clips("outputs.mp4", duration_s=4.0, audio_delay_s=0.08)


def wanted(folder, **fields) -> Wanted:
    return Wanted(folder, overlay=folder / "overlay.mp4", thumbnails=True, **fields)


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_everything_comes_from_one_pass_and_equals_the_analysis_alone(clip, whisper_checkpoint, tmp_path, processes):
    options = Options(whisper_checkpoint=whisper_checkpoint)
    events = []
    made = analyze_and_draw(clip, options, wanted(tmp_path), processes=processes,
                            on_probe=lambda probe: events.append(("probe", probe.media.video.n_frames)),
                            on_plot=lambda name, path: events.append((name, path)))
    alone = analyze(clip, options)
    a = made.analysis
    assert np.array_equal(a.mel80, alone.mel80) and np.array_equal(a.whisper.features, alone.whisper.features)
    assert a.whisper.source == alone.whisper.source == "whisper-encoder"
    assert (a.sync.offset_frames, a.sync.confidence) == (alone.sync.offset_frames, alone.sync.confidence)
    assert [c.id for c in a.checks] == [c.id for c in alone.checks]

    assert list(made.plots) == PLOTS and all(p.stat().st_size > 10_000 for p in made.plots.values())
    assert events[0] == ("probe", a.media.video.n_frames)
    assert sorted(name for name, _ in events[1:]) == sorted(PLOTS)
    with av.open(str(made.overlay)) as overlay:
        assert overlay.streams.video[0].frames == a.media.video.n_frames
    assert [made.frames.frame(i) is not None for i in range(a.media.video.n_frames)] == [True] * a.media.video.n_frames
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(f"{n}.png" for n in PLOTS), "overlay.mp4"])


def test_an_overlay_that_cannot_be_written_is_one_sentence_and_leaves_no_plot(clip, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    broken = Wanted(folder, overlay=folder / "missing" / "overlay.mp4")
    with pytest.raises(MusevizError, match="cannot write"):
        analyze_and_draw(clip, Options(), broken)
    assert list(folder.iterdir()) == []


def test_without_plots_or_overlay_nothing_is_drawn(clip, tmp_path):
    made = analyze_and_draw(clip, Options(), Wanted(tmp_path, plots=False))
    assert made.plots == {} and made.overlay is None and made.frames is None
    assert list(tmp_path.iterdir()) == []


def test_the_features_process_ends_once_its_features_are_handed_over_not_with_the_pass(clip, whisper_checkpoint):
    """It holds torch and the encoder (570 MB for a 10 minute clip): the rest of the pass
    must not carry them."""
    before = set(multiprocessing.active_children())
    seen = {}

    class WaitsForTheFeatures:
        def __init__(self, features):
            self.features = features

        def add(self, frame_idx, picture):
            pass

        def finish(self):
            self.features.result()
            seen["ended before the pass did"] = _ended(seen["features"])

    def consumers(probe, features):
        seen["features"] = set(multiprocessing.active_children()) - before
        return [WaitsForTheFeatures(features)]

    analyze(clip, Options(whisper_checkpoint=whisper_checkpoint, sync=False, lse=False), consumers=consumers, features_process=True)
    assert len(seen["features"]) == 1 and seen["ended before the pass did"]


def test_no_drawing_process_is_left_idle_through_the_pass(clip, whisper_checkpoint, tmp_path):
    """The drawer of the pass ends once features.png is drawn (idle, it held 420 MB through
    a 10 minute clip's pass); sync.png, drawn after the pass, has a process of its own."""
    before = set(multiprocessing.active_children())
    during = {}

    def progressed(fraction, message):
        if message.startswith("Reading every frame") and "processes" not in during:  # the drawer of the pass has started
            during["processes"] = set(multiprocessing.active_children()) - before

    def analysed(analysis):
        during["ended once the pass is over"] = _ended(during["processes"])

    made = analyze_and_draw(clip, Options(whisper_checkpoint=whisper_checkpoint), Wanted(tmp_path), progressed, processes=True,
                            on_analysis=analysed)
    assert during["processes"] and during["ended once the pass is over"]
    assert list(made.plots) == PLOTS


def _ended(processes, timeout_s: float = 30.0) -> bool:
    """Whether all ``processes`` end within ``timeout_s``, told by their sentinels: the pool
    that started one may reap it first, and then ``join`` cannot tell."""
    waiting = [p.sentinel for p in processes]
    deadline = time.monotonic() + timeout_s
    while waiting and time.monotonic() < deadline:
        ready = multiprocessing.connection.wait(waiting, deadline - time.monotonic())
        waiting = [s for s in waiting if s not in ready]
    return not waiting
