"""Lines of one value per frame for many rules at once (the mapping and the drift figures)."""

from __future__ import annotations

import numpy as np

from museviz.plots._common import (
    DPI,
    LINE_WIDTHS,
    MAX_NESTING_PT,
    SMALL_SIZE,
    SMOOTHING_S,
    _is_reference,
)
from museviz.rules import Schedule, Timeline


def _line_widths(picked: dict[str, Schedule]) -> dict[str, float]:
    """Each rule's line width: earlier rules wider, so lines that coincide show as nested
    stripes instead of hiding each other; the references thin and dashed, on top."""
    others = [n for n in picked if not _is_reference(n)]
    base, step = LINE_WIDTHS
    step = min(step, MAX_NESTING_PT / max(len(others) - 1, 1))
    widths = {n: base + step * (len(others) - 1 - i) for i, n in enumerate(others)}
    return {n: widths.get(n, 1.6) for n in picked}


def _smoothing_frames(t: Timeline) -> int:
    return max(1, round(SMOOTHING_S * t.fps))


def _jittery_line(ax, x: np.ndarray, y: np.ndarray, window: int, style: dict, label: str | None = None) -> None:
    """Each frame's value as a thin line, and its running mean over ``window`` frames on top.

    Windows snap to a 20 ms or 12.5 ms grid, so per-frame values jitter by up to a feature
    around their trend; the running mean shows the trend (flat, ramp, steps). Both are
    drawn with at most four points per pixel column (``_as_drawn``).
    """
    columns = _pixel_columns(ax)
    if window > 1:
        ax.plot(*_as_drawn(x, y, columns), color=style["color"], lw=0.6, alpha=0.35, zorder=style["zorder"] - 1, rasterized=True)
        y = _running_mean(y, window)
    ax.plot(*_as_drawn(x, y, columns), label=label, **style)


def _pixel_columns(ax) -> int:
    """Pixel columns of the whole figure: at least as many as any of its axes has."""
    return round(ax.get_figure(root=True).get_figwidth() * DPI)


def _as_drawn(x: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """The points of a line (``x`` increasing) that a ``columns`` pixels wide picture of it
    needs: in each column the first, the last, the lowest and the highest (the "M4"
    reduction), which draw the same pixels. A 10 minute clip at 60 fps has 36000 frames for
    some 1300 columns; stroking all of them was most of a figure's time."""
    if len(x) <= 4 * columns or x[-1] <= x[0]:
        return x, y
    column = np.minimum(((x - x[0]) / (x[-1] - x[0]) * columns).astype(np.intp), columns - 1)
    starts = np.flatnonzero(np.diff(column, prepend=-1))
    ends = np.append(starts[1:], len(x)) - 1
    by_value = np.lexsort((y, column))  # within each column, lowest first
    keep = np.unique(np.concatenate([starts, ends, by_value[starts], by_value[ends]]))
    return x[keep], y[keep]


def _running_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Centred mean over ``window`` values, over fewer at the ends (and on short series)."""
    kernel = np.ones(min(window, len(y)))
    return np.convolve(y, kernel, mode="same") / np.convolve(np.ones(len(y)), kernel, mode="same")


def _exit_mark(ax, name: str, exit_frame: int, x: float, y: float, color: str) -> None:
    """A cross where a rule's process exits, and a note saying so."""
    ax.plot(x, y, "X", color=color, mec="black", markersize=12, zorder=6)
    ax.annotate(f"✕ {name} exits at frame {exit_frame}", (x, y), xytext=(-12, 14), textcoords="offset points", ha="right", fontsize=SMALL_SIZE + 0.5,
                color=color, fontweight="bold", zorder=7, bbox=dict(facecolor="white", edgecolor=color, alpha=0.9, pad=2))
