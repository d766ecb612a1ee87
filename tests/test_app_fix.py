"""The app's Fix panel: in Chromium after an analysis, and through gradio_client as ``/fix``."""

import re

import pytest
from test_app import ROOT, SCREENSHOTS, app_server, browser, client_temp  # noqa: F401  (browser and client_temp are fixtures)

from museviz.media import read_media

LATE = ROOT / "assets" / "audio_late_120ms.mp4"
VFR = ROOT / "assets" / "vfr.mp4"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from app_server(tmp_path_factory.mktemp("app_fix"))


def test_fix_this_clip_after_an_analysis_plays_the_fixed_clip_in_the_browser(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server, wait_until="load")
    assert not page.locator("#fix_run").is_visible()
    page.locator("#video_in input[type=file]").set_input_files(str(LATE))
    page.locator("#video_in video").wait_for(timeout=60_000)
    page.locator("#run").click()
    page.locator("#fix_run").wait_for(timeout=300_000)

    measured = re.search(r"offset [+-]\d+ frames = ([+-]\d+) ms", page.locator("#sync").inner_text()).group(1)
    assert int(measured) < 0  # the audio is late
    assert page.locator("#fix_offset textarea").input_value() == f"{measured}ms"
    page.locator("#fix_run").click()
    video = page.locator("#fixed_video video")
    video.wait_for(timeout=120_000)

    summary = page.locator("#fix_summary").inner_text()
    assert f"audio moved {-int(measured)} ms earlier (offset {measured}ms as given)" in summary
    lines = summary.splitlines()
    sync_row = lines[lines.index("sync-offset") + 1]
    assert re.search(r"WARN\s+-\d frames .*→\s+OK\s+[+-][01] frames", sync_row), sync_row
    response = page.request.get(video.get_attribute("src"))
    assert response.status == 200 and response.headers["content-type"] == "video/mp4"
    page.wait_for_function("() => document.querySelector('#fixed_video video').readyState >= 1", timeout=30_000)
    assert video.evaluate("v => v.duration") == pytest.approx(6.0, abs=0.1)
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#fixed_video video').currentTime > 0.5", timeout=30_000)
    assert "audio_late_120ms_fixed\n.mp4" in page.locator("#fixed_file").inner_text()  # the name, its suffix apart
    download = page.request.get(page.locator("#fixed_file a").first.get_attribute("href"))
    assert download.status == 200 and download.body() == response.body()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#fix_panel").screenshot(path=str(SCREENSHOTS / "fix_panel.png"))

    page.locator("#video_in button[aria-label='Clear']").first.click()
    page.locator("#fix_panel").wait_for(state="hidden", timeout=30_000)
    page.close()


def test_fix_through_gradio_client_without_an_analysis(server, client_temp):  # noqa: F811
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False, download_files=str(client_temp))
    html, video, download, data = client.predict(handle_file(str(VFR)), "auto", "25", True, "keep", api_name="/fix")
    assert data["source"] == "vfr.mp4" and data["output"] == "vfr_fixed.mp4"
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["vfr"]["before"]["level"] == "warn" and checks["vfr"]["after"]["level"] == "ok"
    assert data["after"]["fps_fraction"] == "25/1" and data["after"]["vfr"] is False
    assert "vfr" in html and "variable" in html
    fixed = read_media(video["video"] if isinstance(video, dict) else video)
    assert fixed.video.fps_fraction == 25 and not fixed.video.vfr
    assert abs(fixed.audio.duration_s - fixed.video.duration_s) < 1e-3
    assert read_media(download).video.n_frames == fixed.video.n_frames


@pytest.mark.parametrize("offset, fps, says", [
    ("banana", "25", "offset 'banana' is not one museviz reads"),
    ("-3", "25", "offset '-3' has no unit"),
    ("0", "999", "frame rate 999 is outside 1 to 240 fps"),
])
def test_a_fix_setting_museviz_cannot_read_is_one_sentence(server, client_temp, offset, fps, says):  # noqa: F811
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False, download_files=str(client_temp))
    with pytest.raises(Exception, match=re.escape(says)):
        client.predict(handle_file(str(LATE)), offset, fps, False, "keep", api_name="/fix")
