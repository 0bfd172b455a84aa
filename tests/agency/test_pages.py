"""The agency page /instansi: own dispatches only (another agency's is 404), acting on a dispatch, the admins'
token page."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.models import AgencyToken, AuditEntry, Dispatch, IncidentEvent, db
from tests.agency.conftest import agency, dispatched
from tests.conftest import csrf_token, login_as


def post_status(client: FlaskClient, dispatch_id: int, status: str, reason: str = "") -> object:
    return client.post(f"/instansi/{dispatch_id}/status", data={"status": status, "reason": reason,
                                                                "csrf_token": csrf_token(client)})


def test_an_agency_sees_only_its_own_dispatches(any_db_app: Flask) -> None:
    client = any_db_app.test_client()
    _fire, [mine] = dispatched("damkar", description="Kebakaran gudang kopra")
    _crash, [theirs] = dispatched("dinkes", category="medical", description="Pingsan di pasar")
    login_as(client, "agency", agency="damkar")
    page = client.get("/instansi/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-dispatch-id="{mine.id}"' in html and f'data-dispatch-id="{theirs.id}"' not in html
    assert client.get(f"/instansi/{theirs.id}").status_code == 404
    assert post_status(client, theirs.id, "acknowledged").status_code == 404
    db.session.refresh(theirs)
    assert theirs.status == "pending"
    detail = client.get(f"/instansi/{mine.id}").get_data(as_text=True)
    assert "Kebakaran gudang kopra" in detail and "Pingsan" not in detail
    assert 'id="dispatch-map"' in detail and 'data-lat="-3.97"' in detail
    assert "081234567890" not in detail and "Wa Ode" not in detail  # the reporter's personal data


def test_other_roles_and_agencyless_accounts(app: Flask) -> None:
    _incident, [d] = dispatched("damkar")
    client = app.test_client()
    assert client.get("/instansi/").status_code in (302, 401)
    login_as(client, "operator")
    assert client.get("/instansi/").status_code == 403
    login_as(client, "police", agency="damkar")
    assert client.get(f"/instansi/{d.id}").status_code == 403
    nobody = app.test_client()
    user = login_as(nobody, "agency", agency="damkar")
    db.session.execute(db.update(type(user)).where(type(user).id == user.id).values(agency_id=None))
    db.session.commit()
    assert f'data-dispatch-id="{d.id}"' not in nobody.get("/instansi/").get_data(as_text=True)
    assert nobody.get(f"/instansi/{d.id}").status_code == 404


def test_acting_on_a_dispatch_writes_events_and_audit_and_refuses_wrong_moves(app: Flask) -> None:
    client = app.test_client()
    incident, [d] = dispatched("damkar")
    user = login_as(client, "agency", agency="damkar")
    reply = post_status(client, d.id, "acknowledged")
    assert reply.status_code == 303
    db.session.refresh(d)
    assert d.status == "acknowledged" and d.acknowledged_at is not None
    event = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "dispatch_status")).one()
    assert event.actor_user_id == user.id and event.data["via"] == "web"
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "agency.dispatch_status")).one()
    again = post_status(client, d.id, "acknowledged")
    assert again.status_code == 409
    assert "sudah" in again.get_data(as_text=True) or "already" in again.get_data(as_text=True)
    no_reason = post_status(client, d.id, "rejected")
    assert no_reason.status_code == 400
    db.session.refresh(d)
    assert d.status == "acknowledged"
    assert post_status(client, d.id, "rejected", "Di luar wilayah kami").status_code == 303
    page = client.get(f"/instansi/{d.id}").get_data(as_text=True)
    assert "Di luar wilayah kami" in page and 'data-status="rejected"' in page
    db.session.refresh(incident)
    assert incident.status == "verified"


def test_hostile_form_input_gets_a_clear_4xx(app: Flask) -> None:
    client = app.test_client()
    _incident, [d] = dispatched("damkar")
    login_as(client, "agency", agency="damkar")
    token = csrf_token(client)
    for data in ({"status": "x" * 5000}, {"status": "done", "reason": "a" * 10_000},
                 {"status": "rejected", "reason": "nul\x00byte"}, {"status": ["bogus", "done"]},
                 {"status": "done\r\n"}, {}):
        reply = client.post(f"/instansi/{d.id}/status", data={**data, "csrf_token": token})
        assert 400 <= reply.status_code < 500, data
    assert client.post(f"/instansi/{d.id}/status", data={"status": "done"}).status_code == 400  # no CSRF token
    assert client.get("/instansi/99999999999").status_code == 404
    db.session.refresh(d)
    assert d.status == "pending"


def test_admin_issues_and_revokes_a_token_shown_once_and_stored_hashed(app: Flask) -> None:
    client = app.test_client()
    target = agency("damkar", "Damkar Kota Kendari")
    login_as(client, "admin")
    page = client.post("/admin/instansi-api/", data={"agency": str(target.id), "name": "Server Damkar",
                                                     "csrf_token": csrf_token(client)})
    assert page.status_code == 200
    shown = re.search(r'id="issued-token">(pantau_a1_[^<]+)<', page.get_data(as_text=True))
    assert shown
    token = shown.group(1)
    row = db.session.scalars(select(AgencyToken)).one()
    assert row.token_hash != token and token not in row.token_hash and row.hint == token[-4:]
    listing = client.get("/admin/instansi-api/").get_data(as_text=True)
    assert token not in listing and "Server Damkar" in listing
    api = app.test_client()
    assert api.get("/api/agency/v1/dispatches", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.post(f"/admin/instansi-api/{row.id}/cabut",
                       data={"csrf_token": csrf_token(client)}).status_code == 303
    assert api.get("/api/agency/v1/dispatches", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("agency.token%"))))
    assert actions == ["agency.token_issued", "agency.token_revoked"]
    assert all(token not in str(e.detail) for e in db.session.scalars(select(AuditEntry)))
    login_as(client, "agency", agency="damkar")
    assert client.get("/admin/instansi-api/").status_code == 403
    assert db.session.scalar(select(Dispatch.id)) is None


def test_photos_and_camera_evidence_show_only_through_the_agencys_own_dispatch(app: Flask) -> None:
    from portal.models import IncidentEvidence

    incident, [mine] = dispatched("damkar")
    _other, [theirs] = dispatched("dinkes")
    media = app.config["PANTAU"].media_path
    folder = media / "evidence" / "incidents" / str(incident.id)
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 100)
    item = IncidentEvidence(incident_id=incident.id, camera_name="Simpang Mandonga",
                            path=f"evidence/incidents/{incident.id}/a.jpg", sha256="0" * 64, bytes=104)
    db.session.add(item)
    db.session.commit()
    client = app.test_client()
    login_as(client, "agency", agency="damkar")
    page = client.get(f"/instansi/{mine.id}").get_data(as_text=True)
    link = f"/instansi/{mine.id}/bukti/{item.id}.jpg"
    assert link in page and "Simpang Mandonga" in page
    reply = client.get(link)
    assert reply.status_code == 200 and reply.data.startswith(b"\xff\xd8\xff")
    assert client.get(f"/instansi/{theirs.id}/bukti/{item.id}.jpg").status_code == 404  # not their dispatch
    other = app.test_client()
    login_as(other, "agency", agency="dinkes")
    assert other.get(link).status_code == 404
    assert other.get(f"/instansi/{theirs.id}/bukti/{item.id}.jpg").status_code == 404  # not that report's
