"""/lapor in real Chromium on a phone-sized screen: a report sent with the phone's position and a photo, its
tracking page following it live; the web app's offline queue (no signal, then signal; a POST that fails on the
way, then succeeds), and the form opening from the service worker's cache without signal."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from portal.incidents import events as ev
from portal.models import Incident, db
from portal.models.report import ReportPhoto
from portal.reports import photos as photo_store
from tests.browser.conftest import PHONE, LiveServer, watch_csp

pytestmark = pytest.mark.browser
NO_SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"
KENDARI = {"latitude": -3.9852, "longitude": 122.5147}


@pytest.fixture()
def handset(browser: Any) -> Iterator[Any]:
    """A phone that lets the page know where it is."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  geolocation=KENDARI, permissions=["geolocation"], locale="id-ID")
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused = watch_csp(page)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused something: {refused[:3]}"


def _photo(tmp_path: Path) -> Path:
    image = Image.new("RGB", (800, 600), (20, 120, 200))
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (3.0, 59.0, 6.0), 3: "E", 4: (122.0, 30.0, 54.0)}
    path = tmp_path / "kebakaran.jpg"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    path.write_bytes(out.getvalue())
    return path


def _incidents(live: LiveServer) -> list[tuple[str, str, str]]:
    with live.app.app_context():
        rows = db.session.scalars(select(Incident).order_by(Incident.id)).all()
        result = [(i.tracking_code, i.source, i.category) for i in rows]
        db.session.remove()
        return result


def _fill(page: Any, description: str) -> None:
    page.get_by_label("Apa yang terjadi?").select_option("fire")
    page.get_by_label("Ceritakan apa yang Anda lihat").fill(description)
    page.get_by_role("button", name="Pakai posisi saya").tap()
    expect(page.locator("#report-coords")).to_contain_text("-3.985")


def test_a_report_posted_on_a_phone_is_followed_live(live_server: LiveServer, handset: Any, tmp_path: Path) -> None:
    page = handset
    page.goto(live_server.url + "/lapor")
    expect(page.get_by_role("heading", name="Lapor ke 112")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS), "the form scrolls sideways on a phone"
    _fill(page, "Asap hitam dari gudang di belakang pasar")
    # a tap on the map moves the pin (the tiles are not reachable here; the map still takes taps)
    box = page.locator("#report-map").bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2 + 20, box["y"] + box["height"] / 2)
    expect(page.locator("#report-coords")).not_to_contain_text("-3.985200")
    page.get_by_role("button", name="Pakai posisi saya").tap()
    expect(page.locator("#report-coords")).to_contain_text("-3.985200, 122.514700")
    page.set_input_files("#photos", str(_photo(tmp_path)))
    page.get_by_label("Nomor telepon Anda").fill("0812 3456 7890")
    page.get_by_role("button", name="Kirim laporan").tap()
    page.wait_for_url("**/lacak/LP-*")
    code = page.locator("#fresh-code").inner_text().strip()
    assert code.startswith("LP-") and len(code) == 12
    expect(page.locator(".stage-current")).to_have_attribute("data-stage", "received")
    assert page.evaluate(NO_SIDEWAYS), "the tracking page scrolls sideways on a phone"
    assert "3456" not in page.content() and "gudang" not in page.content()
    with live_server.app.app_context():
        incident = db.session.scalar(select(Incident).where(Incident.tracking_code == code))
        assert incident.latitude == pytest.approx(-3.9852) and incident.reporter_phone == "+6281234567890"
        photo = db.session.scalar(select(ReportPhoto).where(ReportPhoto.incident_id == incident.id))
        stored = Image.open(photo_store.path_of(photo))
        assert stored.format == "JPEG" and not stored.getexif()
        # the command centre verifies it: the open tracking page shows it without a reload
        incident.status = "verified"
        ev.record_event(incident, ev.VERIFIED)
        db.session.commit()
        db.session.remove()
    expect(page.locator(".stage-current")).to_have_attribute("data-stage", "verified", timeout=15_000)
    # the code is remembered on this phone: /lacak lists it
    page.goto(live_server.url + "/lacak")
    expect(page.locator("#my-reports")).to_contain_text(code)


def _service_worker_in_control(page: Any) -> None:
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null",
                           timeout=15_000)


def test_a_report_written_without_signal_is_sent_when_signal_returns(live_server: LiveServer, handset: Any) -> None:
    page = handset
    page.goto(live_server.url + "/lapor")
    _service_worker_in_control(page)
    # without signal, the form still opens (from the service worker's cache)
    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Lapor ke 112")).to_be_visible()
    _fill(page, "Pohon tumbang menutup jalan, tidak ada sinyal")
    page.get_by_role("button", name="Kirim laporan").tap()
    expect(page.locator("#report-queue-waiting")).to_be_visible()
    expect(page.locator("#report-queue")).to_have_attribute("data-waiting", "1")
    assert _incidents(live_server) == []
    # the report survives closing the page: it is on the phone, not in the page
    page.reload()
    expect(page.locator("#report-queue")).to_have_attribute("data-waiting", "1")
    page.context.set_offline(False)
    expect(page.locator("#report-queue-sent li")).to_have_count(1, timeout=30_000)
    code = page.locator("#report-queue-sent li").get_attribute("data-code")
    stored = _incidents(live_server)
    assert stored == [(code, "offline", "fire")]  # sent once, even with the page and the worker both trying
    expect(page.locator("#report-queue")).to_have_attribute("data-waiting", "0")


def test_a_post_that_fails_on_the_way_is_retried_until_it_succeeds(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, service_workers="block",
                                  geolocation=KENDARI, permissions=["geolocation"])
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused = watch_csp(page)
    failures = {"left": 2, "seen": 0}

    def flaky(route: Any) -> None:
        if route.request.method == "POST":
            failures["seen"] += 1
            if failures["left"] > 0:
                failures["left"] -= 1
                route.abort("internetdisconnected")
                return
        route.continue_()

    page.route("**/lapor", flaky)
    try:
        page.goto(live_server.url + "/lapor")
        _fill(page, "Kecelakaan motor di simpang empat")
        page.get_by_label("Apa yang terjadi?").select_option("accident")
        started = time.monotonic()
        page.get_by_role("button", name="Kirim laporan").tap()
        expect(page.locator("#report-queue")).to_have_attribute("data-waiting", "1")
        assert _incidents(live_server) == []
        # the page tries again by itself (every 10 s) while the network is "up" but the POST fails
        expect(page.locator("#report-queue-sent li")).to_have_count(1, timeout=40_000)
        assert failures["seen"] >= 3 and time.monotonic() - started < 40
        code = page.locator("#report-queue-sent li").get_attribute("data-code")
        assert _incidents(live_server) == [(code, "offline", "accident")]
    finally:
        context.close()
    assert not refused, refused[:3]


def test_a_refused_queued_report_is_shown_with_its_reason(live_server: LiveServer, handset: Any) -> None:
    """Written offline at a place outside the city: when it is sent, the refusal is shown, not lost."""
    page = handset
    page.context.set_geolocation({"latitude": -6.2, "longitude": 106.8})  # Jakarta
    page.goto(live_server.url + "/lapor")
    _service_worker_in_control(page)
    page.context.set_offline(True)
    page.get_by_label("Apa yang terjadi?").select_option("crime")
    page.get_by_label("Ceritakan apa yang Anda lihat").fill("Copet di terminal")
    page.get_by_role("button", name="Pakai posisi saya").tap()
    expect(page.locator("#report-coords")).to_contain_text("-6.2")
    expect(page.locator("#error-location")).to_contain_text("di luar Kota Kendari")  # said at once, on the page
    page.get_by_role("button", name="Kirim laporan").tap()
    expect(page.locator("#report-queue")).to_have_attribute("data-waiting", "1")
    page.context.set_offline(False)
    expect(page.locator("#report-queue-refused li")).to_contain_text("di luar Kota Kendari", timeout=30_000)
    assert _incidents(live_server) == []
