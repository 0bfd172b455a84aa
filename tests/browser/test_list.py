"""The camera list in a real browser: search, filters (swapped in by htmx, kept in the URL) and the multi-view."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser


def seed(live_server: LiveServer) -> dict[str, Any]:
    cams = {
        "beach": live_server.camera(name="Kendari Beach", district="Kendari", category="beach"),
        "nambo": live_server.camera(name="Pantai Nambo", district="Nambo", category="beach", status="error"),
        "tugu": live_server.camera(name="Tugu MTQ", district="Mandonga", category="public_space"),
        "kadia": live_server.camera(name="Kali Kadia", district="Kadia", category="river", seen_ago_s=7200),
        "pasar": live_server.camera(name="Pasar Sentral", district="Kadia", category="market"),
    }
    live_server.camera(name="Rahasia Kadia", district="Kadia", public=False)
    return cams


def names(page: Any) -> list[str]:
    return sorted(page.locator(".card-name").all_inner_texts())


def test_search_and_filters(live_server: LiveServer, page: Any) -> None:
    seed(live_server)
    page.goto(live_server.url + "/kamera")
    cards = page.locator(".card")
    expect(cards).to_have_count(5)
    assert "Rahasia Kadia" not in names(page)

    page.get_by_label("Cari berdasarkan nama").fill("pantai")
    expect(cards).to_have_count(1)
    assert names(page) == ["Pantai Nambo"]
    expect(page).to_have_url(f"{live_server.url}/kamera?q=pantai")
    expect(page.locator("#result-count")).to_contain_text("1 kamera ditemukan")

    page.get_by_label("Cari berdasarkan nama").fill("")
    page.get_by_label("Kecamatan").select_option("Kadia")
    expect(cards).to_have_count(2)
    assert names(page) == ["Kali Kadia", "Pasar Sentral"]

    page.get_by_label("Status").select_option("offline")
    expect(cards).to_have_count(1)
    assert names(page) == ["Kali Kadia"]

    page.get_by_label("Kecamatan").select_option("")
    page.get_by_label("Status").select_option("")
    page.get_by_label("Kategori").select_option("beach")
    expect(cards).to_have_count(2)
    assert names(page) == ["Kendari Beach", "Pantai Nambo"]

    # The URL holds the search: reloading it shows the same cameras, as a full page.
    page.reload()
    expect(cards).to_have_count(2)
    expect(page.get_by_label("Kategori")).to_have_value("beach")


def test_snapshots_of_live_cameras_refresh_every_few_seconds(live_server: LiveServer, page: Any) -> None:
    cams = seed(live_server)
    page.goto(live_server.url + "/kamera")
    live_key = cams["beach"].media_key
    with page.expect_request(re.compile(rf"/media/snapshots/{live_key}\.jpg\?t=\d+$"), timeout=8_000):
        pass
    # An offline camera's picture does not change: it is not asked again.
    assert page.locator(f'.card[data-camera-id="{cams["kadia"].id}"] img[data-snapshot]').count() == 0


def test_cards_lead_to_the_camera_page(live_server: LiveServer, page: Any) -> None:
    cams = seed(live_server)
    page.goto(live_server.url + "/kamera")
    page.get_by_role("link", name="Tugu MTQ").click()
    page.wait_for_url(f"**/kamera/{cams['tugu'].id}")
    expect(page.locator("#live-video")).to_be_attached()


def test_choose_cameras_for_the_multi_view(live_server: LiveServer, page: Any) -> None:
    cams = seed(live_server)
    page.goto(live_server.url + "/kamera")
    for key in ("beach", "tugu", "kadia", "pasar"):
        page.get_by_label(f"Tampilan ganda: {cams[key].name}").check()
    expect(page.locator("[data-pick-count]")).to_have_text("4")
    # The choice survives a new search.
    page.get_by_label("Cari berdasarkan nama").fill("kendari")
    expect(page.locator(".card")).to_have_count(1)
    expect(page.get_by_label("Tampilan ganda: Kendari Beach")).to_be_checked()
    page.get_by_role("button", name="Buka tampilan ganda").click()
    page.wait_for_url("**/multiview?ids=*")
    expect(page.locator(".tile")).to_have_count(4)
    expect(page.locator(".multiview")).to_have_class("multiview multiview-4")
    assert sorted(page.locator(".tile-name a").all_inner_texts()) == sorted(
        cams[k].name for k in ("beach", "tugu", "kadia", "pasar"))
    expect(page.locator("video")).to_have_count(4)


def test_a_card_follows_a_camera_that_moved_to_another_media_node(serve: Any, page: Any) -> None:
    """The card's snapshot was on node A (now gone: a closed port); it asks the camera's status and takes the new
    address at the next refresh, without a reload."""
    import datetime as dt

    from portal.models import CameraLease, Worker, db

    gone = "http://127.0.0.1:9"
    live_server = serve(media_origins=gone)
    cam = live_server.camera(name="Pindah Node")
    with live_server.app.app_context():
        node = Worker(name="node-a", media_url=gone)
        db.session.add(node)
        db.session.flush()
        db.session.add(CameraLease(camera_id=cam.id, worker_id=node.id,
                                   expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
        db.session.commit()
    page.goto(live_server.url + "/kamera")
    img = page.locator(f'.card[data-camera-id="{cam.id}"] img[data-snapshot]')
    expect(img).to_have_attribute("data-snapshot", f"{gone}/media/snapshots/{cam.media_key}.jpg")
    with live_server.app.app_context():  # the camera moved: here, to the portal's own media (one machine)
        db.session.query(CameraLease).delete()
        db.session.commit()
    expect(img).to_have_attribute("data-snapshot", f"/media/snapshots/{cam.media_key}.jpg", timeout=15_000)
    with page.expect_request(re.compile(rf"{re.escape(live_server.url)}/media/snapshots/{cam.media_key}\.jpg\?t=\d+$"),
                             timeout=10_000):
        pass
