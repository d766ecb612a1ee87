"""A rule of your own: a small declarative spec, parsed and validated, never run as code.

A spec is a TOML (or JSON) table of fixed fields, each from a fixed menu::

    name = "my-musetalk"     # lower-case letters, digits and - . _ +
    grid = "whisper50"       # a grid of museviz.grid.GRIDS
    fps = "clip"             # "clip" (the clip's rate), "int" (int(fps)), or a number
    frames = "loop"          # "loop" (until past the features), "int", "ceil", "round" (of D x fps)
    centre = "int"           # "int", "floor", "round" (of i x rate / fps), "time" (the frame's time)
    window = [-4, 6]         # offsets [start, end) around the centre, in features
    edge = "clamp"           # "clamp", "zero", "pin", "skip"
    resample = "none"        # "none", "linear", "linear-align-corners", "nearest", "pairs"

That one is MuseTalk v1's rule. ``frames = "loop"`` is the system's own loop, which stops
where its edge policy says: MuseTalk v1's (append, then stop once the centre passes the
features) for clamp and zero, Wav2Lip's (pin the last window to the end) for pin, IP_LAP's
(stop before the first window past the end) for skip. A resampled grid has one row per
frame (``T`` from ``frames``), and the window counts rows: linear with or without
align_corners, nearest, or pairs (row ``r`` = native features ``2r`` and ``2r + 1``).
A fixed ``fps`` makes the system generate at that rate (its frames shown at their own
times, paired with the clip's as a re-encode would pair them).

Anything else is refused with one sentence naming the field and what it accepts.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: specs in JSON only
    tomllib = None

from museviz.errors import MusevizError
from museviz.grid import GRIDS, SAMPLE_RATE
from museviz.rules import CLAMP, EDGES, PIN, RULES, SKIP, ZERO, Rule, Schedule, Timeline, reads
from museviz.systems.blocks import TIME_EPSILON_S, align_corners, failed, first_index, generated, half_pixel, make_schedule, musetalk_v1_centres, own_frames

MAX_SPEC_BYTES = 64 * 1024  # a spec is a few lines
MAX_NAME = 40
MAX_OFFSET = 1000  # features either side of the centre
MAX_DESCRIPTION = 200
FPS_RANGE = (1.0, 1000.0)
NAME = re.compile(r"[a-z0-9][a-z0-9._+-]*")
FPS_WORDS = ("clip", "int")
FRAMES = ("loop", "int", "ceil", "round")
CENTRES = ("int", "floor", "round", "time")
RESAMPLES = ("none", "linear", "linear-align-corners", "nearest", "pairs")
REQUIRED = ("name", "grid", "window")
DEFAULTS = {"fps": "clip", "frames": "loop", "centre": "int", "edge": CLAMP, "resample": "none", "description": ""}
FIELDS = (*REQUIRED, *DEFAULTS)
MUSETALK_V1_SPEC = """name = "my-musetalk-v1"
grid = "whisper50"
fps = "clip"
frames = "loop"
centre = "int"
window = [-4, 6]
edge = "clamp"
resample = "none"
"""


@dataclass(frozen=True)
class RuleSpec:
    """A validated spec (see the module's docstring)."""

    name: str
    grid: str
    window: tuple[int, int]
    fps: str | float = "clip"
    frames: str = "loop"
    centre: str = "int"
    edge: str = CLAMP
    resample: str = "none"
    description: str = ""

    @property
    def formula(self) -> str:
        rate = f"{self.fps:g} fps" if isinstance(self.fps, float) else {"clip": "the clip's fps", "int": "int(fps)"}[self.fps]
        centre = "the frame's time" if self.centre == "time" else f"{self.centre}(i * rate / fps)"
        over = self.grid if self.resample == "none" else f"{self.grid} resampled ({self.resample}) to one row per frame"
        return (f"your rule at {rate}: frames {self.frames}; c = {centre}; {over}[c + {self.window[0]}, c + {self.window[1]}), "
                f"edges {self.edge}" + (f"; {self.description}" if self.description else ""))

    def to_rule(self) -> Rule:
        """The spec as a ``Rule`` museviz applies like any system's."""
        return Rule(self.name, self.grid, "custom", self.formula, lambda t: apply_spec(self, t), _explain)


def load_rules(paths: list[str | os.PathLike]) -> tuple[Rule, ...]:
    """The rules of spec files, refusing two of the same name."""
    specs = [load_spec(p) for p in paths]
    names = [s.name for s in specs]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise MusevizError(f"two rule specs are named {twice!r}: give each rule a name of its own")
    return tuple(s.to_rule() for s in specs)


def load_spec(path: str | os.PathLike) -> RuleSpec:
    """Read and validate a spec file (``.json`` as JSON, anything else as TOML).

    Raises
    ------
    MusevizError
        With one sentence naming what is wrong.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        raise MusevizError(f"rule spec {p.name}: no such file") from None
    if size > MAX_SPEC_BYTES:
        raise MusevizError(f"rule spec {p.name} is larger than {MAX_SPEC_BYTES // 1024} kB: a spec is a few lines of TOML or JSON")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise MusevizError(f"rule spec {p.name} cannot be read as UTF-8 text: write it as TOML or JSON") from None
    return parse_spec(text, "json" if p.suffix.lower() == ".json" else "toml", p.name)


def parse_spec(text: str, fmt: str = "toml", source: str = "the rule spec") -> RuleSpec:
    """Parse and validate spec ``text`` (``fmt`` "toml" or "json"; JSON is tried when
    ``fmt`` is "auto" and the text starts with ``{``)."""
    if fmt == "auto":
        fmt = "json" if text.lstrip().startswith("{") else "toml"
    if fmt == "toml" and tomllib is None:
        raise MusevizError(f"{source} is TOML, which needs Python 3.11 or newer: write it as JSON, such as {{\"name\": \"mine\", \"grid\": \"whisper50\", \"window\": [-4, 6]}}")
    errors = (json.JSONDecodeError,) if tomllib is None else (json.JSONDecodeError, tomllib.TOMLDecodeError)
    try:
        table = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except errors as exc:
        raise MusevizError(f"{source} is not valid {fmt.upper()} ({str(exc).splitlines()[0]}): write fields such as name = \"mine\" and window = [-4, 6]") from None
    if not isinstance(table, dict):
        raise MusevizError(f"{source} must be a table of fields (name, grid, window, ...), not a {type(table).__name__}")
    return validate(table)


def validate(table: dict) -> RuleSpec:
    """A ``RuleSpec`` from a parsed table, or a ``MusevizError`` naming the field at fault."""
    unknown = [k for k in table if k not in FIELDS]
    if unknown:
        raise MusevizError(f"unknown field {unknown[0]!r} in the rule spec: a spec has {', '.join(FIELDS)}")
    missing = [k for k in REQUIRED if k not in table]
    if missing:
        raise MusevizError(f"the rule spec has no {missing[0]!r}: {_ACCEPTS[missing[0]]}")
    values = {**DEFAULTS, **table}
    name = values["name"]
    if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise _bad("name", name)
    if name in RULES:
        raise MusevizError(f"'name' {name!r} is a system's rule already: give your rule a name of its own")
    for field, menu in (("grid", tuple(GRIDS)), ("frames", FRAMES), ("centre", CENTRES), ("edge", EDGES), ("resample", RESAMPLES)):
        if values[field] not in menu:
            raise _bad(field, values[field])
    fps = values["fps"]
    if isinstance(fps, bool) or not (fps in FPS_WORDS or (isinstance(fps, (int, float)) and FPS_RANGE[0] <= fps <= FPS_RANGE[1])):
        raise _bad("fps", fps)
    window = values["window"]
    if (not isinstance(window, list) or len(window) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in window)
            or not window[0] < window[1] or max(abs(v) for v in window) > MAX_OFFSET):
        raise _bad("window", window)
    description = values["description"]
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise _bad("description", description)
    if values["frames"] == "loop" and values["resample"] != "none":
        raise MusevizError("'frames' = \"loop\" needs 'resample' = \"none\": a resampled grid has one row per frame, so give int, ceil or round")
    return RuleSpec(name, values["grid"], (window[0], window[1]), fps if isinstance(fps, str) else float(fps), values["frames"],
                    values["centre"], values["edge"], values["resample"], description)


_ACCEPTS = {
    "name": f"give it a name of lower-case letters, digits and - . _ + (at most {MAX_NAME} characters)",
    "grid": f"choose one of {', '.join(GRIDS)}",
    "fps": "give \"clip\" (the clip's rate), \"int\" (int(fps), as MuseTalk v1.5 truncates it) or a number of frames per second from 1 to 1000",
    "frames": "give \"loop\" (the system's loop, until past the features), or \"int\", \"ceil\" or \"round\" of duration x fps",
    "centre": "give \"int\", \"floor\" or \"round\" (of i x rate / fps) or \"time\" (the frame's own time)",
    "window": f"give two whole numbers [start, end), start < end, the offsets around the centre in features (such as [-4, 6]), at most {MAX_OFFSET} away",
    "edge": f"give one of {', '.join(EDGES)}",
    "resample": f"give one of {', '.join(RESAMPLES)}",
    "description": f"give a sentence of at most {MAX_DESCRIPTION} characters",
}


def _bad(field: str, value) -> MusevizError:
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    return MusevizError(f"{field!r} cannot be {shown[:60]}: {_ACCEPTS[field]}")


# -- applying a spec ----------------------------------------------------------------------------


def apply_spec(spec: RuleSpec, t: Timeline) -> Schedule:
    """The spec's windows on a clip (see the module's docstring)."""
    a, b = spec.window
    width = b - a
    resampled = spec.resample != "none"
    n = t.n_features(spec.grid)
    fps = _fps(spec, t)
    if fps is None:
        return failed(spec.name, spec.grid, t.fps, f"int(fps) = int({t.fps:g}) = 0: the rule divides by it", width, t, resampled)
    if n == 0:
        return failed(spec.name, spec.grid, fps, f"no {spec.grid} features: the audio is too short", width, t, resampled)
    pinned = None
    if resampled:  # one row per frame: centres count rows
        n_frames = _frame_count(spec, t, fps)
        n_rows = n // 2 if spec.resample == "pairs" else n_frames
        centres = _centres(spec, t, fps, np.arange(n_frames))
    elif spec.frames == "loop":
        n_rows = n
        centres, pinned = _loop(spec, t, fps, n)
    else:
        n_rows = n
        centres = _centres(spec, t, fps, np.arange(_frame_count(spec, t, fps)))
    if not len(centres) or n_rows == 0:
        return failed(spec.name, spec.grid, fps, "makes no frame: the frame count is 0", width, t, resampled)
    rows = centres[:, None] + np.arange(a, b)
    pinned = (rows[:, -1] > n_rows - 1 if spec.edge == PIN else np.zeros(len(rows), bool)) if pinned is None else pinned
    rows[pinned] = np.arange(n_rows - width, n_rows)
    outside = (rows < 0) | (rows > n_rows - 1)
    dropped = outside.any(axis=1) if spec.edge == SKIP else np.zeros(len(rows), bool)
    zeroed = outside if spec.edge in (ZERO, SKIP) else np.zeros_like(outside)
    if resampled:
        raw = _positions(spec.resample, rows, len(centres), n)[0]
        indices = np.where(zeroed, np.nan, _positions(spec.resample, np.clip(rows, 0, n_rows - 1), len(centres), n)[1])
    else:
        raw = rows
        indices = np.where(zeroed, -1, np.clip(rows, 0, n_rows - 1))
    kw = dict(indices=indices, pinned=pinned, dropped=dropped, span=2.0 if spec.resample == "pairs" else 1.0)
    if isinstance(spec.fps, str):  # the clip's own frames
        return make_schedule(spec.name, spec.grid, fps, n, raw, spec.edge, own_frames(t, len(rows)), t, **kw)
    return generated(spec.name, spec.grid, fps, n, raw, spec.edge, t, **kw)


def _fps(spec: RuleSpec, t: Timeline) -> float | None:
    if spec.fps == "clip":
        return t.fps
    if spec.fps == "int":
        return float(int(t.fps)) if int(t.fps) >= 1 else None
    return spec.fps


def _frame_count(spec: RuleSpec, t: Timeline, fps: float) -> int:
    """``int``, ``ceil`` or ``round`` of ``N / 16000 * fps``, in that float order."""
    return {"int": int, "ceil": math.ceil, "round": round}[spec.frames](t.n_samples / SAMPLE_RATE * fps)


def _centres(spec: RuleSpec, t: Timeline, fps: float, i: np.ndarray) -> np.ndarray:
    """Frame ``i``'s centre on the grid (or on the rows, when resampled): ``int``/``floor``/
    ``round`` of ``i * rate / fps`` (for rows, ``i`` itself), or where the frame's time falls."""
    resampled = spec.resample != "none"
    if spec.centre == "time":
        times = _times(spec, t, fps, i) + TIME_EPSILON_S
        position = times * fps if resampled else GRIDS[spec.grid].position_at(times)
        return np.floor(position).astype(np.int64)
    if resampled:
        return i.astype(np.int64)
    x = i * GRIDS[spec.grid].rate_hz / fps
    return (np.round(x) if spec.centre == "round" else np.floor(x)).astype(np.int64)  # int() is floor for i >= 0


def _times(spec: RuleSpec, t: Timeline, fps: float, i: np.ndarray) -> np.ndarray:
    """When frame ``i`` is shown: the clip's real frame times (carried on at ``fps`` past the
    last one) for the clip's rate, ``i / fps`` for a rate of the rule's own."""
    if not isinstance(spec.fps, str) or not t.n_frames:
        return i / fps
    last = t.n_frames - 1
    return np.where(i <= last, t.frame_times_s[np.minimum(i, last)], t.frame_times_s[last] + (i - last) / fps)


def _loop(spec: RuleSpec, t: Timeline, fps: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The system's own loop (see the module's docstring): (centres, which window is pinned)."""
    end = spec.window[1]
    if spec.edge in (CLAMP, ZERO):
        if spec.centre == "int":
            centres = musetalk_v1_centres(n, fps, GRIDS[spec.grid].rate_hz)
        else:
            count = first_index(lambda i: int(_centres(spec, t, fps, np.array([i]))[0]) > n, n * fps / GRIDS[spec.grid].rate_hz) + 1
            centres = _centres(spec, t, fps, np.arange(count))
        return centres, np.zeros(len(centres), bool)
    fits = first_index(lambda i: int(_centres(spec, t, fps, np.array([i]))[0]) + end > n, n * fps / GRIDS[spec.grid].rate_hz)
    count = fits + (spec.edge == PIN)
    pinned = np.arange(count) >= fits
    return _centres(spec, t, fps, np.arange(count)), pinned


def _positions(resample: str, rows: np.ndarray, n_rows: int, n_native: int) -> tuple[np.ndarray, np.ndarray]:
    """(the formula's native position of each row, the position read)."""
    if resample == "linear-align-corners":
        raw = align_corners(rows, n_rows, n_native)
        return raw, np.clip(raw, 0, n_native - 1)
    if resample == "linear":
        return half_pixel(rows, n_rows, n_native)
    if resample == "nearest":
        raw = np.floor(rows * (n_native / n_rows))
        return raw, np.clip(raw, 0, n_native - 1)
    raw = 2.0 * rows + 0.5  # pairs
    return raw, raw


def _explain(t: Timeline, s: Schedule, k: int) -> list[str]:
    return [s.definition.formula if s.definition else "", reads(s, k)]
