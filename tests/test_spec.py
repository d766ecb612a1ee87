"""A rule of your own: a declarative spec, validated field by field, applied like any system's."""

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from museviz.errors import MusevizError
from museviz.rules import RULES, Timeline
from museviz.spec import MUSETALK_V1_SPEC, load_rules, parse_spec

NTSC = float(Fraction(30000, 1001))
ROOT = Path(__file__).resolve().parent.parent


def timelines():
    rng = np.random.default_rng(12)
    for fps in (25.0, 24.0, NTSC, 30.0, 23.976, 50.0, 60.0, float(rng.uniform(15, 60))):
        for seconds in (0.03, 0.5, 3.3, 10.0, 61.7):
            yield Timeline.constant_rate(fps, seconds, seconds * float(rng.uniform(0.9, 1.1)))


def test_a_spec_equal_to_musetalk_v1s_rule_gives_exactly_its_indices():
    mine = parse_spec(MUSETALK_V1_SPEC).to_rule()
    for t in timelines():
        own, v1 = mine.schedule(t), RULES["musetalk-v1"].schedule(t)
        assert own.indices.tolist() == v1.indices.tolist() and own.source_frame.tolist() == v1.source_frame.tolist(), (t.fps, t.n_samples)
        assert own.error == v1.error


def test_the_same_spec_as_json_and_with_its_defaults_left_out():
    as_json = parse_spec(json.dumps({"name": "j", "grid": "whisper50", "window": [-4, 6]}), "json").to_rule()
    t = Timeline.constant_rate(NTSC, 12.0)
    assert as_json.schedule(t).indices.tolist() == RULES["musetalk-v1"].schedule(t).indices.tolist()


def test_a_pinning_spec_is_wav2lips_loop():
    mine = parse_spec('name = "w"\ngrid = "mel80"\nwindow = [0, 16]\nedge = "pin"').to_rule()
    for fps in (25.0, 24.0, 30.0):
        t = Timeline.constant_rate(fps, 7.0)
        own, w2l = mine.schedule(t), RULES["wav2lip"].schedule(t)
        assert own.indices.tolist() == w2l.indices.tolist() and own.pinned.tolist() == w2l.pinned.tolist()


def test_a_fixed_rate_resampling_spec_generates_at_its_own_rate():
    spec = 'name = "r"\ngrid = "wav2vec2"\nfps = 25\nframes = "ceil"\nwindow = [-2, 3]\nresample = "linear-align-corners"'
    s = parse_spec(spec).to_rule().schedule(Timeline.constant_rate(30.0, 2.5))
    n = 40000
    assert s.n_chunks == 63 and s.fps_used == 25 and s.resampled
    assert np.allclose(s.picture_times_s, np.arange(63) / 25)
    c = (n - 400) // 320 + 1
    assert np.allclose(s.indices[10], [j * (c - 1) / 62 for j in range(8, 13)])


def test_a_pairs_spec_reads_the_mean_of_two_tokens():
    s = parse_spec('name = "p"\ngrid = "hubert"\nframes = "int"\nfps = 25\nwindow = [0, 1]\nresample = "pairs"\nedge = "zero"').to_rule().schedule(Timeline.constant_rate(25, 2))
    assert s.indices[:3].ravel().tolist() == [0.5, 2.5, 4.5] and s.span == 2


BAD = [
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\ncolour = "red"', "unknown field 'colour'"),
    ('grid = "whisper50"\nwindow = [-4, 6]', "has no 'name'"),
    ('name = "My Rule"\ngrid = "whisper50"\nwindow = [-4, 6]', "'name' cannot be"),
    ('name = "musetalk-v1"\ngrid = "whisper50"\nwindow = [-4, 6]', "is a system's rule already"),
    ('name = "x"\ngrid = "wav2vec3"\nwindow = [-4, 6]', "'grid' cannot be 'wav2vec3': choose one of whisper50"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [6, -4]', "'window' cannot be [6, -4]"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4.5, 6]', "'window' cannot be"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\nfps = "fast"', "'fps' cannot be 'fast'"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\nfps = 0', "'fps' cannot be 0"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\nfps = true', "'fps' cannot be true"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\nframes = "all"', "'frames' cannot be 'all'"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\ncentre = "middle"', "'centre' cannot be 'middle'"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\nedge = "wrap"', "'edge' cannot be 'wrap': give one of clamp, zero, pin, skip"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\nresample = "cubic"', "'resample' cannot be 'cubic'"),
    ('name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\nresample = "linear"', "'frames' = \"loop\" needs 'resample' = \"none\""),
    ('name = "x"\ngrid = whisper50', "is not valid TOML"),
    ('[1, 2]', "is not valid TOML"),
    ('__import__("os").system("touch pwned")', "is not valid TOML"),
]


@pytest.mark.parametrize("text, says", BAD)
def test_a_bad_spec_is_refused_with_one_sentence_naming_the_field(text, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MusevizError) as refused:
        parse_spec(text)
    message = str(refused.value)
    assert says in message and "\n" not in message and message.count(": ") <= 2, message
    assert list(tmp_path.iterdir()) == []


def test_two_specs_of_one_name_are_refused(tmp_path):
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text(MUSETALK_V1_SPEC)
    with pytest.raises(MusevizError, match="two rule specs are named 'my-musetalk-v1'"):
        load_rules([tmp_path / "a.toml", tmp_path / "b.toml"])


def run(*args, cwd):
    """The CLI run in ``cwd`` (where the spec files are), importing this checkout's museviz."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "museviz.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_cli_applies_a_spec_and_reports_it_beside_musetalk_v1(clips, tmp_path):
    (tmp_path / "mine.toml").write_text(MUSETALK_V1_SPEC)
    (tmp_path / "wav.json").write_text(json.dumps({"name": "my-wav2lip", "grid": "mel80", "window": [0, 16], "edge": "pin"}))
    out = tmp_path / "out"
    result = run("analyze", clips("spec2997.mp4", fps=Fraction(30000, 1001), duration_s=3.0), "--out", str(out), "--rule", "mine.toml", "--rule", "wav.json",
                 "--no-plots", "--no-overlay", "--no-sync", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "my-musetalk-v1" in result.stdout
    schemes = json.loads((out / "report.json").read_text())["schemes"]
    assert schemes["my-musetalk-v1"]["indices"] == schemes["musetalk-v1"]["indices"]
    assert schemes["my-musetalk-v1"]["kind"] == "custom" and "your rule" in schemes["my-musetalk-v1"]["formula"]
    assert schemes["my-wav2lip"]["indices"] == schemes["wav2lip"]["indices"]


@pytest.mark.parametrize(
    "spec, says",
    [("edge = \"wrap\"", "'edge' cannot be 'wrap'"), ("speed = 2", "unknown field 'speed'")],
)
def test_cli_refuses_a_bad_spec_with_one_line_and_writes_nothing(clips, tmp_path, spec, says):
    (tmp_path / "bad.toml").write_text(f'name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\n{spec}\n')
    result = run("analyze", clips("spec25.mp4", duration_s=1.0), "--out", "o", "--rule", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("museviz: error: ") and says in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
