"""The map in a real browser: the public cameras as clustered markers, never the private ones."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_map_shows_public_cameras_and_not_private_ones(live_server: LiveServer, page: Any) -> None:
    public = [live_server.camera(name=f"Simpang {i}", latitude=-3.97 + i * 0.002, longitude=122.51 + i * 0.002)
              for i in range(6)]
    live_server.camera(name="Rahasia", public=False)
    live_server.camera(name="Dimatikan", enabled=False)
    stale = live_server.camera(name="Mati", status="online", seen_ago_s=7200, latitude=-3.90, longitude=122.60)
    page.goto(live_server.url + "/")
    page.wait_for_function("() => window.PantauMap && window.PantauMap.markers.length > 0")
    ids = page.evaluate("window.PantauMap.markers.map(m => m.options.cameraId)")
    assert sorted(ids) == sorted([c.id for c in public] + [stale.id])
    names = page.evaluate("window.PantauMap.markers.map(m => m.getTooltip().getContent())")
    assert "Rahasia" not in names and "Dimatikan" not in names
    statuses = dict(page.evaluate("window.PantauMap.markers.map(m => [m.getTooltip().getContent(), m.options.status])"))
    assert statuses["Mati"] == "offline" and statuses["Simpang 0"] == "online"
    # Drawn on the map: clusters or single circle markers.
    expect(page.locator(".marker-cluster, path.leaflet-interactive").first).to_be_visible()
    assert "Rahasia" not in page.content()


def test_clicking_a_camera_leads_to_a_playing_live_view(live_server: LiveServer, page: Any, media: Any) -> None:
    camera = live_server.camera(name="Kendari Beach", latitude=-3.9664, longitude=122.5931)
    live_server.install_media(camera, media)
    page.goto(live_server.url + "/")
    page.wait_for_function("() => window.PantauMap.markers.length === 1")
    page.evaluate("""() => {
        const m = window.PantauMap.markers[0];
        window.PantauMap.cluster.zoomToShowLayer(m, () => m.openPopup());
    }""")
    popup = page.locator(".leaflet-popup .cam-popup")
    expect(popup).to_contain_text("Kendari Beach")
    expect(popup.locator("img")).to_have_attribute("src", f"/media/snapshots/{camera.media_key}.jpg")
    popup.get_by_role("link", name="Tonton langsung").click()
    page.wait_for_url(f"**/kamera/{camera.id}")
    expect(page.locator("h1")).to_have_text("Kendari Beach")
    page.get_by_role("button", name="Tonton langsung").click()
    page.wait_for_function(
        "() => document.getElementById('live-video').currentTime > 0 && window.PantauPlayer !== null", timeout=15_000
    )
    expect(page.locator(".player")).to_have_attribute("data-state", "playing")
