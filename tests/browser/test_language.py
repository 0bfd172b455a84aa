"""Bahasa Indonesia by default, English on request, remembered across pages."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_language_switch(live_server: LiveServer, page: Any) -> None:
    camera = live_server.camera(name="Kendari Beach")
    page.goto(live_server.url + "/kamera?q=kendari")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.locator("h1")).to_have_text("Kamera publik")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Public cameras")
    expect(page.get_by_label("Search by name")).to_have_value("kendari")  # the search is kept
    page.get_by_role("link", name="Kendari Beach").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")  # remembered
    expect(page.get_by_role("button", name="Watch live")).to_be_visible()
    page.get_by_role("link", name="Bahasa Indonesia").click()
    expect(page.get_by_role("button", name="Tonton langsung")).to_be_visible()
    page.goto(live_server.url + "/")
    expect(page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Peta")).to_be_visible()
    assert camera.id
