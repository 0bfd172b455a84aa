"""The outbox is written in the same transaction as each dispatch and change; CAP 1.2 messages are valid against
the OASIS schema, Private, addressed to the agency, in the city's +08:00 offset."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import func, select

from portal.dispatch import sealing, signing
from portal.dispatch.outbox import on_dispatch_changed, on_incident_changed
from portal.dispatch.service import dispatch_incident
from portal.models import Dispatch, OutboxMessage, db
from tests.dispatch.conftest import SECRET, add_agency, add_incident
from tests.support.receiver import cap_schema

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}


def rows(kind: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


def valid_cap(xml: str | bytes) -> etree._Element:
    document = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    schema = cap_schema()
    assert schema.validate(document), schema.error_log
    return document


def test_dispatch_writes_webhook_cap_and_email_in_its_transaction(app: Flask) -> None:
    agency = add_agency(app, "http://127.0.0.1:9")
    incident = add_incident()
    made = dispatch_incident(incident)
    assert len(made) == 1 and len(rows()) == 3  # in the session, with the dispatch
    db.session.rollback()  # the caller's transaction fails: neither dispatch nor messages remain
    assert db.session.scalar(select(func.count()).select_from(Dispatch)) == 0 and rows() == []

    made = dispatch_incident(incident)
    db.session.commit()
    kinds = {row.kind: row for row in rows()}
    assert set(kinds) == {"webhook", "cap", "email"}
    assert all(row.dispatch_id == made[0].id and row.agency_id == agency.id and row.status == "pending"
               for row in kinds.values())
    assert len({row.delivery_id for row in kinds.values()}) == 3
    body = json.loads(kinds["webhook"].payload)
    assert body["event"] == "dispatch.created" and body["delivery_id"] == kinds["webhook"].delivery_id
    assert body["incident"]["tracking_code"] == incident.tracking_code and body["agency"] == "damkar"
    assert body["dispatch"]["sla_due_at"].endswith("+08:00")
    assert kinds["webhook"].destination == "http://127.0.0.1:9/hook"


def test_cap_alert_update_cancel_are_valid_private_and_in_city_offset(app: Flask) -> None:
    add_agency(app, "http://127.0.0.1:9")
    incident = add_incident(description="Asap tebal & api <script>alert(1)</script>\x07")
    dispatch = dispatch_incident(incident)[0]
    db.session.commit()
    alert = valid_cap(rows("cap")[0].payload)
    assert alert.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert alert.findtext("cap:scope", namespaces=NS) == "Private"
    assert alert.findtext("cap:addresses", namespaces=NS) == "damkar@kendarikota.go.id"
    identifier = alert.findtext("cap:identifier", namespaces=NS)
    assert identifier == f"pantau-kota-kendari-dispatch-{dispatch.id}"
    for path in ("cap:sent", "cap:info/cap:effective", "cap:info/cap:expires"):
        value = alert.findtext(path, namespaces=NS)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", value), (path, value)
    assert alert.findtext("cap:info/cap:category", namespaces=NS) == "Fire"
    assert "<script>" in alert.findtext("cap:info/cap:description", namespaces=NS)  # text, escaped in XML
    assert "\x07" not in rows("cap")[0].payload

    dispatch.status, dispatch.note = "acknowledged", ""
    on_dispatch_changed(dispatch)
    db.session.commit()
    update = valid_cap(rows("cap")[-1].payload)
    assert update.findtext("cap:msgType", namespaces=NS) == "Update"
    sent = alert.findtext("cap:sent", namespaces=NS)
    assert update.findtext("cap:references", namespaces=NS) == f"pantau@kendarikota.go.id,{identifier},{sent}"
    assert json.loads(rows("webhook")[-1].payload)["dispatch"]["status"] == "acknowledged"
    assert len(rows("email")) == 1  # status changes go by webhook and CAP only

    incident.status = "rejected"  # as portal.incidents.lifecycle.reject does: notify, then cancel
    on_incident_changed(incident, "rejected")
    dispatch.status = "cancelled"
    db.session.commit()
    cancel = valid_cap(rows("cap")[-1].payload)
    assert cancel.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert cancel.findtext("cap:identifier", namespaces=NS) == f"{identifier}-cancel"
    assert cancel.findtext("cap:info/cap:urgency", namespaces=NS) == "Past"
    body = json.loads(rows("webhook")[-1].payload)
    assert body["event"] == "dispatch.cancelled" and body["dispatch"]["status"] == "cancelled"
    assert len(rows("email")) == 2
    # a dispatch is cancelled once: again, or through its own status change, nothing more is written
    assert on_incident_changed(incident, "rejected") == []
    assert on_dispatch_changed(dispatch) == []


def test_a_dispatch_cancelled_by_its_own_change_gets_cap_cancel(app: Flask) -> None:
    add_agency(app, "http://127.0.0.1:9")
    dispatch = dispatch_incident(add_incident())[0]
    db.session.commit()
    dispatch.status, dispatch.note = "cancelled", "salah kirim"
    messages = on_dispatch_changed(dispatch)
    db.session.commit()
    cap_row = next(m for m in messages if m.kind == "cap")
    assert valid_cap(cap_row.payload).findtext("cap:note", namespaces=NS) == "salah kirim"
    assert {m.kind for m in messages} == {"webhook", "cap", "email"}


def test_merge_cancels_and_unknown_change_does_nothing(app: Flask) -> None:
    add_agency(app, "http://127.0.0.1:9")
    into = add_incident()
    duplicate = add_incident()
    dispatch_incident(duplicate)
    db.session.commit()
    assert on_incident_changed(duplicate, "verified") == []
    duplicate.merged_into_id = into.id
    messages = on_incident_changed(duplicate, "merged")
    db.session.commit()
    assert {m.kind for m in messages} == {"webhook", "cap", "email"}
    body = json.loads(next(m for m in messages if m.kind == "webhook").payload)
    assert body["incident"]["merged_into"] == into.tracking_code


def test_secret_is_sealed_and_signature_checks(app: Flask) -> None:
    agency = add_agency(app, "http://127.0.0.1:9")
    assert SECRET not in agency.webhook_secret
    key = app.config["PANTAU"].secret_key
    assert sealing.unseal(agency.webhook_secret, key) == SECRET
    with pytest.raises(sealing.SecretUnreadable):
        sealing.unseal(agency.webhook_secret, "another-key")
    body = b'{"event":"x"}'
    headers = signing.headers(SECRET, "d-1", body, now=1_000_000)
    assert signing.verify(SECRET, headers, body, now=1_000_010)
    assert not signing.verify(SECRET, headers, body + b" ", now=1_000_010)  # body changed
    assert not signing.verify("other", headers, body, now=1_000_010)  # wrong secret
    assert not signing.verify(SECRET, {**headers, signing.DELIVERY_HEADER: "d-2"}, body, now=1_000_010)
    assert not signing.verify(SECRET, headers, body, now=1_000_000 + 301)  # a replay, too late
