"""The agency page in Chromium: an agency user signs in, sees a new dispatch appear without reloading, opens it
(the report's place on a map, its description, its timeline), acknowledges, goes en route, hands another back
with a reason; everything under the app's Content-Security-Policy."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.agency import service
from portal.models import Dispatch, IncidentEvent, db
from tests.agency.conftest import dispatched
from tests.browser.conftest import LiveServer, watch_csp
from tests.conftest import STAFF_PASSWORD, make_user

pytestmark = [pytest.mark.browser]


def sign_in(browser: Any, url: str, username: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    refused = watch_csp(page)
    page.goto(f"{url}/masuk")
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/masuk" not in page.url, page.url
    return context, page, refused


def test_an_agency_user_follows_and_works_its_dispatches(browser: Any, live_server: LiveServer) -> None:
    app, url = live_server.app, live_server.url
    with app.app_context():
        user = make_user("agency", username="damkar.rudi", agency="damkar")
        _incident, [first] = dispatched("damkar", description="Asap tebal dari ruko di Jl. Ahmad Yani")
        _other, [foreign] = dispatched("dinkes", category="medical", description="Pingsan di Pasar Sentral")
        first_id, foreign_id, user_id = first.id, foreign.id, user.id
    context, page, refused = sign_in(browser, url, "damkar.rudi")
    try:
        page.goto(f"{url}/instansi/")
        page.wait_for_selector(f'tr[data-dispatch-id="{first_id}"]')
        assert page.locator(f'tr[data-dispatch-id="{foreign_id}"]').count() == 0
        with app.app_context():  # a new dispatch while the page is open: it appears by itself
            _fresh, [fresh] = dispatched("damkar", category="accident", description="Tabrakan di Jl. Sao-Sao")
            fresh_id = fresh.id
        page.wait_for_selector(f'tr[data-dispatch-id="{fresh_id}"]', timeout=6_000)
        assert page.get_attribute("#dispatches", "data-waiting") == "2"

        page.click(f'tr[data-dispatch-id="{first_id}"] a')
        page.wait_for_selector('#dispatch-map[data-loaded="1"]')
        assert page.locator("#dispatch-map .leaflet-interactive").count() == 1  # the report's place
        assert "Asap tebal dari ruko" in page.inner_text("#report-description")
        assert "Laporan diterima" in page.inner_text("#timeline")  # Bahasa Indonesia by default
        page.click('button[data-action="acknowledged"]')
        page.wait_for_selector('#dispatch-live[data-status="acknowledged"]')
        assert "Disimpan" in page.inner_text(".flashes")
        assert "DAMKAR: diterima" in page.inner_text("#timeline")
        page.click('button[data-action="en_route"]')
        page.wait_for_selector('#dispatch-live[data-status="en_route"]')
        assert page.locator('button[data-action="acknowledged"]').count() == 0  # no going back
        with app.app_context():  # a colleague (or the agency's own system) moves it on: the open page follows
            service.advance(db.session.get(Dispatch, first_id), "on_scene", via="api")
            db.session.commit()
        page.wait_for_selector('#dispatch-live[data-status="on_scene"]', timeout=6_000)
        page.click('button[data-action="on_scene"]')  # this page's button is stale now: told why, nothing changes
        expect(page.locator(".flashes")).to_contain_text("sudah")

        page.goto(f"{url}/instansi/{fresh_id}")
        page.click(".hand-back summary")
        page.click('button[data-action="rejected"]')  # no reason: the browser itself refuses (required)
        assert page.get_attribute("#dispatch-live", "data-status") == "pending"
        page.fill("#reason", "Bukan kebakaran, arahkan ke Satlantas")
        page.click('button[data-action="rejected"]')
        page.wait_for_selector('#dispatch-live[data-status="rejected"]')
        assert "Bukan kebakaran" in page.inner_text("#dispatch-live")

        page.set_viewport_size({"width": 390, "height": 844})  # on a phone nothing scrolls sideways
        for path in ("/instansi/", f"/instansi/{first_id}"):
            page.goto(f"{url}{path}")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        page.goto(f"{url}/instansi/{foreign_id}")
        assert "404" in page.title() or page.locator("h1").inner_text() != ""
        assert "Pingsan" not in page.content()
        assert not refused, refused[:3]
    finally:
        context.close()
    with app.app_context():
        assert db.session.get(Dispatch, first_id).status == "on_scene"
        assert db.session.get(Dispatch, foreign_id).status == "pending"
        actors = set(db.session.scalars(select(IncidentEvent.actor_user_id)
                                        .where(IncidentEvent.kind == "dispatch_status")))
        assert actors == {user_id, None}  # the page's steps are the user's; the API's step has no person
