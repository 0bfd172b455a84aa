"""A phone (390 x 844): no horizontal scrolling on any public page; screenshots under /tmp for a human look."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("PANTAU_SCREENSHOTS", "/tmp/pantau-screenshots"))
# A phone widens its layout viewport (innerWidth) to fit content that is too wide: compare with the screen.
NO_SIDEWAYS = "document.documentElement.scrollWidth <= screen.width && window.innerWidth <= screen.width"


def test_phone_has_no_horizontal_scrolling(live_server: LiveServer, phone: Any, media: Path) -> None:
    first = live_server.camera(name="Jembatan Teluk Kendari dengan nama yang sangat panjang sekali", district="Abeli",
                               description="Jembatan Teluk Kendari, lalu lintas dua arah.")
    live_server.install_media(first, media)
    others = [live_server.camera(name=f"Simpang Empat {i}", latitude=-3.97 + i / 500, longitude=122.51 + i / 500)
              for i in range(8)]
    for cam in others[:3]:
        live_server.install_media(cam, media)
    offline = live_server.camera(name="Pantai Nambo", seen_ago_s=7200, category="beach")
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "map": "/", "list": "/kamera", "camera": f"/kamera/{first.id}", "offline": f"/kamera/{offline.id}",
        "multiview": "/multiview?ids=" + ",".join(str(c.id) for c in [first, *others[:3]]),
        "embed": f"/embed/{first.id}", "english-list": "/kamera?lang=en",
    }
    for name, path in pages.items():
        phone.goto(live_server.url + path)
        if name == "map":
            phone.wait_for_function("() => window.PantauMap.markers.length === 10")
        phone.wait_for_load_state("networkidle")
        assert phone.evaluate(NO_SIDEWAYS), f"{name} scrolls sideways on a phone"
        if name in ("list", "camera", "map"):
            phone.screenshot(path=str(SHOTS / f"{name}.png"), full_page=name != "map")
    # Playing on the phone does not widen the page either.
    phone.goto(f"{live_server.url}/kamera/{first.id}?lang=id")
    phone.get_by_role("button", name="Tonton langsung").tap()
    phone.wait_for_function("() => document.getElementById('live-video').currentTime > 0")
    expect(phone.locator(".player")).to_have_attribute("data-state", "playing")
    assert phone.evaluate(NO_SIDEWAYS)
    phone.screenshot(path=str(SHOTS / "camera-playing.png"))
