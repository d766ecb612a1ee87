"""The app as users meet it: a real Gradio server, driven by Debian's Chromium and by gradio_client."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from museviz.webapp import ANALYZE_OUTPUTS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
CLIP = ROOT / "assets" / "sync_29.97fps.mp4"
SCREENSHOTS = Path(os.environ.get("MUSEVIZ_SCREENSHOTS", ROOT / "out" / "screenshots"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_server(tmp: Path, **extra_env: str):
    """``python app.py`` on a free port, with its own temp folders (and ``extra_env``); yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "TMPDIR": str(tmp),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **extra_env,
    }
    log = open(tmp / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited: {(tmp / 'app.log').read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("app.py did not start listening within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    work = tmp / "museviz-work"
    assert not work.exists() or not list(work.iterdir()), "per-request folders were left behind"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from app_server(tmp_path_factory.mktemp("app"))


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_upload_analyse_and_inspect_in_the_browser(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server, wait_until="load")
    page.locator("#video_in input[type=file]").set_input_files(str(CLIP))
    page.locator("#video_in video").wait_for(timeout=60_000)
    page.locator("#run").click()

    summary = page.locator("#summary table").first
    summary.wait_for(timeout=120_000)
    text = page.locator("#summary").inner_text()
    assert "30000/1001" in text and "29.97003" in text
    assert "180" in text
    assert "v15-fps-truncation" in page.locator("#checks").inner_text()

    for plot in ("mapping", "drift", "edges", "features", "frame", "sync"):
        page.locator(f"#plot_{plot}").scroll_into_view_if_needed()  # the plots load lazily, as a reader scrolls to them
        img = page.locator(f"#plot_{plot} img")
        img.wait_for(state="attached", timeout=120_000)
        img.scroll_into_view_if_needed()  # the images load lazily, when scrolled to, as a user would
        img.wait_for(timeout=120_000)
        assert img.evaluate("i => i.complete && i.naturalWidth > 300"), plot

    video = page.locator("#overlay video")
    video.wait_for(timeout=300_000)
    src = video.get_attribute("src")
    response = page.request.get(src)
    assert response.status == 200 and response.headers["content-type"] == "video/mp4"
    page.wait_for_function("() => document.querySelector('#overlay video').readyState >= 1", timeout=30_000)
    assert video.evaluate("v => v.duration") == pytest.approx(6.0, abs=0.2)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "analyze.png"), full_page=True)

    page.get_by_role("tab", name="Inspect").click()
    frame_img = page.locator("#frame_image img")
    frame_img.wait_for(timeout=60_000)
    before = frame_img.get_attribute("src")
    number = page.locator("#frame_slider input[type=number]")
    number.fill("12")
    number.blur()
    page.wait_for_function(
        "before => { const i = document.querySelector('#frame_image img'); return i && i.src !== before; }",
        arg=before, timeout=30_000,
    )
    assert page.locator("#frame_time input").input_value() == str(round(12 * 1001 / 30000, 4))
    page.wait_for_function("() => document.querySelector('#frame_formulas').innerText.includes('int(12 * 50 / 29.97) = 20')", timeout=30_000)
    page.locator("#frame_windows img").wait_for(timeout=60_000)
    page.screenshot(path=str(SCREENSHOTS / "inspect.png"), full_page=True)
    page.close()


@pytest.fixture
def client_temp(tmp_path, monkeypatch):
    """gradio_client leaves an empty folder in the temp dir per downloaded file: keep them in tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_analysis_through_gradio_client_returns_the_report(server, client_temp):
    tmp_path = client_temp
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False, download_files=str(tmp_path))
    result = client.predict(
        handle_file(str(CLIP)), ["exact", "musetalk-v1.5"], "tiny", None, 0.1, "", False, 0, "", "face", api_name="/analyze"
    )
    named = dict(zip(ANALYZE_OUTPUTS, result))
    report = named["report"]
    assert report["schema"] == 2
    assert report["video"]["fps_fraction"] == "30000/1001" and report["video"]["n_frames"] == 180
    assert report["schemes"]["musetalk-v1.5"]["fps_used"] == 29
    check = {c["id"]: c for c in report["checks"]}["v15-fps-truncation"]
    assert check["level"] == "warn" and check["value"] > 0
    downloads = [Path(p).name for p in named["downloads"]]
    assert downloads == ["report.json", "features.npz"]
    assert report["lse"]["error"].startswith("no SyncNet weights; put syncnet_v2.model")
    assert "Not measured: no SyncNet weights" in named["lse_panel"]


def test_audit_tab_through_gradio_client(server, client_temp):
    tmp_path = client_temp
    import zipfile

    from gradio_client import Client, handle_file

    archive = tmp_path / "clips.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(ROOT / "assets" / "sync_25fps.mp4", "set/sync_25fps.mp4")
        z.write(ROOT / "assets" / "audio_short.mp4", "set/audio_short.mp4")
    client = Client(server, verbose=False, download_files=str(tmp_path / "dl"))
    summary, table, files = client.predict(handle_file(str(archive)), 0.1, 6, 0.5, 3, api_name="/audit")
    assert "2 clips: 1 kept, 1 dropped" in summary and "LSE not measured: no SyncNet weights" in summary
    rows = {row[0]: row for row in table["data"]}
    assert rows["set/sync_25fps.mp4"][1] is True
    assert rows["set/audio_short.mp4"][2] == "duration-mismatch;training-window-short"
    assert sorted(Path(f).name for f in files) == ["audit.csv", "audit.json"]


@pytest.mark.parametrize("path", ["/etc/passwd", str(ROOT / "app.py"), str(ROOT / "museviz" / "config.py"), "/proc/self/environ"])
def test_the_file_route_refuses_anything_but_its_own_outputs(server, path):
    import urllib.error
    import urllib.parse
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server + "gradio_api/file=" + urllib.parse.quote(path), timeout=30)
    assert refused.value.code in (403, 404)


def test_the_bundled_examples_are_served(server):
    import urllib.request

    with urllib.request.urlopen(server + "gradio_api/file=" + str(CLIP), timeout=30) as response:
        assert response.status == 200 and response.headers["content-type"] == "video/mp4"


def test_learn_lists_every_system_draws_a_chosen_set_and_refuses_a_bad_rule_spec(server, browser):
    from museviz.rules import RULES
    from museviz.spec import MUSETALK_V1_SPEC

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server, wait_until="load")
    page.get_by_role("tab", name="Learn").click()
    compare = page.locator("#learn_compare img")
    compare.wait_for(timeout=120_000)
    choices, table = page.locator("#learn_rules").inner_text(), page.locator("#systems_table").inner_text()
    for name, rule in RULES.items():
        assert name in choices, name
        if rule.system:
            assert name in table and rule.system.source in table, name

    def redrawn(action):
        before = compare.get_attribute("src")
        action()
        page.wait_for_function("before => { const i = document.querySelector('#learn_compare img'); return i && i.src !== before; }", arg=before, timeout=120_000)

    redrawn(lambda: [page.locator("#learn_rules").get_by_label(name, exact=True).check() for name in ("hallo", "sonic", "pc-avs")])
    page.get_by_role("button", name="A rule of your own").click()
    page.locator("#learn_spec textarea").fill(MUSETALK_V1_SPEC.replace("window = [-4, 6]", "window = [6, -4]"))
    page.locator("#learn_spec_draw").click()
    page.get_by_text("'window' cannot be [6, -4]: give two whole numbers").first.wait_for(timeout=60_000)
    page.locator("#learn_spec textarea").fill(MUSETALK_V1_SPEC + 'colour = "red"\n')
    page.locator("#learn_spec_draw").click()
    page.get_by_text("unknown field 'colour' in the rule spec").first.wait_for(timeout=60_000)
    page.locator("#learn_spec textarea").fill(MUSETALK_V1_SPEC)
    redrawn(lambda: page.locator("#learn_spec_draw").click())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "learn.png"), full_page=True)
    page.close()
