"""What happens at the edges of the clip? The first and last windows of each rule."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from museviz.plots._common import MAX_EXTRA_ROWS, _mapping_notes, _pick
from museviz.plots._lanes import (
    _chunk_row,
    _Column,
    _exit_note,
    _lanes_view,
    _Row,
)
from museviz.rules import Schedule, Timeline


def edges_figure(timeline: Timeline, schedules: dict[str, Schedule], rules: Sequence[str] | None = None, n_edge: int = 4) -> Figure:
    """The first and last ``n_edge`` windows of each rule, drawn over both feature grids.

    Cells read from the audio are filled with the rule's colour; clamped (repeated) cells
    are hatched, zero-padded ones dotted, a pinned window has a thick outline and a chunk
    past the last frame a dashed one; grey is where there is no audio. A cross marks
    frames that get no chunk (the output is too short, or the system exits).
    """
    if n_edge < 1:
        raise ValueError(f"n_edge = {n_edge}: show at least one window at each edge")
    picked = _pick(timeline, schedules, rules)
    n = timeline.n_frames
    columns = [
        _Column(f"start: frames 0–{min(n_edge, n) - 1}", range(0, min(n_edge, n)), {k: _edge_rows(timeline, s, False, n_edge) for k, s in picked.items()}),
        _Column(f"end: frames {max(n - n_edge, 0)}–{n - 1}", range(max(n - n_edge, 0), n), {k: _edge_rows(timeline, s, True, n_edge) for k, s in picked.items()}),
    ]
    return _lanes_view(timeline, picked, columns, "edge", 15.0, "What happens at the edges of the clip?", _edges_answer(timeline, picked))


def _edges_answer(t: Timeline, picked: dict[str, Schedule]) -> str:
    """What each rule does at the edges, in a few words each."""
    parts = []
    for name, s in picked.items():
        if not s.n_chunks:
            parts.append(f"{name}: ✕ {s.error}")
            continue
        facts = []
        if s.clamped.any():
            facts.append("repeats edge tokens")
        if s.zero_padded.any():
            facts.append("reads zeros")
        facts += [f"✕ {s.error}" if n.startswith("✕") else n.rstrip(" ○▼") for n in _mapping_notes(t, s)]
        parts.append(f"{name}: {', '.join(facts) or 'stays inside the audio'}")
    return "; ".join(parts)


def _edge_rows(t: Timeline, s: Schedule, end: bool, n_edge: int) -> list[_Row]:
    """The first (or last) ``n_edge`` chunks shown with frames, chunks past the last frame,
    and a ✕ row when frames at the end get no chunk."""
    if not s.n_chunks:
        return [_Row(None, "", f"✕ {s.error or 'no chunks'}")]
    shown = np.flatnonzero(s.source_frame >= 0)
    if not end:
        return [_chunk_row(s, k) for k in range(min(n_edge, s.n_chunks))]
    chunks = list(shown[-n_edge:]) + list(range(shown[-1] + 1, s.n_chunks))[:MAX_EXTRA_ROWS] if len(shown) else list(range(s.n_chunks))[-n_edge:]
    rows = [_chunk_row(s, int(k)) for k in chunks]
    first_missing = int(s.source_frame.max()) + 1
    if first_missing < t.n_frames:
        at_s = float(t.frame_times_s[first_missing]) if first_missing >= t.n_frames - n_edge else None
        span = f"frame {first_missing}" if first_missing == t.n_frames - 1 else f"frames {first_missing}–{t.n_frames - 1}"
        note = _exit_note(s) if s.exit_frame is not None else f"✕ {span}: no chunk, the output ends"
        rows.append(_Row(None, span, note, at_s))
    return rows
