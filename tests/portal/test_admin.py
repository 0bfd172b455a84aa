"""The console through the test client: cameras (table, forms, write-only sources, switch, archive, CSV import and
export), groups and walls, health, users and agencies; who may do what, and that every change is audited."""

from __future__ import annotations

import datetime as dt
import io
import re

from flask import Flask
from flask.testing import FlaskClient

from portal.models import Agency, AuditEntry, Camera, CameraGroup, CameraGroupMember, CameraStatus, User, Worker, db
from portal.models.audit import verify_chain
from tests.conftest import add_camera, csrf_token, login_as

SECRET = "s3cret"


def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login_as(client, "admin", username="siti")
    return client


def post(client: FlaskClient, url: str, data: dict[str, object], **headers: str):  # type: ignore[no-untyped-def]
    return client.post(url, data=data, headers={"X-CSRFToken": csrf_token(client), **headers})


def test_camera_table_shows_problems_first_and_never_a_source(app: Flask) -> None:
    now = dt.datetime.now(dt.UTC)
    ok = add_camera(name="Aman")
    bad = add_camera(name="Zebra Rusak")
    db.session.add_all([CameraStatus(camera_id=ok.id, status="online", updated_at=now, bitrate_kbps=1800),
                        CameraStatus(camera_id=bad.id, status="error", updated_at=now, error="Connection refused")])
    db.session.commit()
    client = admin(app)
    page = client.get("/admin/kamera")
    assert page.status_code == 200 and SECRET not in page.text
    assert page.text.index("Zebra Rusak") < page.text.index("Aman")  # problems first
    assert "1800 kb/s" in page.text and "Connection refused" in page.text
    fragment = client.get("/admin/kamera?q=aman", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="camera-table">') and "Zebra" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    assert "Aman" not in client.get("/admin/kamera?status=error").text


def test_edit_keeps_the_source_when_left_blank_and_never_shows_it(app: Flask) -> None:
    camera = add_camera(name="Kadia")
    client = admin(app)
    page = client.get(f"/admin/kamera/{camera.id}")
    assert SECRET not in page.text and "127.0.0.1" in page.text  # the redacted address as a hint
    fields = {"name": "Kadia Baru", "latitude": "-3.98", "longitude": "122.52", "category": "traffic",
              "audio": "drop", "retention_days": "14", "source_url": "", "enabled": "y", "recording": "y",
              "owner_allows_public": "y"}
    assert post(client, f"/admin/kamera/{camera.id}", fields).status_code == 302
    db.session.expire_all()
    saved = db.session.get(Camera, camera.id)
    assert saved.name == "Kadia Baru" and saved.retention_days == 14 and SECRET in saved.source_url
    bad = post(client, f"/admin/kamera/{camera.id}", {**fields, "latitude": "-95",
                                                     "source_url": "rtsp://u:n3wpass@127.0.0.1:9 x"})
    assert bad.status_code == 400 and "n3wpass" not in bad.text
    assert "harus antara -90 dan 90" in bad.text or "harus memuat" in bad.text or "spasi" in bad.text
    entry = db.session.query(AuditEntry).filter_by(action="camera.update").one()
    assert entry.actor == "siti" and entry.detail["changes"]["name"] == ["Kadia", "Kadia Baru"]
    assert SECRET not in str(entry.detail)


def test_public_switch_needs_a_reason_and_respects_the_owner(app: Flask) -> None:
    polda = Agency(code="polda", name="Polda", kind="police")
    db.session.add(polda)
    db.session.commit()
    mine = add_camera(name="Kota", public=False)
    theirs = add_camera(name="Polda Cam", public=False, agency_id=polda.id, owner_allows_public=False)
    client = admin(app)
    htmx = {"HX-Request": "true"}
    no_reason = post(client, "/admin/kamera/publik", {"ids": str(mine.id), "public": "1"}, **htmx)
    assert no_reason.status_code == 422 and "alasan" in no_reason.text
    refused = post(client, "/admin/kamera/publik", {"ids": f"{mine.id},{theirs.id}", "public": "1",
                                                    "reason": "uji"}, **htmx)
    assert refused.status_code == 422
    db.session.expire_all()
    assert db.session.get(Camera, mine.id).public is False  # all or nothing
    done = post(client, "/admin/kamera/publik", {"ids": str(mine.id), "public": "1", "reason": "rapat RT"}, **htmx)
    assert done.status_code == 200 and "kini publik" in done.text
    assert client.get(f"/kamera/{mine.id}").status_code == 200
    bulk = post(client, "/admin/kamera/publik", {"ids": [str(mine.id)], "public": "0", "reason": "perbaikan"})
    assert bulk.status_code == 302
    assert client.get(f"/kamera/{mine.id}").status_code == 404
    entries = db.session.query(AuditEntry).filter(AuditEntry.action.in_(["camera.public", "camera.private"])) \
        .order_by(AuditEntry.seq).all()
    assert [(e.action, e.detail["reason"]) for e in entries] == [("camera.public", "rapat RT"),
                                                                 ("camera.private", "perbaikan")]


def test_archive_keeps_the_camera_and_takes_it_off_every_list(app: Flask) -> None:
    camera = add_camera(name="Lama")
    client = admin(app)
    assert post(client, f"/admin/kamera/{camera.id}/arsip", {"reason": "dibongkar"}).status_code == 302
    db.session.expire_all()
    kept = db.session.get(Camera, camera.id)
    assert kept.archived_at is not None and not kept.public and not kept.enabled
    table = {"HX-Request": "true"}
    assert "Lama" not in client.get("/admin/kamera", headers=table).text
    assert "Lama" in client.get("/admin/kamera?archived=1", headers=table).text
    assert "Lama" not in client.get("/api/v1/cameras.geojson").text


CSV_GOOD = "name,latitude,longitude,source_url,district,public\nSatu,-3.9,122.5,rtsp://127.0.0.1:9/a,Kadia,1\n" \
           "Dua,-3.91,122.51,rtsp://127.0.0.1:9/b,Mandonga,0\n"


def _upload(client: FlaskClient, text: str, mode: str):  # type: ignore[no-untyped-def]
    return client.post("/admin/kamera/impor", data={"csrf_token": csrf_token(client), "mode": mode,
                                                    "file": (io.BytesIO(text.encode()), "kamera.csv")},
                       content_type="multipart/form-data")


def test_csv_import_dry_run_then_import_and_nothing_on_a_bad_row(app: Flask) -> None:
    client = admin(app)
    bad = CSV_GOOD + "Tiga,-93,122.5,rtsp://127.0.0.1:9/c,Kadia,1\nEmpat,-3.9,122.5,ftp://127.0.0.1/x,,maybe\n"
    report = _upload(client, bad, "import")
    assert report.status_code == 422
    rows = re.findall(r'<tr class="(row-\w+)"><td>(\d+)</td>', report.text)
    assert rows == [("row-ok", "2"), ("row-ok", "3"), ("row-error", "4"), ("row-error", "5")]
    assert "Lintang: harus antara -90 dan 90" in report.text and "harus 1 atau 0" in report.text.replace(
        "must be 1 or 0", "harus 1 atau 0")
    assert db.session.query(Camera).count() == 0  # one bad row: nothing imported
    checked = _upload(client, CSV_GOOD, "check")
    assert checked.status_code == 200 and db.session.query(Camera).count() == 0  # a dry run saves nothing
    done = _upload(client, CSV_GOOD, "import")
    assert done.status_code == 200 and "2 ditambahkan" in done.text
    assert sorted(c.name for c in db.session.query(Camera)) == ["Dua", "Satu"]
    assert db.session.query(Camera).filter_by(name="Satu").one().public is True
    exported = client.get("/admin/kamera.csv").text
    assert exported.splitlines()[0].startswith("id,name,") and "Satu" in exported
    again = _upload(client, exported, "check")  # the export is a valid import (updates by id)
    assert again.status_code == 200, again.text
    assert {"camera.import", "camera.create", "camera.public"} <= {e.action for e in db.session.query(AuditEntry)}


def test_groups_walls_and_roles(app: Flask) -> None:
    dinkes = Agency(code="dinkes", name="Dinkes", kind="health")
    db.session.add(dinkes)
    db.session.commit()
    public = add_camera(name="Puskesmas Kota")
    private = add_camera(name="Puskesmas Dalam", public=False)
    theirs = add_camera(name="Puskesmas Dinkes", public=False, agency_id=dinkes.id)
    client = admin(app)
    saved = post(client, "/admin/grup/baru", {"name": "Puskesmas", "cameras": [str(public.id), str(private.id),
                                                                               str(theirs.id)]})
    assert saved.status_code == 302
    group = db.session.query(CameraGroup).one()
    wall = client.get(f"/admin/grup/{group.id}")
    assert wall.text.count("data-player ") == 3 and SECRET not in wall.text
    boss = app.test_client()
    login_as(boss, "leadership")
    assert boss.get(f"/admin/grup/{group.id}").text.count("data-player ") == 3
    assert boss.get(f"/admin/kamera/{private.id}/status.json").status_code == 200
    staff = app.test_client()
    login_as(staff, "agency", agency="dinkes")
    shown = staff.get(f"/admin/grup/{group.id}").text
    assert "Puskesmas Dinkes" in shown and "Puskesmas Dalam" not in shown and shown.count("data-player ") == 2
    assert staff.get(f"/admin/kamera/{private.id}/status.json").status_code == 404
    assert "Puskesmas Dalam" not in staff.get("/admin/kamera").text
    assert staff.get("/admin/grup/baru").status_code == 403
    assert boss.post("/admin/kamera/publik", data={"ids": str(private.id), "public": "1", "reason": "x"},
                     headers={"X-CSRFToken": csrf_token(boss)}).status_code == 403
    assert db.session.get(Camera, private.id).public is False


def test_private_media_for_staff_only(app: Flask) -> None:
    private = add_camera(name="Dalam", public=False)
    anonymous = app.test_client()
    assert anonymous.get(f"/_auth/media/{private.media_key}").status_code == 403
    operator = app.test_client()
    login_as(operator, "operator")
    allowed = operator.get(f"/_auth/media/{private.media_key}")
    assert allowed.status_code == 204 and "X-Pantau-Cache" not in allowed.headers  # never for a CDN
    public = add_camera(name="Luar")
    assert anonymous.get(f"/_auth/media/{public.media_key}").headers["X-Pantau-Cache"] == "public"


def test_health_dashboard(app: Flask) -> None:
    now = dt.datetime.now(dt.UTC)
    down = add_camera(name="Mati")
    db.session.add(CameraStatus(camera_id=down.id, status="error", updated_at=now,
                                error="401 Unauthorized rtsp://admin:s3cret@127.0.0.1:9/x",
                                last_online_at=now - dt.timedelta(hours=2)))
    db.session.add(Worker(name="media-1", last_seen_at=now, health={"cpu_percent": 37.5}, disk_free_bytes=2**33,
                          disk_total_bytes=2**34))
    db.session.commit()
    client = app.test_client()
    login_as(client, "operator")
    page = client.get("/admin/kesehatan")
    assert page.status_code == 200 and "media-1" in page.text and "38 %" in page.text and "Mati" in page.text
    assert SECRET not in page.text and "401 Unauthorized" in page.text
    fragment = client.get("/admin/kesehatan", headers={"HX-Request": "true", "X-Pantau-Poll": "1"})
    assert fragment.text.lstrip().startswith('<div id="health"') and "every 5s" in fragment.text
    history = client.get(f"/admin/kesehatan/kamera/{down.id}")
    assert history.status_code == 200 and SECRET not in history.text
    boss = app.test_client()
    login_as(boss, "leadership")
    assert boss.get("/admin/kesehatan").status_code == 403


def test_users_and_agencies(app: Flask) -> None:
    client = admin(app)
    made = post(client, "/admin/instansi/baru", {"code": "damkar", "name": "Damkar Kendari", "kind": "fire",
                                                 "phone": "(0401) 113", "email": "damkar@kendarikota.go.id"})
    assert made.status_code == 302
    agency = db.session.query(Agency).filter_by(code="damkar").one()
    bad = post(client, "/admin/instansi/baru", {"code": "damkar", "name": "", "kind": "fire"})
    assert bad.status_code == 400 and "sudah dipakai" in bad.text
    created = post(client, "/admin/pengguna/baru", {"username": "Andi", "role": "agency", "agency": str(agency.id),
                                                    "full_name": "Andi"})
    password = re.search(r'id="temporary-password">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    user = db.session.query(User).filter_by(username="andi").one()
    assert user.must_change_password and user.check_password(password)
    version = user.session_version
    changed = post(client, f"/admin/pengguna/{user.id}", {"role": "operator", "agency": "", "full_name": "Andi",
                                                          "email": "", "active": "1", "action": "save"})
    assert changed.status_code == 302
    db.session.expire_all()
    changed_user = db.session.get(User, user.id)
    assert changed_user.role == "operator" and changed_user.session_version == version + 1  # sessions ended
    reset = post(client, f"/admin/pengguna/{user.id}", {"action": "reset_password"})
    assert "temporary-password" in reset.text and password not in reset.text
    actions = [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.seq)]
    assert actions == ["agency.create", "user.create", "user.update", "user.reset_password"]
    assert all(password not in str(e.detail) for e in db.session.query(AuditEntry))
    assert verify_chain().ok
    listed = client.get("/admin/pengguna?role=operator")
    assert "andi" in listed.text and "password_hash" not in listed.text


def test_groups_table_is_deleted_with_its_members_only(app: Flask) -> None:
    camera = add_camera()
    group = CameraGroup(name="G", description="", members=[CameraGroupMember(camera_id=camera.id)])
    db.session.add(group)
    db.session.commit()
    client = admin(app)
    assert post(client, f"/admin/grup/{group.id}/ubah", {"delete": "1"}).status_code == 302
    assert db.session.query(CameraGroup).count() == 0 and db.session.get(Camera, camera.id) is not None
