"""The footage part of the worker API: holds for every disk, export jobs for the worker that recorded the footage,
reports that finish a request with a signed manifest, expired files deleted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from contract import worker_api
from portal.footage import asking, evidence, exports
from portal.models import AuditEntry, DownloadLink, FootageExport, FootageRequest, LegalHold, Worker, db, utcnow
from tests.conftest import WorkerAuth
from tests.footage.conftest import People, add_camera, as_user, index_segments

_auth = WorkerAuth()


def sync(client: FlaskClient, name: str, **body: Any) -> dict[str, Any]:
    response = client.post(worker_api.SYNC_PATH, json={"worker": {"name": name}, **body}, headers=_auth(name))
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def approved_request(people: People, camera_ids: list[int], start: dt.datetime, end: dt.datetime) -> FootageRequest:
    request = asking.ask_police(people.police, camera_ids, start, end, case_number="LP/7/2026", legal_basis="KUHAP",
                                reason="uji ekspor", now=utcnow(), actor="bripka.andi")
    exports.approve(request, people.admin, "setuju", utcnow(), actor="admin.dina")
    db.session.commit()
    return request


def test_every_worker_is_told_every_hold_and_the_held_paths_on_its_own_disk(app: Flask, people: People) -> None:
    _auth.credentials.clear()
    client = app.test_client()
    cam = add_camera(name="Pasar")
    sync(client, "w1")  # w1 takes the camera
    w1 = db.session.scalar(select(Worker).where(Worker.name == "w1"))
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=2)
    index_segments(cam, w1, start, 6)
    asking.ask_police(people.police, [cam.id], start + dt.timedelta(seconds=15), start + dt.timedelta(seconds=25),
                      case_number="K/9", legal_basis="KUHAP", reason="uji tahan", now=utcnow(), actor="x")
    db.session.commit()
    reply = sync(client, "w1")
    assert reply["holds"] == [{"camera_id": cam.id, "start": (start + dt.timedelta(seconds=15)).isoformat(),
                               "end": (start + dt.timedelta(seconds=25)).isoformat()}]
    held = [f"recordings/{cam.id}/{start + dt.timedelta(seconds=s):%Y%m%d/%H%M%S}.mp4" for s in (10, 20)]
    assert reply["held_segments"] == held
    # the camera moves to w2 (w1's lease is dropped): w1 is still told what on its disk is held
    db.session.execute(db.text("DELETE FROM camera_leases"))
    db.session.commit()
    other = sync(client, "w2")
    assert [c["id"] for c in other["cameras"]] == [cam.id]
    assert other["holds"] == reply["holds"] and other["held_segments"] == held  # it runs the camera now
    again = sync(client, "w1")
    assert again["cameras"] == [] and again["held_segments"] == held and again["holds"] == reply["holds"]


def test_export_jobs_go_to_the_worker_that_recorded_and_finish_with_a_signed_manifest(app: Flask,
                                                                                       people: People) -> None:
    _auth.credentials.clear()
    client = app.test_client()
    cam = add_camera(name="Simpang")
    sync(client, "w1")
    sync(client, "w2")
    w1 = db.session.scalar(select(Worker).where(Worker.name == "w1"))
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    segments = index_segments(cam, w1, start, 6, skip=(3,))  # 30..40 s is missing: a gap
    request = approved_request(people, [cam.id], start + dt.timedelta(seconds=5), start + dt.timedelta(seconds=55))
    assert sync(client, "w2")["exports"] == []
    [job] = sync(client, "w1")["exports"]
    export = db.session.scalars(select(FootageExport)).one()
    assert job["id"] == export.id and job["camera_id"] == cam.id and job["output"] == export.path
    assert job["output"].startswith(f"exports/{request.id}/pantau-r{request.id}-kamera{cam.id}-")
    assert [s["path"] for s in job["sources"]] == [s.path for s in segments]
    sync(client, "w1", exports=[{"id": export.id, "state": "running", "progress": 0.4}])
    db.session.expire_all()
    assert db.session.get(FootageRequest, request.id).status == "exporting"
    assert db.session.get(FootageExport, export.id).progress == 0.4
    page = as_user(app, people.police).get(f"/polisi/permintaan/{request.id}", headers={"HX-Request": "true"})
    assert page.status_code == 200 and 'value="40"' in page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"] and "<html" not in page.get_data(as_text=True)
    sources = [{"path": s.path, "bytes": s.bytes, "sha256": f"{n:064x}"} for n, s in enumerate(segments)]
    done = {"id": export.id, "state": "done", "progress": 1, "output": job["output"], "bytes": 4321,
            "sha256": "ab" * 32, "duration_s": 40.0, "actual_start": job["start"], "actual_end": job["end"],
            "sources": sources, "missing": [], "ffmpeg_version": "5.1.9"}
    reply = sync(client, "w1", exports=[done])
    assert reply["exports"] == []
    db.session.expire_all()
    request = db.session.get(FootageRequest, request.id)
    export = db.session.get(FootageExport, export.id)
    assert request.status == "ready" and export.status == "done" and export.worker_name == "w1"
    assert [(g["seconds"], g["reason"]) for g in export.gaps] == [(10.0, "not_recorded")]
    manifest = request.manifest.encode()
    key = evidence.city_public_key(app.config["PANTAU"].evidence_key_path)
    verdict = evidence.verify(manifest, "ab" * 32, key)
    assert verdict.ok, verdict.checks
    body = json.loads(manifest)
    assert body["case"]["case_number"] == "LP/7/2026" and body["approved"]["by"]["username"] == "admin.dina"
    assert body["requested"]["by"]["username"] == "bripka.andi"
    assert [f["sha256"] for f in body["files"]] == ["ab" * 32]
    assert [s["sha256"] for s in body["files"][0]["sources"]] == [s["sha256"] for s in sources]
    assert body["files"][0]["worker"]["name"] == "w1" and body["files"][0]["ffmpeg"] == "5.1.9"
    assert body["cameras"][0]["gaps"][0]["reason"] == "not_recorded"
    assert body["asked"]["start"].endswith("+08:00")
    link = db.session.scalars(select(DownloadLink)).one()
    assert link.user_id == people.police.id and link.expires_at == request.expires_at
    hold = db.session.scalars(select(LegalHold)).one()
    assert hold.keep_until >= request.expires_at
    storage = as_user(app, people.admin).get("/admin/rekaman/tahanan").get_data(as_text=True)
    assert 'data-held-bytes="5000"' in storage and ": 1, 4.2 KB." in storage  # 5 held segments, 1 export
    # the same report again changes nothing
    sync(client, "w1", exports=[done])
    assert db.session.scalar(select(db.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "footage.request_ready")) == 1


def test_a_failed_export_fails_the_request_and_an_admin_tries_again(app: Flask, people: People) -> None:
    _auth.credentials.clear()
    client = app.test_client()
    cam = add_camera()
    sync(client, "w1")
    w1 = db.session.scalar(select(Worker).where(Worker.name == "w1"))
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    index_segments(cam, w1, start, 3)
    request = approved_request(people, [cam.id], start, start + dt.timedelta(seconds=30))
    [job] = sync(client, "w1")["exports"]
    sync(client, "w1", exports=[{"id": job["id"], "state": "failed", "error": "disk full"}])
    db.session.expire_all()
    assert db.session.get(FootageRequest, request.id).status == "failed"
    as_user(app, people.admin2).post(f"/admin/rekaman/{request.id}/ulangi")
    db.session.expire_all()
    assert db.session.get(FootageRequest, request.id).status == "approved"
    assert [j["id"] for j in sync(client, "w1")["exports"]] == [job["id"]]


def test_a_camera_without_footage_is_listed_as_empty_and_bad_reports_are_refused(app: Flask, people: People) -> None:
    _auth.credentials.clear()
    client = app.test_client()
    cam, other = add_camera(name="Ada"), add_camera(name="Kosong")
    sync(client, "w1")
    w1 = db.session.scalar(select(Worker).where(Worker.name == "w1"))
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    index_segments(cam, w1, start, 3)
    request = approved_request(people, [cam.id, other.id], start, start + dt.timedelta(seconds=30))
    statuses = {e.camera_id: e.status for e in request.exports}
    assert statuses == {cam.id: "queued", other.id: "empty"}
    [job] = sync(client, "w1")["exports"]
    for bad in ({"id": job["id"], "state": "finished"}, {"id": job["id"], "state": "done", "sha256": "x"},
                {"id": "1", "state": "running"}, {"id": job["id"], "state": "done", "output": "../etc/passwd",
                                                  "bytes": 1, "sha256": "a" * 64, "actual_start": job["start"],
                                                  "actual_end": job["end"], "sources": []}):
        response = client.post(worker_api.SYNC_PATH, json={"worker": {"name": "w1"}, "exports": [bad]},
                               headers=_auth("w1"))
        assert response.status_code == 400, bad
    assert db.session.get(FootageExport, job["id"]).status == "queued"
    # another worker cannot report this worker's job
    sync(client, "w2", exports=[{"id": job["id"], "state": "failed", "error": "x"}])
    db.session.expire_all()
    assert db.session.get(FootageExport, job["id"]).status == "queued"


def test_expired_exports_are_deleted_by_their_worker_and_logged(app: Flask, people: People) -> None:
    _auth.credentials.clear()
    client = app.test_client()
    cam = add_camera()
    sync(client, "w1")
    w1 = db.session.scalar(select(Worker).where(Worker.name == "w1"))
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    segments = index_segments(cam, w1, start, 3)
    request = approved_request(people, [cam.id], start, start + dt.timedelta(seconds=30))
    [job] = sync(client, "w1")["exports"]
    sync(client, "w1", exports=[{"id": job["id"], "state": "done", "output": job["output"], "bytes": 10,
                                 "sha256": "cd" * 32, "actual_start": job["start"], "actual_end": job["end"],
                                 "sources": [{"path": s.path, "bytes": 1, "sha256": "ef" * 32} for s in segments]}])
    db.session.expire_all()
    request = db.session.get(FootageRequest, request.id)
    assert request.status == "ready"
    later = request.expires_at + dt.timedelta(seconds=1)
    assert exports.tick(later) == {"expired": 1, "released": 0}  # the hold lasts until its own end date
    db.session.commit()
    assert sync(client, "w1")["expired_exports"] == [job["output"]]
    sync(client, "w1", deleted_exports=[job["output"]])
    db.session.expire_all()
    assert db.session.get(FootageExport, job["id"]).deleted_at is not None
    assert sync(client, "w1")["expired_exports"] == []
    hold = db.session.scalars(select(LegalHold)).one()
    hold.keep_until = later  # the hold's own end date passes
    db.session.commit()
    assert exports.tick(later + dt.timedelta(seconds=1))["released"] == 1
    db.session.commit()
    logged = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    for action in ("footage.export_expired", "footage.link_expired", "footage.export_deleted",
                   "footage.hold_released"):
        assert action in logged


@pytest.mark.postgres
def test_the_whole_footage_flow_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """Request, hold, approval, job, report, signed manifest, expiry and release on PostgreSQL."""
    from tests.footage.conftest import make_footage_app, make_user

    _auth.credentials.clear()
    app = make_footage_app(tmp_path, database_url=pg_url)
    with app.app_context():
        client = app.test_client()
        cam = add_camera()
        sync(client, "w1")
        w1 = db.session.scalar(select(Worker).where(Worker.name == "w1"))
        start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
        segments = index_segments(cam, w1, start, 4, skip=(2,))
        police, admin = make_user("police", "p.pg"), make_user("admin", "a.pg")
        request = asking.ask_police(police, [cam.id], start, start + dt.timedelta(seconds=40), case_number="PG/1",
                                    legal_basis="KUHAP", reason="postgres", now=utcnow())
        exports.approve(request, admin, "ok", utcnow())
        db.session.commit()
        reply = sync(client, "w1")
        assert len(reply["held_segments"]) == 3 and reply["holds"][0]["camera_id"] == cam.id
        [job] = reply["exports"]
        sync(client, "w1", exports=[{"id": job["id"], "state": "done", "output": job["output"], "bytes": 7,
                                     "sha256": "12" * 32, "actual_start": job["start"], "actual_end": job["end"],
                                     "sources": [{"path": s.path, "bytes": 1, "sha256": "34" * 32}
                                                 for s in segments]}])
        db.session.expire_all()
        request = db.session.get(FootageRequest, request.id)
        assert request.status == "ready"
        key = evidence.city_public_key(app.config["PANTAU"].evidence_key_path)
        assert evidence.verify(request.manifest.encode(), "12" * 32, key).ok
        assert [g["reason"] for g in request.exports[0].gaps] == ["not_recorded"]
        assert exports.tick(request.expires_at + dt.timedelta(days=400)) == {"expired": 1, "released": 1}
        db.session.commit()
        assert db.session.scalars(select(LegalHold)).one().released_at is not None
        db.session.remove()
        db.engine.dispose()
