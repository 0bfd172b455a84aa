"""The camera page in headless Chromium plays a real camera: ``video.currentTime`` advances."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Portal, Workers
from tests.e2e.test_live import add_camera, fetch, playlist_url
from tests.support.tools import wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def start_playing(page: Any) -> None:
    """Press play the way a viewer does (the page shows a snapshot until then)."""
    page.locator(".player [data-action=play]").first.click()


def test_camera_page_plays_live_video_in_chromium(portal: Portal, workers: Workers, rtsp, page) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1))
    workers.start("w1")
    wait_for(lambda: fetch(playlist_url(portal, camera))[0] == 200, timeout=30, message="no live playlist")
    page.goto(f"{portal.url}/kamera/{camera.id}")
    start_playing(page)
    page.wait_for_function("() => document.getElementById('live-video').currentTime > 0.5", timeout=30_000)
    first = page.evaluate("() => document.getElementById('live-video').currentTime")
    page.wait_for_function(f"() => document.getElementById('live-video').currentTime > {first + 2}",
                           timeout=20_000)
    assert page.evaluate("() => document.getElementById('live-video').videoWidth") == 1280
