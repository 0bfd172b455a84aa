"""The statistics page in Debian's Chromium: the folium heat map draws from vendored scripts only (no CDN, no
inline script for the CSP to refuse), the figures are the city's, and the CSV downloads."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from portal.models import Incident, db
from tests.browser.conftest import LiveServer
from tests.browser.test_console import add_user, sign_in

pytestmark = pytest.mark.browser


def test_heat_map_draws_from_local_scripts(serve: Any, page: Any) -> None:
    server: LiveServer = serve()
    add_user(server, "leadership", "walikota")
    today = dt.datetime.now(dt.UTC)
    with server.app.app_context():
        for i in range(12):
            db.session.add(Incident(tracking_code=f"LP-B{i:07d}", category="fire" if i % 3 else "accident",
                                    district="Kadia", latitude=-3.98 + i / 2000, longitude=122.51 + i / 2000,
                                    created_at=today - dt.timedelta(minutes=i)))
        db.session.commit()
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or ""))
    failed: list[str] = []
    page.on("pageerror", lambda e: failed.append(str(e)))
    sign_in(page, server, "walikota")
    page.goto(f"{server.url}/statistik")
    expect(page.locator("#stats-total strong")).to_have_text("12")
    expect(page.locator("#map_heat.leaflet-container")).to_be_visible()
    expect(page.locator("#map_heat canvas.leaflet-heatmap-layer")).to_have_count(1)
    # the heat layer painted something: some canvas pixel is not transparent
    painted = page.wait_for_function("""() => {
        const c = document.querySelector('#map_heat canvas.leaflet-heatmap-layer');
        if (!c || !c.width) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
        return false;
    }""", timeout=10_000)
    assert painted
    assert not failed, failed
    assert hosts <= {"127.0.0.1"}, hosts  # scripts, styles and tiles: nothing leaves loopback
    with page.expect_download() as download:
        page.locator("#stats-csv").click()
    assert download.value.suggested_filename.startswith("laporan-112-")
