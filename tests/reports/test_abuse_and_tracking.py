"""Against pranks and floods (limits per address and per phone, the operators' blocklist, flags that keep the
report), the tracking page following a report without personal data, and photos for staff only."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.dispatch.service import dispatch_incident
from portal.incidents import events as ev
from portal.incidents.events import record_event
from portal.models import Agency, AuditEntry, Incident, RoutingRule, db
from portal.models.report import ReportBlock, ReportOrigin, ReportPhoto
from portal.reports.service import ReportRejected, create_report
from tests.conftest import login_as, make_settings, migrated_app
from tests.reports.conftest import form, photo_with_gps

JSON = {"Accept": "application/json"}


def _count() -> int:
    return int(db.session.scalar(select(db.func.count()).select_from(Incident)) or 0)


def test_per_phone_limit_refuses_with_a_reason_and_repeats_are_flagged(client: FlaskClient, app: Flask) -> None:
    codes = []
    for i in range(5):
        answer = client.post("/lapor", data=form(client, reporter_phone="+62 812 1111 2222",
                                                 description=f"laporan ke-{i}"), headers=JSON,
                             environ_base={"REMOTE_ADDR": f"127.0.1.{i}"})
        assert answer.status_code == 201
        codes.append(answer.json["tracking_code"])
    origins = db.session.scalars(select(ReportOrigin).order_by(ReportOrigin.incident_id)).all()
    assert [o.suspicious for o in origins] == [False, False, True, True, True]  # the third in 30 min: flagged
    assert all("repeat" in o.reasons for o in origins[2:])
    refused = client.post("/lapor", data=form(client, reporter_phone="0812-1111-2222"), headers=JSON,
                          environ_base={"REMOTE_ADDR": "127.0.1.99"})
    assert refused.status_code == 429 and refused.json["field"] == "reporter_phone"
    assert "nomor telepon ini" in refused.json["message"] and "112" in refused.json["message"]
    assert _count() == 5  # every accepted one kept, flagged or not
    assert client.post("/lapor", data=form(client, reporter_phone="0812 9999 0000"), headers=JSON,
                       environ_base={"REMOTE_ADDR": "127.0.1.99"}).status_code == 201


def test_per_address_limits(tmp_path: Path) -> None:
    app = migrated_app(make_settings(tmp_path, report_address_per_hour=3, report_rate_limit="5 per hour"))
    client = app.test_client()
    with app.app_context():
        for _ in range(3):
            assert client.post("/lapor", data=form(client), headers=JSON).status_code == 201
        refused = client.post("/lapor", data=form(client), headers=JSON)  # the stored reports' count
        assert refused.status_code == 429 and "jaringan ini" in refused.json["message"]
        other = client.post("/lapor", data=form(client), headers=JSON, environ_base={"REMOTE_ADDR": "127.0.0.2"})
        assert other.status_code == 201
        client.post("/lapor", data=form(client), headers=JSON)
        flood = client.post("/lapor", data=form(client), headers=JSON)  # the form's flood guard (Flask-Limiter)
        assert flood.status_code == 429 and "Retry-After" in flood.headers
        assert client.get("/lapor").status_code == 200  # reading the form is never limited
        db.engine.dispose()


def test_operators_manage_the_blocklist_audited(client: FlaskClient, app: Flask) -> None:
    assert client.get("/operator/blokir").status_code in (302, 401)
    reporter = app.test_client()
    first = reporter.post("/lapor", data=form(reporter, reporter_phone="0813 5555 6666"), headers=JSON,
                          environ_base={"REMOTE_ADDR": "127.0.9.9"})
    incident = db.session.scalar(select(Incident).where(Incident.tracking_code == first.json["tracking_code"]))
    operator = login_as(client, "operator")
    page = client.get(f"/operator/blokir?laporan={incident.id}&jenis=phone")
    assert page.status_code == 200 and incident.tracking_code in page.get_data(as_text=True)
    assert "6666" not in page.get_data(as_text=True)  # the operator blocks the sender without seeing the number
    token = form(client)["csrf_token"]
    added = client.post("/operator/blokir", data={"csrf_token": token, "kind": "phone", "incident_id": incident.id,
                                                  "action": "refuse", "reason": "prank calls, 3 times"})
    assert added.status_code == 303
    block = db.session.scalar(select(ReportBlock))
    assert block.value == "+6281355556666" and block.created_by_id == operator.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "report_block.add"))
    assert entry.actor_user_id == operator.id and entry.detail["after"]["reason"] == "prank calls, 3 times"
    refused = reporter.post("/lapor", data=form(reporter, reporter_phone="+6281355556666"), headers=JSON)
    assert refused.status_code == 403 and "112" in refused.json["message"]
    db.session.refresh(block)
    assert block.hits == 1
    # a network watched, not refused: accepted and flagged
    client.post("/operator/blokir", data={"csrf_token": token, "kind": "address", "value": "127.0.7.0/24",
                                          "action": "flag", "reason": "many pranks from this campus"})
    watched = reporter.post("/lapor", data=form(reporter), headers=JSON, environ_base={"REMOTE_ADDR": "127.0.7.20"})
    assert watched.status_code == 201
    origin = db.session.scalar(select(ReportOrigin).order_by(ReportOrigin.incident_id.desc()))
    assert origin.reasons == ["blocklist"] and origin.suspicious
    bad = client.post("/operator/blokir", data={"csrf_token": token, "kind": "address", "value": "everyone",
                                                "action": "refuse", "reason": "x" * 3})
    assert bad.status_code == 400 and "alamat IP" in bad.get_data(as_text=True)
    wide = client.post("/operator/blokir", data={"csrf_token": token, "kind": "address", "value": "0.0.0.0/0",
                                                 "action": "refuse", "reason": "too wide"})
    assert wide.status_code == 400
    lifted = client.post(f"/operator/blokir/{block.id}/cabut", data={"csrf_token": token})
    assert lifted.status_code == 303
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "report_block.lift")) is not None
    assert reporter.post("/lapor", data=form(reporter, reporter_phone="+6281355556666"), headers=JSON,
                         environ_base={"REMOTE_ADDR": "127.0.3.3"}).status_code == 201
    assert "+6281355556666" in client.get("/operator/blokir").get_data(as_text=True)


def test_the_public_cannot_touch_the_blocklist(client: FlaskClient) -> None:
    login_as(client, "agency")
    assert client.get("/operator/blokir").status_code == 403


def test_tracking_follows_the_report_without_personal_data(client: FlaskClient, app: Flask) -> None:
    answer = client.post("/lapor", data=form(client, reporter_name="Siti Rahma", reporter_phone="081299887766",
                                             address="Jl. Rahasia 7", description="Rumah terbakar dekat masjid"),
                         headers=JSON)
    code = answer.json["tracking_code"]
    incident = db.session.scalar(select(Incident).where(Incident.tracking_code == code))
    page = client.get(f"/lacak/{code}")
    html = page.get_data(as_text=True)
    assert 'data-stage="received"' in html and 'aria-current="step"' in html and 'hx-trigger="every 5s"' in html
    for private in ("Siti", "99887766", "Rahasia", "masjid", "-3.98", "122.51"):
        assert private not in html
    fragment = client.get(f"/lacak/{code}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="progress"')
    # the command centre verifies and dispatches; the agency marks it done; then it is closed
    incident.status = "verified"
    record_event(incident, ev.VERIFIED, actor_user_id=None)
    db.session.commit()
    assert 'data-stage="verified"' in client.get(f"/lacak/{code}", headers={"HX-Request": "true"}).get_data(
        as_text=True).split("<ol")[0]
    agency = Agency(code="damkar", name="Damkar Kota Kendari", kind="fire")
    db.session.add(agency)
    db.session.flush()
    db.session.add(RoutingRule(category="fire", agency_id=agency.id, sla_minutes=10))
    dispatch = dispatch_incident(incident)[0]
    db.session.commit()
    html = client.get(f"/lacak/{code}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-stage="dispatched"' in html.split("<ol")[0] and "Damkar Kota Kendari" in html
    dispatch.status = "done"
    record_event(incident, ev.DISPATCH_STATUS, dispatch_id=dispatch.id, status="done")
    db.session.commit()
    assert 'data-stage="handled"' in client.get(f"/lacak/{code}", headers={"HX-Request": "true"}).get_data(
        as_text=True).split("<ol")[0]
    incident.status = "resolved"
    record_event(incident, ev.RESOLVED)
    db.session.commit()
    closed = client.get(f"/lacak/{code}", headers={"HX-Request": "true"})
    assert closed.status_code == 286  # htmx stops polling a closed report
    assert 'data-stage="closed"' in closed.get_data(as_text=True).split("<ol")[0]


def test_the_lookup_form(client: FlaskClient) -> None:
    code = client.post("/lapor", data=form(client), headers=JSON).json["tracking_code"]
    typed = code.lower().replace("-", " ")
    assert client.get("/lacak", query_string={"kode": typed}).headers["Location"] == f"/lacak/{code}"
    missing = client.get("/lacak", query_string={"kode": "LP-2222-2222"})
    assert missing.status_code == 404 and "Tidak ada laporan dengan kode ini" in missing.get_data(as_text=True)
    for hostile in ("<script>", "x" * 5000, "LP-%00", "../../etc/passwd"):
        assert client.get("/lacak", query_string={"kode": hostile}).status_code == 404
        assert client.get(f"/lacak/{hostile}").status_code == 404
    assert client.get(f"/lacak/{code.lower()}").status_code == 301


def test_photos_are_for_staff_only(client: FlaskClient, app: Flask) -> None:
    reporter = app.test_client()
    answer = reporter.post("/lapor", data=form(reporter, photos=[(io.BytesIO(photo_with_gps()), "a.jpg")]),
                           content_type="multipart/form-data", headers=JSON)
    photo = db.session.scalar(select(ReportPhoto))
    url = f"/laporan/foto/{photo.id}"
    assert reporter.get(url).status_code in (302, 401)
    login_as(client, "operator")
    got = client.get(url)
    assert got.status_code == 200 and got.mimetype == "image/jpeg" and got.data[:3] == b"\xff\xd8\xff"
    agency_client = app.test_client()
    agency_user = login_as(agency_client, "agency")
    assert agency_client.get(url).status_code == 404  # not dispatched to them
    incident = db.session.scalar(select(Incident).where(Incident.tracking_code == answer.json["tracking_code"]))
    dispatch_incident(incident, agency_ids=[agency_user.agency_id])
    db.session.commit()
    assert agency_client.get(url).status_code == 200
    police = app.test_client()
    login_as(police, "police")
    assert police.get(url).status_code == 403


def test_create_report_is_the_one_way_in(app: Flask) -> None:
    """What Open311 and other callers rely on: typed values, strings, no request."""
    with app.test_request_context("/open311/v2/requests.json", environ_base={"REMOTE_ADDR": "127.0.0.5"}):
        incident = create_report(category="medical", description="Orang pingsan di halte", latitude=-3.99,
                                 longitude="122.52", source="open311", remote_addr="127.0.0.5",
                                 photos=[photo_with_gps()])
        assert incident.id and incident.source == "open311" and incident.status == "new"
        assert [e.kind for e in incident.events] == [ev.RECEIVED]
        with pytest.raises(ReportRejected) as refused:
            create_report(category="medical", description="ok ok", latitude=True, longitude=122.5)
        assert refused.value.field == "latitude" and refused.value.status == 400
        with pytest.raises(ReportRejected) as refused:
            create_report(category=["fire"], description="ok ok", latitude=-3.99, longitude=122.5)
        assert refused.value.field == "category"
        with pytest.raises(ReportRejected):
            create_report(category="fire", description=12345, latitude=-3.99, longitude=122.5)
        with pytest.raises(ReportRejected) as refused:
            create_report(category="fire", description="api api", latitude=-3.99, longitude=122.5, photos=[object()])
        assert refused.value.field == "photos"


@pytest.mark.postgres
def test_reports_on_postgresql(any_db_app: Flask) -> None:
    client = any_db_app.test_client()
    answer = client.post("/lapor", data=form(client, reporter_phone="0812 3333 4444",
                                             photos=[(io.BytesIO(photo_with_gps()), "a.jpg")]),
                         content_type="multipart/form-data", headers=JSON)
    assert answer.status_code == 201
    incident = db.session.scalar(select(Incident).where(Incident.tracking_code == answer.json["tracking_code"]))
    origin = db.session.get(ReportOrigin, incident.id)
    assert origin.phone == "+6281233334444" and origin.created_at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert client.get(f"/lacak/{incident.tracking_code}").status_code == 200
    with pytest.raises(ReportRejected):
        with any_db_app.test_request_context("/"):
            create_report(category="fire", description="x" * 2001, latitude=-3.99, longitude=122.5)


def test_a_report_takes_the_district_of_the_nearest_camera_and_is_routed_by_it(any_db_app: Flask) -> None:
    """Routing rules by district and the statistics by district need the report's district: the nearest
    camera's (within 3 km), none when no camera is near."""
    from tests.conftest import add_camera

    add_camera(name="Pasar Baruga", latitude=-4.030, longitude=122.500, district="Baruga")
    add_camera(name="Tugu MTQ", latitude=-3.975, longitude=122.520, district="Kadia")
    add_camera(name="Tanpa kecamatan", latitude=-4.029, longitude=122.501, district="")
    fire_all = Agency(code="damkar", name="Damkar Kota")
    fire_baruga = Agency(code="damkar-baruga", name="Pos Damkar Baruga")
    db.session.add_all([fire_all, fire_baruga])
    db.session.flush()
    db.session.add_all([RoutingRule(category="fire", agency_id=fire_all.id),
                        RoutingRule(category="fire", district="Baruga", agency_id=fire_baruga.id)])
    db.session.commit()
    with any_db_app.test_request_context("/"):
        near_baruga = create_report(category="fire", description="Asap tebal dari ruko", latitude=-4.028,
                                    longitude=122.502, remote_addr="127.0.0.7")
        near_kadia = create_report(category="fire", description="Api di tempat sampah", latitude=-3.976,
                                   longitude=122.521, remote_addr="127.0.0.8")
        far = create_report(category="fire", description="Kebakaran lahan kosong", latitude=-4.06,
                            longitude=122.60, remote_addr="127.0.0.9")
    assert (near_baruga.district, near_kadia.district, far.district) == ("Baruga", "Kadia", "")
    assert {d.agency_id for d in dispatch_incident(near_baruga)} == {fire_all.id, fire_baruga.id}
    assert {d.agency_id for d in dispatch_incident(near_kadia)} == {fire_all.id}
    db.session.commit()
