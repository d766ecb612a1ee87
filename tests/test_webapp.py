"""The app's own logic, without a server: safe unzipping, options, the Learn tab."""

import math
import stat
import zipfile

import numpy as np
import pytest

from museviz import webapp
from museviz.errors import MusevizError


def make_zip(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            if isinstance(data, zipfile.ZipInfo):
                z.writestr(data, name)
            else:
                z.writestr(name, data)
    return path


def test_zip_entries_never_escape_the_destination(tmp_path):
    link = zipfile.ZipInfo("clips/link.mp4")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(tmp_path / "a.zip", [
        ("../../escape.mp4", b"x"), ("/abs/root.mp4", b"y"), ("clips/ok.mp4", b"z"),
        ("notes.txt", b"t"), ("/etc/passwd", link), ("..\\win.mp4", b"w"),
    ])
    dest = tmp_path / "dest"
    assert webapp.extract_videos(archive, dest, max_files=10, max_bytes=1000) == 2
    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert written == ["abs/root.mp4", "clips/ok.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "dest"]


def test_zip_bombs_and_crowds_are_refused(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", [("big.mp4", b"\0" * 5_000_000)])
    with pytest.raises(MusevizError, match="unpacks to more than 1 MB"):
        webapp.extract_videos(bomb, tmp_path / "b", max_files=10, max_bytes=2**20)
    crowd = make_zip(tmp_path / "crowd.zip", [(f"c{i}.mp4", b"x") for i in range(5)])
    with pytest.raises(MusevizError, match="more than 3 videos"):
        webapp.extract_videos(crowd, tmp_path / "c", max_files=3, max_bytes=2**20)


def test_a_zip_without_videos_or_not_a_zip_says_so(tmp_path):
    empty = make_zip(tmp_path / "e.zip", [("readme.txt", b"hi")])
    with pytest.raises(MusevizError, match="no video files"):
        webapp.extract_videos(empty, tmp_path / "e", 10, 2**20)
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(MusevizError, match="not a readable zip"):
        webapp.extract_videos(tmp_path / "fake.zip", tmp_path / "f", 10, 2**20)


@pytest.mark.parametrize("text, fps", [("29.97", 30000 / 1001), ("23.976", 24000 / 1001), ("59.94", 60000 / 1001), ("25", 25.0), (" 48 ", 48.0)])
def test_learn_rates_include_the_ntsc_ones(text, fps):
    assert webapp.parse_fps(text) == pytest.approx(fps)


@pytest.mark.parametrize("text", ["14", "61", "fast", ""])
def test_learn_rejects_rates_outside_15_to_60(text):
    import gradio as gr

    with pytest.raises(gr.Error):
        webapp.parse_fps(text)


def test_learn_shows_v15_drift_at_2997_and_its_exit_at_60():
    *_, pitfalls = webapp.learn("29.97", 60, ["exact", "musetalk-v1.5"])
    assert "v15-fps-truncation" in pitfalls and "1.94 s a minute" in pitfalls
    timeline, drift, mapping, pitfalls = webapp.learn("60", 10, None)
    assert "v15-window-overflow" in pitfalls and "exits at frame 599" in pitfalls
    assert all(isinstance(img, np.ndarray) and img.ndim == 3 for img in (timeline, drift, mapping))


def test_the_app_offers_the_servers_syncnet_weights_and_nothing_typed(tmp_path, monkeypatch, syncnet_checkpoint):
    import gradio as gr

    assert webapp.syncnet_choices() == [("none on this server", "")]
    monkeypatch.setenv("MUSEVIZ_SYNCNET_CHECKPOINT", syncnet_checkpoint)
    cached = tmp_path / "museviz" / "syncnet_v2.model"
    cached.parent.mkdir()
    cached.write_bytes(b"")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert webapp.syncnet_choices() == [("syncnet_random.model", syncnet_checkpoint), ("syncnet_v2.model", str(cached))]
    assert webapp._options("tiny", None, 0.1, "", str(cached), "whole").syncnet_checkpoint == str(cached)
    assert webapp._options("tiny", None, 0.1, "").syncnet_checkpoint == syncnet_checkpoint
    for typed in ("/etc/passwd", str(tmp_path / "other.model")):
        with pytest.raises(gr.Error, match="Unknown SyncNet weights"):
            webapp._options("tiny", None, 0.1, "", typed, "face")
    with pytest.raises(gr.Error, match="Unknown LSE crop"):
        webapp._options("tiny", None, 0.1, "", syncnet_checkpoint, "mouth")


def test_a_broken_syncnet_file_is_one_sentence_in_the_panel_and_the_analysis_completes(clips, tmp_path):
    from museviz.analysis import Options, analyze

    broken = tmp_path / "broken.model"
    broken.write_text("not weights\n")
    analysis = analyze(clips("panel25.mp4", duration_s=2.0), Options(syncnet_checkpoint=str(broken), syncnet_download=False))
    assert analysis.sync is not None and analysis.lse is None
    panel = webapp.lse_html(analysis)
    assert "Not measured: broken.model is not a SyncNet checkpoint (not a torch file): give syncnet_v2.model" in panel
    assert "\n" not in analysis.lse_error


def test_inspect_shows_a_newer_systems_window_with_its_formula(clips):
    from museviz.analysis import Options, analyze

    analysis = analyze(clips("sync25.mp4", duration_s=4.0), Options(sync=False))
    key = webapp._remember(webapp._Session(analysis))
    image, formulas, t_s = webapp.inspect_frame(key, 30, ["exact", "hallo", "sonic", "pc-avs"])
    assert image.ndim == 3 and t_s == 1.2
    n = analysis.timeline.n_samples
    for says in ("hallo", f"T = ceil({n} / 16000 * 25) = {math.ceil(n / 16000 * 25)}", "sonic", "generated frame 15", "pc-avs", "target f = 32", "on wav2vec2", "on lws-mel"):
        assert says in formulas, says
    assert webapp.inspect_plot(key, 30, ["hallo", "sonic"]).ndim == 3


def test_learn_draws_every_rule_and_a_rule_of_your_own_without_an_upload():
    from museviz.rules import RULES
    from museviz.spec import MUSETALK_V1_SPEC

    timeline, drift, mapping, pitfalls = webapp.learn("25", 8, list(RULES), MUSETALK_V1_SPEC)
    compare = webapp.learn_compare("25", 8, list(RULES), MUSETALK_V1_SPEC, 100)
    assert all(isinstance(img, np.ndarray) and img.ndim == 3 for img in (timeline, drift, mapping, compare))
    assert "system-exits" in pitfalls and "float-frame-count" in pitfalls


def test_learn_refuses_a_bad_rule_spec_with_one_sentence():
    import gradio as gr

    with pytest.raises(gr.Error) as refused:
        webapp.learn("25", 8, None, 'name = "x"\ngrid = "whisper50"\nwindow = [-4, 6]\nedge = "wrap"')
    assert refused.value.message.startswith("'edge' cannot be 'wrap'") and "\n" not in refused.value.message


def test_the_systems_table_has_every_system_with_its_source_here_and_in_the_readme():
    from pathlib import Path

    from museviz.rules import RULES
    from museviz.systems import markdown_table

    table = webapp.systems_html()
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name, rule in RULES.items():
        if rule.kind == "reference":
            continue
        assert f"<code>{name}</code>" in table and rule.system.source in table, name
        assert f"`{name}`" in readme and rule.system.source in readme, name
    assert markdown_table() in readme, "README's systems table is stale: paste in museviz.systems.markdown_table()"
