"""The callback API of agencies' own systems and the CAP 1.2 Ack: bearer tokens, own dispatches only, idempotent
by request id, hostile input refused with a clear 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.agency import tokens
from portal.models import AgencyCallback, AuditEntry, Dispatch, IncidentEvent, db
from tests.agency.conftest import agency, api_token, dispatched

API = "/api/agency/v1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_status(client: FlaskClient, token: str, dispatch_id: int, **body: Any) -> Any:
    return client.post(f"{API}/dispatches/{dispatch_id}/status", json=body, headers=auth(token))


def status_events() -> int:
    return db.session.scalar(select(func.count()).select_from(IncidentEvent)
                             .where(IncidentEvent.kind == "dispatch_status")) or 0


def test_a_system_changes_its_own_dispatch_idempotently(any_db_app: Flask) -> None:
    client = any_db_app.test_client()
    token = api_token("damkar", "Server Damkar")
    _incident, [d] = dispatched("damkar")
    listed = client.get(f"{API}/dispatches", headers=auth(token)).get_json()
    assert [x["id"] for x in listed["dispatches"]] == [d.id]
    assert listed["dispatches"][0]["cap_identifier"].endswith(f"-dispatch-{d.id}")
    assert listed["dispatches"][0]["report"]["category"] == "fire"
    assert "reporter_phone" not in json.dumps(listed) and "081234567890" not in json.dumps(listed)
    first = set_status(client, token, d.id, status="acknowledged", request_id="dmk-0001")
    assert first.status_code == 200 and first.get_json()["dispatch"]["status"] == "acknowledged"
    again = set_status(client, token, d.id, status="acknowledged", request_id="dmk-0001")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert status_events() == 1
    other = set_status(client, token, d.id, status="done", request_id="dmk-0001")
    assert other.status_code == 422
    conflict = set_status(client, token, d.id, status="acknowledged", request_id="dmk-0002")
    assert conflict.status_code == 409 and "already" in conflict.get_json()["detail"]
    by_header = client.post(f"{API}/dispatches/{d.id}/status", json={"status": "en_route"},
                            headers={**auth(token), "Idempotency-Key": "dmk-0003"})
    assert by_header.status_code == 200
    handed = set_status(client, token, d.id, status="handed_back", request_id="dmk-0004", reason="")
    assert handed.status_code == 400 and "why" in handed.get_json()["detail"]
    done = set_status(client, token, d.id, status="done", request_id="dmk-0005")
    assert done.status_code == 200
    db.session.expire_all()
    d = db.session.get(Dispatch, d.id)
    assert d.status == "done" and d.closed_at is not None
    event = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "dispatch_status")
                               .order_by(IncidentEvent.id.desc())).first()
    assert event.data["via"] == "api" and event.data["token"] == "Server Damkar" and event.actor_user_id is None
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "agency.api_status")) == 3


def test_another_agencys_dispatch_is_404_and_unchanged(any_db_app: Flask) -> None:
    client = any_db_app.test_client()
    token = api_token("damkar")
    _incident, [theirs] = dispatched("dinkes")
    assert client.get(f"{API}/dispatches/{theirs.id}", headers=auth(token)).status_code == 404
    assert set_status(client, token, theirs.id, status="done", request_id="x1").status_code == 404
    assert client.get(f"{API}/dispatches", headers=auth(token)).get_json()["dispatches"] == []
    db.session.refresh(theirs)
    assert theirs.status == "pending" and status_events() == 0


def test_tokens_missing_wrong_revoked_or_of_an_inactive_agency_are_refused(app: Flask) -> None:
    client = app.test_client()
    token = api_token("damkar")
    _incident, [d] = dispatched("damkar")
    for headers in ({}, auth("pantau_a1_" + "x" * 43), auth(token + "x"), auth("x" * 10_000),
                    {"Authorization": token}, {"Cookie": "pantau_session=abc"}):
        reply = client.post(f"{API}/dispatches/{d.id}/status", json={"status": "done", "request_id": "a"},
                            headers=headers)
        assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Bearer")
    row = tokens.token_for(token)
    assert row is not None
    row.agency.active = False
    db.session.commit()
    assert client.get(f"{API}/dispatches", headers=auth(token)).status_code == 401
    row.agency.active = True
    tokens.revoke(row)
    db.session.commit()
    assert client.get(f"{API}/dispatches", headers=auth(token)).status_code == 401


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"status": 5, "request_id": "a"}', b'{"status": "done"}',
    b'{"status": "done", "request_id": ""}', json.dumps({"status": "done", "request_id": "a" * 101}).encode(),
    b'{"status": "teleported", "request_id": "a"}', b'{"status": "done", "request_id": "a", "extra": 1}',
    json.dumps({"status": "rejected", "reason": "x" * 501, "request_id": "a"}).encode(),
    b'{"status": "done", "request_id": "a\\u0000b"}', b'{"status": NaN, "request_id": "a"}',
    b"[" * 5000, json.dumps({"status": "done", "request_id": "a", "reason": "y" * 20_000}).encode(),
])
def test_hostile_bodies_get_a_clear_4xx_and_change_nothing(app: Flask, body: bytes) -> None:
    client = app.test_client()
    token = api_token("damkar")
    _incident, [d] = dispatched("damkar")
    reply = client.post(f"{API}/dispatches/{d.id}/status", data=body, headers=auth(token),
                        content_type="application/json")
    assert 400 <= reply.status_code < 500 and reply.is_json, reply.get_data()[:200]
    db.session.refresh(d)
    assert d.status == "pending" and status_events() == 0


def cap_ack(references: str, identifier: str = "DAMKAR-ACK-1", *, msg_type: str = "Ack", extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>damkar@kendarikota.go.id</sender>
  <sent>2026-12-01T10:00:00+08:00</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Private</scope>
  <addresses>pantau</addresses>
  <references>{references}</references>
  <note>Diterima, regu 2 berangkat</note>{extra}
</alert>""".encode()


def test_a_cap_ack_acknowledges_the_referenced_dispatch_once(any_db_app: Flask) -> None:
    client = any_db_app.test_client()
    token = api_token("damkar")
    _incident, [d] = dispatched("damkar")
    ref = f"pantau@kendarikota.go.id,pantau-kota-kendari-dispatch-{d.id},2026-12-01T09:59:00+08:00"
    headers = {**auth(token), "Content-Type": "application/cap+xml"}
    reply = client.post(f"{API}/cap", data=cap_ack(ref), headers=headers)
    assert reply.status_code == 200 and reply.get_json() == {"acknowledged": [d.id], "unchanged": []}
    again = client.post(f"{API}/cap", data=cap_ack(ref), headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    later = client.post(f"{API}/cap", data=cap_ack(ref + "-update-0a1b2c3d", identifier="DAMKAR-ACK-2"),
                        headers=headers)
    assert later.get_json() == {"acknowledged": [], "unchanged": [d.id]}
    db.session.refresh(d)
    assert d.status == "acknowledged" and d.acknowledged_at is not None and status_events() == 1
    event = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "dispatch_status")).one()
    assert event.data["via"] == "cap" and event.data["cap_identifier"] == "DAMKAR-ACK-1"
    assert db.session.scalar(select(func.count()).select_from(AgencyCallback)) == 2


XXE = """<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""
BILLION = """<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><note>&lol2;</note></alert>"""


@pytest.mark.parametrize(("make", "status"), [
    (lambda ref: XXE.encode(), 400),
    (lambda ref: BILLION.encode(), 400),
    (lambda ref: b"<alert", 400),
    (lambda ref: b"", 400),
    (lambda ref: b"\xff\xfe<\x00", 400),
    (lambda ref: cap_ack(ref).replace(b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:example"), 400),
    (lambda ref: cap_ack(ref, msg_type="Alert"), 400),
    (lambda ref: cap_ack("no-commas-here"), 400),
    (lambda ref: cap_ack("a,b,c " * 50), 400),
    (lambda ref: cap_ack(ref, extra="<identifier>again</identifier>"), 400),
    (lambda ref: cap_ack(ref, identifier="has space"), 400),
    (lambda ref: cap_ack("pantau@x,someone-elses-alert-7,2026-12-01T09:59:00+08:00"), 404),
    (lambda ref: cap_ack(ref, extra="<x>" + "y" * 70_000 + "</x>"), 413),
    (lambda ref: b"<a>" * 100_000, 413),
])
def test_hostile_cap_messages_are_refused_and_change_nothing(app: Flask, make: Any, status: int) -> None:
    client = app.test_client()
    token = api_token("damkar")
    _incident, [d] = dispatched("damkar")
    ref = f"pantau@kendarikota.go.id,pantau-kota-kendari-dispatch-{d.id},2026-12-01T09:59:00+08:00"
    reply = client.post(f"{API}/cap", data=make(ref), headers={**auth(token), "Content-Type": "application/xml"})
    assert reply.status_code == status and reply.is_json
    assert "root:" not in reply.get_data(as_text=True)
    db.session.refresh(d)
    assert d.status == "pending" and status_events() == 0


def test_a_cap_ack_for_another_agencys_dispatch_is_404(app: Flask) -> None:
    client = app.test_client()
    token = api_token("damkar")
    _incident, [theirs] = dispatched("dinkes")
    ref = f"pantau@x,pantau-kota-kendari-dispatch-{theirs.id},2026-12-01T09:59:00+08:00"
    reply = client.post(f"{API}/cap", data=cap_ack(ref), headers={**auth(token), "Content-Type": "application/xml"})
    assert reply.status_code == 404
    db.session.refresh(theirs)
    assert theirs.status == "pending"
    assert agency("dinkes").id == theirs.agency_id


def test_request_ids_are_remembered_for_thirty_days(app: Flask) -> None:
    import datetime as dt

    from portal.agency.api import prune_callbacks
    from portal.models import utcnow

    client = app.test_client()
    token = api_token("damkar")
    _incident, [d] = dispatched("damkar")
    assert set_status(client, token, d.id, status="acknowledged", request_id="old").status_code == 200
    assert prune_callbacks(utcnow() + dt.timedelta(days=29)) == 0
    assert set_status(client, token, d.id, status="acknowledged", request_id="old").headers["Idempotent-Replayed"]
    assert prune_callbacks(utcnow() + dt.timedelta(days=31)) == 1
    assert set_status(client, token, d.id, status="acknowledged", request_id="old").status_code == 409
