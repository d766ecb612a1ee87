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
    # The newer systems: darker tab20, tab20b, Dark2 and Set1 colours, one each.
    "latentsync-1.5": "#1b9e77",
    "latentsync-train": "#66a61e",
    "videoretalking": "#e7298a",
    "hallo": "#d62728",
    "hallo2": "#ad494a",
    "hallo-train": "#843c39",
    "memo": "#9467bd",
    "memo-train": "#7570b3",
    "float": "#17becf",
    "v-express": "#ff7f0e",
    "v-express-train": "#bd9e39",
    "sonic": "#1f77b4",
    "echomimic": "#2ca02c",
    "echomimic-v2": "#637939",
    "joyvasa": "#a6761d",
    "joyvasa-train": "#8c6d31",
    "aniportrait": "#e377c2",
    "sadtalker": "#393b79",
    "dinet": "#5254a3",
    "ip-lap": "#7b4173",
    "diff2lip": "#a55194",
    "talklip": "#bcbd22",
    "geneface": "#377eb8",
    "geneface++": "#6b6ecf",
    "er-nerf": "#984ea3",
    "rad-nerf": "#d95f02",
    "synctalk": "#e41a1c",
    "makeittalk": "#8ca252",
    "pc-avs": "#e6ab02",
    "livetalking-wav2lip": "#f781bf",
    "livetalking-musetalk": "#4daf4a",
}
OTHER_COLOR = "#999999"  # a rule of the user's own (museviz.spec), or one added without a colour

LEVEL_COLORS = {"ok": "#1a7f37", "info": "#0969da", "warn": "#bf8700", "error": "#cf222e"}


def rule_color(name: str) -> str:
    """The rule's colour as ``#rrggbb``."""
    return RULE_COLORS.get(name, OTHER_COLOR)


def rule_rgb(name: str) -> tuple[int, int, int]:
    """The rule's colour as an (r, g, b) tuple of 0-255 ints, for drawing into frames."""
    hex_color = rule_color(name).lstrip("#")
    return tuple(int(hex_color[i : i + 2], 16) for i in (0, 2, 4))
