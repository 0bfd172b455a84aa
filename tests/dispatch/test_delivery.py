"""Delivery with real parts: a threaded HTTP receiver that checks the HMAC signature and validates CAP XML against
the OASIS schema, a real SMTP server (aiosmtpd), the receiver down and back, exclusive claims, SLA escalation."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import select

from portal.dispatch import delivery, escalation
from portal.dispatch.service import dispatch_incident
from portal.models import Dispatch, EscalationContact, IncidentEvent, OutboxMessage, db
from portal.models.base import utcnow
from tests.conftest import make_settings, migrated_app
from tests.dispatch.conftest import SECRET, Mailbox, add_agency, add_incident
from tests.support.receiver import Receiver, cap_schema
from tests.support.tools import free_port, wait_for


@pytest.fixture()
def fast_app(tmp_path: Path, mailbox: Mailbox) -> Iterator[Flask]:
    application = migrated_app(make_settings(tmp_path, smtp_port=mailbox.port, outbox_backoff_base_s=0.1,
                                             outbox_backoff_max_s=0.5, outbox_lease_s=5, delivery_timeout_s=3.0))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def deliver_until_done(timeout: float = 20) -> None:
    claimer = delivery.new_claimer()

    def done() -> bool:
        delivery.run_once(claimer)
        return all(row.status == "sent" for row in outbox())

    wait_for(done, timeout=timeout, interval=0.05,
             message=f"not all delivered: {[(r.kind, r.status, r.last_error) for r in outbox()]}")


def test_webhook_cap_and_email_arrive_signed_valid_and_once(fast_app: Flask, receiver: Receiver,
                                                            mailbox: Mailbox) -> None:
    add_agency(fast_app, receiver.url)
    incident = add_incident()
    dispatch = dispatch_incident(incident)[0]
    db.session.commit()
    deliver_until_done()
    assert receiver.refused == []  # the signature matched and the CAP was valid, or it would have refused
    hooks = receiver.json_bodies()
    assert [h["event"] for h in hooks] == ["dispatch.created"]
    assert hooks[0]["incident"]["tracking_code"] == incident.tracking_code
    [hook] = [r for r in receiver.received if r.path == "/hook"]
    assert hook.headers["X-Pantau-Event"] == "dispatch.created"
    assert hook.headers["X-Pantau-Signature"].startswith("v1=")
    assert len(receiver.caps()) == 1 and b"<msgType>Alert</msgType>" in receiver.caps()[0]
    wait_for(lambda: len(mailbox.messages) == 1, timeout=5, message="no e-mail")
    mail = mailbox.messages[0]
    assert incident.tracking_code in mail["Subject"]
    email_row = next(r for r in outbox() if r.kind == "email")
    assert mail["Message-ID"] == f"<{email_row.delivery_id}@pantau>"
    attachment = next(part for part in mail.iter_attachments() if part.get_filename() == "cap.xml")
    assert cap_schema().validate(etree.fromstring(attachment.get_content()))
    assert db.session.get(Dispatch, dispatch.id).status == "sent"  # the agency's system holds it
    delivery.run_once(delivery.new_claimer())  # nothing due: nothing sent again
    assert len(receiver.received) == 2


def test_wrong_secret_is_refused_and_tried_again_later(fast_app: Flask) -> None:
    strict = Receiver(secret="not-" + SECRET).start()
    try:
        add_agency(fast_app, strict.url, email="")
        dispatch_incident(add_incident())
        db.session.commit()
        result = delivery.run_once(delivery.new_claimer())
        assert result == {"sent": 0, "failed": 2}
        for row in outbox():
            assert row.status == "pending" and row.attempts == 1 and row.last_error.startswith("HTTP 401")
            assert row.next_attempt_at > utcnow() and row.claimed_by is None
        assert strict.applied == {} and len(strict.refused) == 2
    finally:
        strict.stop()


def test_receiver_down_for_a_while_then_back_gets_everything_once(fast_app: Flask) -> None:
    port = free_port()
    add_agency(fast_app, f"http://127.0.0.1:{port}", email="")
    for _ in range(5):
        dispatch_incident(add_incident())
    db.session.commit()
    stop = threading.Event()
    app_ctx_app = fast_app

    def loop() -> None:
        with app_ctx_app.app_context():
            claimer = delivery.new_claimer()
            while not stop.is_set():
                delivery.run_once(claimer)
                db.session.remove()
                stop.wait(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    receiver = Receiver(secret=SECRET)
    try:
        wait_for(lambda: all(r.attempts >= 3 for r in outbox()), timeout=15, message="no retries while down")
        assert all(r.status == "pending" and "Connection" in (r.last_error or "") for r in outbox())
        receiver.start(port)  # back
        wait_for(lambda: all(r.status == "sent" for r in outbox()), timeout=20, message="not delivered after return")
    finally:
        stop.set()
        thread.join(5)
        receiver.stop()
    ids = {r.delivery_id for r in outbox()}
    assert len(ids) == 10 and set(receiver.applied) == ids and receiver.refused == []


def test_a_claim_is_exclusive_until_its_lease_runs_out(fast_app: Flask) -> None:
    add_agency(fast_app, "http://127.0.0.1:9", email="")
    dispatch_incident(add_incident())
    db.session.commit()
    settings = fast_app.config["PANTAU"]
    now = utcnow()
    first = delivery.claim("a", now, settings)
    assert len(first) == 2
    assert delivery.claim("b", now, settings) == []  # held by a
    later = now + dt.timedelta(seconds=settings.outbox_lease_s + 1)  # a died (SIGKILL): its lease runs out
    assert {r.id for r in delivery.claim("b", later, settings)} == {r.id for r in first}


def test_backoff_grows_and_is_capped(fast_app: Flask) -> None:
    settings = make_settings(Path("/tmp"), outbox_backoff_base_s=2.0, outbox_backoff_max_s=300.0)
    import random

    fixed = random.Random(1)
    waits = [delivery.backoff_s(n, settings, rand=fixed) for n in range(1, 12)]
    assert 1.6 <= waits[0] <= 2.4 and 3.2 <= waits[1] <= 4.8 and 6.4 <= waits[2] <= 9.6
    assert max(waits) <= 360 and waits[-1] >= 240


def test_sla_escalates_to_supervisor_then_the_category_officials(fast_app: Flask) -> None:
    add_agency(fast_app, None, email="")
    db.session.add_all([
        EscalationContact(level=1, category="", name="Supervisor CC", email="spv@127.0.0.1"),
        EscalationContact(level=2, category="fire", name="Wali Kota Kendari", title="Wali Kota",
                          email="walikota@127.0.0.1"),
        EscalationContact(level=2, category="fire", name="Sekretaris Kota", title="Sekda", email="sekda@127.0.0.1"),
        EscalationContact(level=2, category="crime", name="Other", email="other@127.0.0.1"),
        EscalationContact(level=1, category="", name="Gone", email="gone@127.0.0.1", active=False),
    ])
    late = dispatch_incident(add_incident())[0]
    answered = dispatch_incident(add_incident())[0]
    db.session.commit()
    settings = fast_app.config["PANTAU"]
    now = utcnow()
    assert escalation.tick(now, settings) == {"escalated_supervisor": 0, "escalated_officials": 0}  # not due yet
    answered.status = "acknowledged"
    db.session.commit()
    due = late.sla_due_at + dt.timedelta(seconds=1)
    assert escalation.tick(due, settings)["escalated_supervisor"] == 1
    db.session.commit()
    assert escalation.tick(due, settings)["escalated_supervisor"] == 0  # once
    assert [r.destination for r in outbox() if r.kind == "email"] == ["spv@127.0.0.1"]
    step = due + dt.timedelta(minutes=settings.escalation_step_minutes, seconds=1)
    assert escalation.tick(step, settings) == {"escalated_supervisor": 0, "escalated_officials": 1}
    db.session.commit()
    assert sorted(r.destination for r in outbox() if r.kind == "email") == [
        "sekda@127.0.0.1", "spv@127.0.0.1", "walikota@127.0.0.1"]
    assert len([r for r in outbox() if r.kind == "email"]) == 3
    events = db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == late.incident_id,
                                                            IncidentEvent.kind == "escalated")).all()
    assert [(e.data["level"], e.data["to"]) for e in events] == [(1, "supervisor"), (2, "officials")]
    assert db.session.get(Dispatch, answered.id).escalation_level == 0


def test_auto_dispatch_on_receipt_skips_flagged_and_other_categories(tmp_path: Path) -> None:
    from portal.dispatch import auto
    from portal.incidents.events import FLAGGED, record_event
    from portal.models import Incident

    app = migrated_app(make_settings(tmp_path, auto_dispatch_categories="fire, medical,bogus"))
    with app.app_context():
        settings = app.config["PANTAU"]
        assert auto.categories(settings) == ("fire", "medical")
        add_agency(app, "http://127.0.0.1:9", email="")
        fire = add_incident(status="new")
        crime = add_incident(status="new", category="crime")
        suspicious = add_incident(status="new")
        record_event(suspicious, FLAGGED, reasons=["repeat"])
        medical = add_incident(status="new", category="medical")  # no routing rule for it
        db.session.commit()
        assert auto.tick(utcnow(), settings) == {"auto_dispatched": 1}
        db.session.commit()
        assert auto.tick(utcnow(), settings) == {"auto_dispatched": 0}  # once
        statuses = {i.id: i.status for i in db.session.scalars(select(Incident))}
        assert statuses == {fire.id: "dispatched", crime.id: "new", suspicious.id: "new", medical.id: "new"}
        assert {r.kind for r in outbox()} == {"webhook", "cap"}
        db.session.remove()
        db.engine.dispose()
