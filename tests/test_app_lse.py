"""The app's LSE panel on a server that has SyncNet weights, in Chromium and through gradio_client."""

import pytest
from test_app import ROOT, SCREENSHOTS, app_server, browser  # noqa: F401  (browser is a fixture)

from museviz.webapp import ANALYZE_OUTPUTS

CLIP = ROOT / "assets" / "audio_late_120ms.mp4"


@pytest.fixture(scope="module")
def lse_server(tmp_path_factory, syncnet_checkpoint):
    yield from app_server(tmp_path_factory.mktemp("app_lse"), MUSEVIZ_SYNCNET_CHECKPOINT=syncnet_checkpoint)


def test_the_lse_panel_sits_beside_the_sync_estimate(lse_server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(lse_server, wait_until="load")
    page.locator("#video_in input[type=file]").set_input_files(str(CLIP))
    page.locator("#video_in video").wait_for(timeout=60_000)
    page.locator("#run").click()
    numbers = page.locator("#lse .mv-lse-numbers")
    numbers.wait_for(timeout=180_000)
    text = page.locator("#lse").inner_text()
    assert "LSE-C" in text and "LSE-D" in text and "weight-free estimate" in text
    assert "syncnet_random.model" in text and "museviz's tracked face box" in text
    assert page.locator("#lse svg.mv-lse-curve polyline").count() == 1
    page.locator("#overlay video").wait_for(timeout=300_000)  # the analysis is over: nothing dimmed by progress
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#sync").screenshot(path=str(SCREENSHOTS / "sync_panel.png"))
    page.locator("#lse").screenshot(path=str(SCREENSHOTS / "lse_panel.png"))
    page.close()


def test_the_app_offers_only_the_servers_weights(lse_server, client_temp, syncnet_checkpoint):
    from gradio_client import Client, handle_file

    client = Client(lse_server, verbose=False, download_files=str(client_temp))
    args = [handle_file(str(CLIP)), ["exact"], "tiny", None, 0.1, "", False, 0]
    named = dict(zip(ANALYZE_OUTPUTS, client.predict(*args, syncnet_checkpoint, "whole", api_name="/analyze")))
    lse = named["report"]["lse"]
    assert lse["crop"] == "whole" and lse["checkpoint"]["name"] == "syncnet_random.model"
    assert "LSE-C" in named["lse_panel"]
    with pytest.raises(Exception, match="not in the list of choices"):  # Gradio refuses it before museviz sees it
        client.predict(*args, "/etc/passwd", "face", api_name="/analyze")


@pytest.fixture
def client_temp(tmp_path, monkeypatch):
    """gradio_client leaves an empty folder in the temp dir per downloaded file: keep them in tmp_path."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path
