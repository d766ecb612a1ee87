"""The teaching view: video frames as boxes over both feature grids, each frame's window
under each rule."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from museviz.plots._common import (
    MAX_EXTRA_ROWS,
    MAX_TIMELINE_FRAMES,
    _check_frame,
    _fps_words,
    _pick,
)
from museviz.plots._lanes import (
    _chunk_row,
    _Column,
    _exit_note,
    _lanes_view,
    _Row,
    _unpaired_note,
)
from museviz.rules import Schedule, Timeline


def timeline_figure(timeline: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None, first_frame: int, n_frames: int) -> Figure:
    """The teaching view: video frames as boxes on a time axis, 50 Hz tokens and 80 Hz mel
    frames as grids, and each frame's window under each rule drawn onto its stream.

    One row per chunk; the dot is when its picture is shown. At most
    ``MAX_TIMELINE_FRAMES`` frames are drawn.
    """
    _check_frame(timeline, first_frame)
    if n_frames < 1:
        raise ValueError(f"n_frames = {n_frames}: show at least one frame")
    last = min(first_frame + min(n_frames, MAX_TIMELINE_FRAMES), timeline.n_frames) - 1
    picked = _pick(timeline, schedules, rules)
    frames = range(first_frame, last + 1)
    columns = [_Column(None, frames, {name: _frames_rows(timeline, s, frames) for name, s in picked.items()})]
    question = f"Which audio does each frame read at {_fps_words(timeline)}? Frames {first_frame}–{last}"
    answer = "Each bar is one frame's window of whisper50 tokens (20 ms) or mel80 frames (12.5 ms); the dot is when the frame is shown. A bar centred on its dot is in sync."
    return _lanes_view(timeline, picked, columns, "formula", 13.0, question, answer)


def _frames_rows(t: Timeline, s: Schedule, frames: range) -> list[_Row]:
    """The chunks shown with ``frames``, a ✕ row for each of them without one, and the
    chunks past the last frame when ``frames`` reaches it."""
    if not s.n_chunks:
        return [_Row(None, "", f"✕ {s.error or 'no chunks'}")]
    last_shown = int(s.source_frame.max())
    rows, noted = [], False
    for f in frames:
        ks = np.flatnonzero(s.source_frame == f)
        rows += [_chunk_row(s, int(k)) for k in ks]
        if len(ks):
            noted = False
            continue
        if s.exit_frame is not None and f >= s.exit_frame:
            note = _exit_note(s) if f == s.exit_frame else "✕ after the exit"
        elif f > last_shown:
            note = f"✕ no chunk: the output ends at frame {last_shown}"
        else:
            note = _unpaired_note(t, s)
        rows.append(_Row(None, f"frame {f}", "" if noted else note, float(t.frame_times_s[f])))
        noted = True
    if frames and frames[-1] == t.n_frames - 1:
        rows += [_chunk_row(s, int(k)) for k in np.flatnonzero(s.source_frame < 0)[:MAX_EXTRA_ROWS]]
    return rows
