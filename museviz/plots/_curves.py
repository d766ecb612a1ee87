"""Lines of one value per frame for many rules at once (the mapping and the drift figures)."""

from __future__ import annotations

import numpy as np

from museviz.plots._common import (
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
    around their trend; the running mean shows the trend (flat, ramp, steps).
    """
    if window > 1:
        ax.plot(x, y, color=style["color"], lw=0.6, alpha=0.35, zorder=style["zorder"] - 1)
        y = _running_mean(y, window)
    ax.plot(x, y, label=label, **style)


def _running_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Centred mean over ``window`` values, over fewer at the ends (and on short series)."""
    kernel = np.ones(min(window, len(y)))
    return np.convolve(y, kernel, mode="same") / np.convolve(np.ones(len(y)), kernel, mode="same")


def _exit_mark(ax, name: str, exit_frame: int, x: float, y: float, color: str) -> None:
    """A cross where a rule's process exits, and a note saying so."""
    ax.plot(x, y, "X", color=color, mec="black", markersize=12, zorder=6)
    ax.annotate(f"✕ {name} exits at frame {exit_frame}", (x, y), xytext=(-12, 14), textcoords="offset points", ha="right", fontsize=SMALL_SIZE + 0.5,
                color=color, fontweight="bold", zorder=7, bbox=dict(facecolor="white", edgecolor=color, alpha=0.9, pad=2))
