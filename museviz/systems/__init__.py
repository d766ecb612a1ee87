"""Every system's rule, one module per system family, each naming the code it was read from.

Importing ``museviz.rules`` imports this package, and each module registers its rules in
``museviz.rules.RULES`` (in the order below: the table, the CLI and the page list them so).
A new system is a new module here, added to the list.
"""

from museviz.systems import (  # noqa: F401
    musetalk,
    latentsync,
    wav2lip,
    reference,
    hallo,
    memo,
    float_,
    vexpress,
    sonic,
    echomimic,
    joyvasa,
    aniportrait,
    sadtalker,
    dinet,
    iplap,
    diff2lip,
    talklip,
    nerf,
    makeittalk,
    pcavs,
    livetalking,
)

from museviz.rules import RULES, System  # noqa: E402  (registered by the imports above)

TABLE_COLUMNS = ("system", "rule", "features", "rate", "frames from audio", "window per frame", "edges", "chunking", "source")


def system_rows() -> list[tuple[str, System]]:
    """(rule name, its system card) for every rule with one: inference rules first, then training."""
    rows = [(name, rule.system) for name, rule in RULES.items() if rule.system]
    return sorted(rows, key=lambda row: RULES[row[0]].kind != "inference")


def markdown_table() -> str:
    """The systems table as Markdown, for the README."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for name, s in system_rows():
        values = (s.name, f"`{name}`", s.features, s.rate, s.frames, s.window, s.edges, s.chunking, s.source)
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines)
