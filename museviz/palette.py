"""One colour per rule and per check level, shared by every plot, the overlay and the app."""

from __future__ import annotations

# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies.
RULE_COLORS = {
    "exact": "#000000",
    "exact-mel80": "#5f5f5f",
    "musetalk-v1": "#0072B2",
    "latentsync": "#009E73",
    "musetalk-v1.5": "#D55E00",
    "wav2lip": "#CC79A7",
    "musetalk-v1.5-train": "#E69F00",
    "wav2lip-train": "#56B4E9",
    "syncnet-train": "#8C564B",
}
OTHER_COLOR = "#999999"  # a rule added without a colour of its own

LEVEL_COLORS = {"ok": "#1a7f37", "info": "#0969da", "warn": "#bf8700", "error": "#cf222e"}


def rule_color(name: str) -> str:
    """The rule's colour as ``#rrggbb``."""
    return RULE_COLORS.get(name, OTHER_COLOR)


def rule_rgb(name: str) -> tuple[int, int, int]:
    """The rule's colour as an (r, g, b) tuple of 0-255 ints, for drawing into frames."""
    hex_color = rule_color(name).lstrip("#")
    return tuple(int(hex_color[i : i + 2], 16) for i in (0, 2, 4))
