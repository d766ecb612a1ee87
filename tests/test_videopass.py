"""One decoding pass feeds every consumer, and a consumer that waits for something computed
meanwhile gets every frame, in order, once it can start."""

import threading
import time
from concurrent.futures import Future

import numpy as np

from museviz.media import iter_frames, iter_luma, read_media
from museviz.videopass import Deferred, run_pass


class Recorder:
    """Keeps what it was given: each frame's index, grey and RGB pictures."""

    def __init__(self, name="recorder"):
        self.name = name
        self.frames, self.lumas, self.rgbs = [], {}, {}
        self.finished = False

    def add(self, frame_idx, picture):
        self.frames.append(frame_idx)
        self.lumas[frame_idx] = picture.luma
        self.rgbs[frame_idx] = picture.rgb

    def finish(self):
        self.finished = True


def test_one_pass_gives_every_consumer_every_frame_as_the_separate_decoders_do(clips):
    media = read_media(clips("pass25.mp4", duration_s=2.0))
    first, second = Recorder(), Recorder()
    run_pass(media, [first, second])
    assert first.frames == second.frames == list(range(media.video.n_frames)) and first.finished and second.finished
    for idx, luma in iter_luma(media):
        np.testing.assert_array_equal(first.lumas[idx], luma)
        assert first.lumas[idx] is second.lumas[idx]  # converted once, shared
    for idx, rgb in iter_frames(media):
        np.testing.assert_array_equal(second.rgbs[idx], rgb)


def test_a_deferred_consumer_gets_the_frames_that_waited_then_the_rest(clips):
    media = read_media(clips("pass25.mp4", duration_s=2.0))
    ready, made = Future(), []

    class Trigger:
        def add(self, frame_idx, picture):
            if frame_idx == 10:
                ready.set_result("features")

        def finish(self):
            pass

    def make(value):
        made.append(value)
        return Recorder()

    deferred = Deferred(ready, make)
    run_pass(media, [Trigger(), deferred])
    assert made == ["features"]
    assert deferred.consumer.frames == list(range(media.video.n_frames)) and deferred.consumer.finished


def test_a_full_queue_makes_the_pass_wait_for_what_the_deferred_consumer_needs(clips):
    media = read_media(clips("pass25.mp4", duration_s=2.0))
    ready = Future()
    frame_bytes = 160 * 120 * 3 // 2
    deferred = Deferred(ready, lambda value: Recorder(), max_waiting_bytes=5 * frame_bytes)
    started = time.perf_counter()
    threading.Timer(0.5, lambda: ready.set_result(None)).start()
    run_pass(media, [deferred])
    assert time.perf_counter() - started >= 0.45  # the pass waited for the value
    assert deferred.consumer.frames == list(range(media.video.n_frames))
