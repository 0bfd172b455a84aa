"""Police requests: held at once, decided by another admin with a note, every step audited, the requester told."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal.models import AuditEntry, FootageRequest, LegalHold, db, utcnow
from portal.models.footage import REQUEST_TRANSITIONS, RequestStatus, TransitionError
from tests.footage.conftest import People, add_camera, add_worker, as_user, index_segments

LOCAL = dt.timezone(dt.timedelta(hours=8))  # Asia/Makassar


def local_input(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M:%S")


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def ask(app: Flask, people: People, cameras: list[int], start: dt.datetime, end: dt.datetime, **extra: str):  # type: ignore[no-untyped-def]
    form = {"cameras": [str(c) for c in cameras], "start": local_input(start), "end": local_input(end),
            "case_number": "LP/B/123/XI/2026/Polresta", "legal_basis": "KUHAP pasal 5",
            "reason": "Pencurian sepeda motor di depan pasar, butuh rekaman untuk penyidikan.", **extra}
    return as_user(app, people.police).post("/polisi/permintaan/baru", data=form)


def test_asking_holds_the_footage_at_once(app: Flask, people: People) -> None:
    cams = [add_camera(name="Pasar Baru"), add_camera(name="Simpang Empat")]
    end = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    start = end - dt.timedelta(minutes=30)
    response = ask(app, people, [c.id for c in cams], start, end)
    assert response.status_code == 303, response.get_data(as_text=True)
    request = db.session.scalars(select(FootageRequest)).one()
    assert request.status == "pending" and [c.name for c in request.cameras] == ["Pasar Baru", "Simpang Empat"]
    holds = db.session.scalars(select(LegalHold).order_by(LegalHold.camera_id)).all()
    assert [(h.camera_id, h.start_at, h.end_at, h.kind) for h in holds] == [
        (c.id, start, end, "police") for c in cams]
    assert all(h.released_at is None and h.footage_request_id == request.id for h in holds)
    assert actions() == ["footage.request_created"]
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.actor == "bripka.andi" and entry.actor_user_id == people.police.id and entry.ip == "127.0.0.1"
    page = as_user(app, people.police).get(response.headers["Location"]).get_data(as_text=True)
    assert "LP/B/123/XI/2026/Polresta" in page and "menunggu keputusan" in page


@pytest.mark.parametrize("change, field, message", [
    ({"hours": 25}, "end", "Paling lama 24 jam"),
    ({"future": True}, "end", "waktu yang sudah lewat"),
    ({"backwards": True}, "end", "harus setelah"),
])
def test_bad_requests_are_refused_in_indonesian_and_store_nothing(app: Flask, people: People, change: dict,  # type: ignore[type-arg]
                                                                  field: str, message: str) -> None:
    cam = add_camera()
    end = utcnow() - dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=change.get("hours", 1))
    if change.get("future"):
        end = utcnow() + dt.timedelta(hours=2)
    if change.get("backwards"):
        start, end = end, start
    response = ask(app, people, [cam.id], start, end)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalar(select(FootageRequest.id)) is None and db.session.scalar(select(LegalHold.id)) is None
    english = as_user(app, people.police).post("/polisi/permintaan/baru?lang=en", data={"cameras": [str(cam.id)]})
    assert english.status_code == 400 and "Case number" in english.get_data(as_text=True)


def test_nobody_approves_their_own_request_and_a_second_admin_decides(app: Flask, people: People) -> None:
    cam = add_camera()
    worker = add_worker()
    end = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    index_segments(cam, worker, end - dt.timedelta(minutes=2), 12)
    # an admin asks (admins may not use the police pages, so through the service)
    from portal.footage import asking

    request = asking.ask_police(people.admin, [cam.id], end - dt.timedelta(minutes=2), end, case_number="K/1",
                                legal_basis="KUHAP", reason="uji coba persetujuan", now=utcnow(), actor="admin.dina")
    db.session.commit()
    own = as_user(app, people.admin).post(f"/admin/rekaman/{request.id}/putuskan",
                                          data={"verdict": "approve", "note": "setuju"})
    assert own.status_code == 409 and "admin lain" in own.get_data(as_text=True)
    db.session.refresh(request)
    assert request.status == "pending"
    page = as_user(app, people.admin).get(f"/admin/rekaman/{request.id}").get_data(as_text=True)
    assert "permintaan Anda sendiri" in page and 'value="approve"' not in page
    no_note = as_user(app, people.admin2).post(f"/admin/rekaman/{request.id}/putuskan", data={"verdict": "approve"})
    assert no_note.status_code == 400 and db.session.get(FootageRequest, request.id).status == "pending"
    done = as_user(app, people.admin2).post(f"/admin/rekaman/{request.id}/putuskan",
                                            data={"verdict": "approve", "note": "Sesuai surat perintah."})
    assert done.status_code == 303
    db.session.expire_all()
    request = db.session.get(FootageRequest, request.id)
    assert request.status == "approved" and request.decided_by_id == people.admin2.id
    assert request.decision_note == "Sesuai surat perintah." and request.requester_seen_at is None
    assert [(e.camera_id, e.worker_id, e.status) for e in request.exports] == [(cam.id, worker.id, "queued")]
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "footage.request_approved")).all()
    assert [(e.actor, e.target_id, e.detail["note"]) for e in entries] == [
        ("admin.rudi", str(request.id), "Sesuai surat perintah.")]
    again = as_user(app, people.admin2).post(f"/admin/rekaman/{request.id}/putuskan",
                                             data={"verdict": "reject", "note": "terlambat"})
    assert again.status_code == 409


def test_rejection_releases_the_holds_and_tells_the_requester(app: Flask, people: People) -> None:
    cam = add_camera()
    end = utcnow() - dt.timedelta(hours=1)
    assert ask(app, people, [cam.id], end - dt.timedelta(minutes=5), end).status_code == 303
    request = db.session.scalars(select(FootageRequest)).one()
    response = as_user(app, people.admin).post(f"/admin/rekaman/{request.id}/putuskan",
                                               data={"verdict": "reject", "note": "Tanpa surat perintah."})
    assert response.status_code == 303
    db.session.expire_all()
    hold = db.session.scalars(select(LegalHold)).one()
    assert hold.released_at is not None and hold.release_reason == "request rejected"
    police = as_user(app, people.police)
    listing = police.get("/polisi/permintaan").get_data(as_text=True)
    assert 'class="unseen"' in listing and "ditolak" in listing
    assert '<span class="badge">1</span>' in police.get("/kamera").get_data(as_text=True)  # told on every page
    assert "Tanpa surat perintah." in police.get(f"/polisi/permintaan/{request.id}").get_data(as_text=True)
    assert 'class="unseen"' not in police.get("/polisi/permintaan").get_data(as_text=True)
    assert 'class="badge"' not in police.get("/kamera").get_data(as_text=True)
    assert actions() == ["footage.request_created", "footage.request_rejected", "footage.hold_released"]


def test_only_the_requester_sees_and_withdraws_a_request(app: Flask, people: People) -> None:
    cam = add_camera()
    end = utcnow() - dt.timedelta(hours=1)
    ask(app, people, [cam.id], end - dt.timedelta(minutes=5), end)
    request = db.session.scalars(select(FootageRequest)).one()
    assert as_user(app, people.police2).get(f"/polisi/permintaan/{request.id}").status_code == 404
    assert as_user(app, people.police2).post(f"/polisi/permintaan/{request.id}/batal").status_code == 404
    assert app.test_client().get(f"/polisi/permintaan/{request.id}").status_code == 401
    assert as_user(app, people.admin).get("/polisi/").status_code == 403
    assert as_user(app, people.police).get("/admin/rekaman/").status_code == 403
    assert as_user(app, people.police).post(f"/polisi/permintaan/{request.id}/batal").status_code == 303
    db.session.expire_all()
    assert db.session.get(FootageRequest, request.id).status == "cancelled"
    assert db.session.scalars(select(LegalHold)).one().released_at is not None


def test_admin_releases_a_hold_only_with_a_reason(app: Flask, people: People) -> None:
    cam = add_camera()
    end = utcnow() - dt.timedelta(hours=1)
    ask(app, people, [cam.id], end - dt.timedelta(minutes=5), end)
    hold = db.session.scalars(select(LegalHold)).one()
    admin = as_user(app, people.admin)
    assert admin.post(f"/admin/rekaman/tahanan/{hold.id}/lepas", data={"reason": ""}).status_code == 303
    db.session.expire_all()
    assert db.session.get(LegalHold, hold.id).released_at is None
    assert as_user(app, people.police).post(f"/admin/rekaman/tahanan/{hold.id}/lepas",
                                            data={"reason": "tidak perlu"}).status_code == 403
    assert admin.post(f"/admin/rekaman/tahanan/{hold.id}/lepas",
                      data={"reason": "Kasus dihentikan (SP3)."}).status_code == 303
    db.session.expire_all()
    released = db.session.get(LegalHold, hold.id)
    assert released.released_by_id == people.admin.id and released.release_reason == "Kasus dihentikan (SP3)."
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "footage.hold_released")).one()
    assert entry.actor == "admin.dina" and entry.detail["reason"] == "Kasus dihentikan (SP3)."
    assert "Kasus dihentikan" in admin.get("/admin/rekaman/tahanan?semua=1").get_data(as_text=True)


def test_statuses_move_only_by_their_table_and_the_database_refuses_others(app: Flask, people: People) -> None:
    cam = add_camera()
    now = utcnow()
    request = FootageRequest(case_number="K/2", requester_id=people.police.id, start_at=now - dt.timedelta(hours=1),
                             end_at=now)
    request.cameras = [cam]
    db.session.add(request)
    db.session.commit()
    for state, targets in REQUEST_TRANSITIONS.items():
        for wanted in RequestStatus:
            request.status = state.value
            if wanted in targets:
                request.move(wanted)
                assert request.status == wanted.value
            else:
                with pytest.raises(TransitionError):
                    request.move(wanted)
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE footage_requests SET status = 'lost' WHERE id = :id"), {"id": request.id})
        db.session.commit()
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE legal_holds SET kind = 'forever'"))
        db.session.execute(text("INSERT INTO legal_holds (camera_id, start_at, end_at, kind, reason, created_at, "
                                "release_reason) VALUES (:c, :s, :e, 'forever', '', :s, '')"),
                           {"c": cam.id, "s": now.replace(tzinfo=None), "e": now.replace(tzinfo=None)})
        db.session.commit()
    db.session.rollback()
