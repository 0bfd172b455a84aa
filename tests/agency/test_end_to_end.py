"""Issue 10, item 7, the whole way in real parts: a resident posts a report on /lapor in Chromium (a phone with
its position); an operator verifies and dispatches it in the console; ``pantau jobs`` (its own process) delivers
it to the agency's real HTTP receiver (HMAC-signed webhook, CAP 1.2 valid against the OASIS schema); the
agency's staff acknowledge it on /instansi; the resident's open tracking page shows the acknowledgement without
a reload, and the report's page in the console shows the agency's step. Every page under the app's CSP; on
SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.models import Dispatch, Incident, IncidentEvent, db
from tests.browser.conftest import PHONE, LiveServer, watch_csp
from tests.conftest import STAFF_PASSWORD, make_user
from tests.support.tools import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
KENDARI = {"latitude": -3.9852, "longitude": 122.5147}
SECRET = "whsec_e2e-shared-secret"


def jobs_process(live: LiveServer, log: Path) -> subprocess.Popen[bytes]:
    """``pantau jobs`` as the deployment runs it: its own process on the same database."""
    settings = live.app.config["PANTAU"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    env.update({
        "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": settings.secret_key, "PANTAU_DATABASE_URL": settings.database_url,
        "PANTAU_INSTANCE_PATH": settings.instance_path, "PANTAU_MEDIA_ROOT": settings.media_root,
        "PANTAU_JOBS_INTERVAL_S": "0.1", "PANTAU_SMTP_PORT": "9", "PANTAU_OUTBOX_BACKOFF_BASE_S": "0.2",
        "PANTAU_OUTBOX_BACKOFF_MAX_S": "1",
    })
    return subprocess.Popen([sys.executable, "-c", "from portal.cli import main; main()", "jobs"], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scene(request: pytest.FixtureRequest, serve: Callable[..., LiveServer], tmp_path: Path) -> Iterator[dict[str, Any]]:
    from portal.dispatch import sealing
    from portal.models import Agency, RoutingRule
    from tests.support.receiver import Receiver

    live = serve(**({"database_url": request.getfixturevalue("pg_url")} if request.param == "postgres" else {}))
    receiver = Receiver(secret=SECRET).start()
    with live.app.app_context():
        agency = Agency(code="damkar", name="Damkar Kendari", kind="fire", email="",
                        webhook_url=f"{receiver.url}/hook", cap_url=f"{receiver.url}/cap",
                        cap_address="damkar@kendarikota.go.id",
                        webhook_secret=sealing.seal(SECRET, live.app.config["PANTAU"].secret_key))
        db.session.add(agency)
        db.session.flush()
        db.session.add(RoutingRule(category="fire", agency_id=agency.id, sla_minutes=10))
        db.session.commit()
        make_user("operator", username="wati")
        make_user("agency", username="damkar.rudi", agency="damkar")
        agency_id = agency.id
        db.session.remove()
    jobs = jobs_process(live, tmp_path / "jobs.log")
    try:
        yield {"live": live, "receiver": receiver, "agency_id": agency_id, "jobs": jobs}
    finally:
        jobs.terminate()
        try:
            jobs.wait(15)
        except subprocess.TimeoutExpired:
            jobs.kill()
            jobs.wait()
        receiver.stop()


def person(browser: Any, url: str, username: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused = watch_csp(page)
    page.goto(f"{url}/masuk")
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/masuk" not in page.url, page.url
    return context, page, refused


def test_report_verified_dispatched_delivered_acknowledged_and_seen_by_the_reporter(
        browser: Any, scene: dict[str, Any]) -> None:
    live, receiver = scene["live"], scene["receiver"]
    url = live.url
    contexts = []
    try:
        # 1. a resident reports a fire from a phone
        phone_ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                        geolocation=KENDARI, permissions=["geolocation"], locale="id-ID")
        contexts.append(phone_ctx)
        phone_ctx.set_default_timeout(15_000)
        phone = phone_ctx.new_page()
        phone_refused = watch_csp(phone)
        phone.goto(f"{url}/lapor")
        phone.get_by_label("Apa yang terjadi?").select_option("fire")
        phone.get_by_label("Ceritakan apa yang Anda lihat").fill("Asap hitam dari ruko di depan Pasar Sentral")
        phone.get_by_role("button", name="Pakai posisi saya").tap()
        expect(phone.locator("#report-coords")).to_contain_text("-3.985")
        phone.get_by_role("button", name="Kirim laporan").tap()
        phone.wait_for_url("**/lacak/LP-*")
        code = phone.locator("#fresh-code").inner_text().strip()
        expect(phone.locator(".stage-current")).to_have_attribute("data-stage", "received")
        with live.app.app_context():
            incident_id = db.session.scalar(select(Incident.id).where(Incident.tracking_code == code))
            db.session.remove()
        assert incident_id is not None

        # 2. the operator verifies it and dispatches it with one click (the routing rule chose Damkar)
        op_ctx, operator, op_refused = person(browser, url, "wati")
        contexts.append(op_ctx)
        operator.goto(f"{url}/konsol/")
        operator.locator(f"#incident-{incident_id} a").first.click()
        operator.locator("#verify-button").click()
        expect(operator.locator("#report-status")).to_have_text("Terverifikasi")
        expect(operator.locator(f"input[name=agency][value='{scene['agency_id']}']")).to_be_checked()
        operator.locator("#dispatch-button").click()
        dispatched_at = time.monotonic()
        expect(operator.locator("#report-status")).to_have_text("Diteruskan")

        # 3. pantau jobs delivers it to the agency's own system: signed webhook and a valid CAP Alert
        with live.app.app_context():
            dispatch_id = db.session.scalars(select(Dispatch.id).where(Dispatch.incident_id == incident_id)).one()
            db.session.remove()
        wait_for(lambda: any(r.path.startswith("/hook") for r in receiver.applied.values())
                 and any(r.path.startswith("/cap") for r in receiver.applied.values()), timeout=20,
                 message="the agency's receiver got nothing from pantau jobs")
        delivered_s = time.monotonic() - dispatched_at
        assert receiver.refused == [], receiver.refused
        cap = next(r for r in receiver.applied.values() if r.path.startswith("/cap"))
        assert f"-dispatch-{dispatch_id}</identifier>".encode() in cap.body
        print(f"dispatch click -> webhook and CAP received: {delivered_s:.2f} s")

        # 4. the agency acknowledges on /instansi (the dispatch is there without a reload)
        ag_ctx, agency, ag_refused = person(browser, url, "damkar.rudi")
        contexts.append(ag_ctx)
        agency.goto(f"{url}/instansi/")
        agency.locator(f'tr[data-dispatch-id="{dispatch_id}"] a').click()
        expect(agency.locator("#report-description")).to_contain_text("Asap hitam dari ruko")
        expect(agency.locator("#dispatch-map")).to_have_attribute("data-loaded", "1")
        agency.click('button[data-action="acknowledged"]')
        expect(agency.locator("#dispatch-live")).to_have_attribute("data-status", "acknowledged")

        # 5. the resident's open tracking page shows it by itself, without anyone's personal data
        expect(phone.locator(".agencies li[data-status='acknowledged']")).to_contain_text("Damkar Kendari",
                                                                                          timeout=15_000)
        assert "Asap hitam" not in phone.content()
        # ... and the operator's report page follows the agency too
        expect(operator.locator(f"#dispatches tr[data-agency='{scene['agency_id']}']")).to_contain_text(
            "Diterima", timeout=10_000)

        # 6. the acknowledgement went out to the agency's system too (CAP Update through the outbox)
        wait_for(lambda: sum(r.path.startswith("/cap") for r in receiver.applied.values()) >= 2, timeout=20,
                 message="no CAP Update after the acknowledgement")
        assert receiver.refused == []
        for refused in (phone_refused, op_refused, ag_refused):
            assert not refused, refused[:3]
    finally:
        for context in contexts:
            context.close()
    with live.app.app_context():
        kinds = list(db.session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id)
                                        .order_by(IncidentEvent.id)))
        main = [k for k in kinds if k in ("received", "verified", "dispatched", "dispatch_status")]
        assert main == ["received", "verified", "dispatched", "dispatch_status"], kinds
        dispatch = db.session.get(Dispatch, dispatch_id)
        assert dispatch is not None and dispatch.status == "acknowledged" and dispatch.acknowledged_at is not None
