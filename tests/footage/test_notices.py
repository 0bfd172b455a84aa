"""The requester is told: an e-mail through the dispatch outbox (``pantau jobs`` delivers it to a real SMTP server,
aiosmtpd) when an admin approves or rejects a request and when its export is ready, in the requester's language,
with a link to the request's page and never a download token; shown on the request's page and in the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from sqlalchemy import select

from portal.dispatch import delivery
from portal.footage import asking
from portal.models import AuditEntry, DownloadLink, FootageRequest, OutboxMessage, db, utcnow
from tests.dispatch.conftest import Mailbox
from tests.footage.conftest import add_camera, as_user, index_segments, make_footage_app, make_user
from tests.footage.test_worker_sync import _auth, sync
from tests.support.tools import wait_for


@pytest.fixture()
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture()
def app(tmp_path: Path, mailbox: Mailbox) -> Iterator[Flask]:
    application = make_footage_app(tmp_path, smtp_port=mailbox.port, public_url="https://cctv.kendarikota.go.id")
    application.config["WTF_CSRF_ENABLED"] = False
    application.before_request(lambda: None if g.pop("_flask_babel", None) else None)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def deliver(mailbox: Mailbox, count: int) -> list[Any]:
    """Run the jobs process's delivery (as ``pantau jobs`` does) until ``count`` e-mails arrived."""
    claimer = delivery.new_claimer()

    def arrived() -> bool:
        delivery.run_once(claimer)
        return len(mailbox.messages) >= count

    wait_for(arrived, timeout=15, message=f"{count} e-mails did not arrive")
    return mailbox.messages


def ask(police: Any, camera_id: int, start: dt.datetime, end: dt.datetime, case: str) -> FootageRequest:
    request = asking.ask_police(police, [camera_id], start, end, case_number=case, legal_basis="KUHAP pasal 5",
                                reason="Pencurian sepeda motor di depan pasar", now=utcnow(), actor=police.username)
    db.session.commit()
    return request


def emailed() -> list[tuple[str, str]]:
    return [(e.detail["event"], e.detail["to"]) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "footage.requester_emailed").order_by(AuditEntry.id))]


def test_a_rejection_is_mailed_in_indonesian_without_secrets_and_shown_on_the_page(app: Flask,
                                                                                   mailbox: Mailbox) -> None:
    police = make_user("police", "bripka.andi")
    police.email = "andi@127.0.0.1"
    admin = make_user("admin", "admin.dina")
    db.session.commit()
    cam = add_camera(name="Pasar Baru")
    end = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    request = ask(police, cam.id, end - dt.timedelta(minutes=5), end, "LP/B/123/XI/2026")
    response = as_user(app, admin).post(f"/admin/rekaman/{request.id}/putuskan",
                                        data={"verdict": "reject", "note": "Tanpa surat perintah penyitaan."})
    assert response.status_code == 303
    assert emailed() == [("rejected", "andi@127.0.0.1")]
    [mail] = deliver(mailbox, 1)
    assert mail["To"] == "andi@127.0.0.1" and mail["From"] == app.config["PANTAU"].mail_from
    assert mail["Subject"] == (f"[Pantau] Permintaan rekaman {request.id} ditolak "
                               "(LP/B/123/XI/2026)")
    text = mail.get_content()
    assert "Tanpa surat perintah penyitaan." in text and "Pasar Baru" in text
    assert f"https://cctv.kendarikota.go.id/polisi/permintaan/{request.id}" in text
    assert "WITA" in text  # the city's time
    assert app.config["PANTAU"].secret_key not in text
    row = db.session.scalars(select(OutboxMessage)).one()
    assert row.status == "sent" and row.footage_request_id == request.id and row.kind == "email"
    for client, path in ((as_user(app, police), f"/polisi/permintaan/{request.id}"),
                         (as_user(app, admin), f"/admin/rekaman/{request.id}")):
        page = client.get(path).get_data(as_text=True)
        assert 'data-notice-status="sent"' in page and "andi@127.0.0.1" in page and "terkirim" in page, path
    audit = as_user(app, admin).get("/admin/audit?action=footage.requester_emailed").get_data(as_text=True)
    assert "footage.requester_emailed" in audit and "andi@127.0.0.1" in audit


def test_approval_and_the_ready_export_are_mailed_in_the_requesters_language(app: Flask,
                                                                             mailbox: Mailbox) -> None:
    _auth.credentials.clear()
    police = make_user("police", "briptu.sari")
    police.email, police.locale = "sari@127.0.0.1", "en"
    admin = make_user("admin", "admin.rudi")
    quiet = make_user("police", "bripda.tono")  # no e-mail address: told on the portal only
    db.session.commit()
    client = app.test_client()
    cam = add_camera(name="Simpang Empat")
    sync(client, "w1")
    from portal.models import Worker

    w1 = db.session.scalar(select(Worker).where(Worker.name == "w1"))
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    index_segments(cam, w1, start, 6)
    request = ask(police, cam.id, start + dt.timedelta(seconds=5), start + dt.timedelta(seconds=55), "LP/7/2026")
    assert as_user(app, admin).post(f"/admin/rekaman/{request.id}/putuskan",
                                    data={"verdict": "approve", "note": "Sesuai surat perintah."}).status_code == 303
    [approved] = deliver(mailbox, 1)
    assert approved["To"] == "sari@127.0.0.1"
    assert approved["Subject"] == f"[Pantau] Footage request {request.id} was approved (LP/7/2026)"
    assert "Sesuai surat perintah." in approved.get_content()

    [job] = sync(client, "w1")["exports"]
    sources = [{"path": s["path"], "bytes": 1000, "sha256": f"{n:064x}"} for n, s in enumerate(job["sources"])]
    sync(client, "w1", exports=[{"id": job["id"], "state": "done", "progress": 1, "output": job["output"],
                                 "bytes": 4321, "sha256": "ab" * 32, "duration_s": 50.0,
                                 "actual_start": job["start"], "actual_end": job["end"], "sources": sources,
                                 "missing": [], "ffmpeg_version": "5.1.9"}])
    db.session.expire_all()
    assert db.session.get(FootageRequest, request.id).status == "ready"
    ready = deliver(mailbox, 2)[1]
    assert ready["To"] == "sari@127.0.0.1"
    assert ready["Subject"] == (f"[Pantau] Footage of request {request.id} is ready to download "
                                "(LP/7/2026)")
    text = ready.get_content()
    link = db.session.scalars(select(DownloadLink)).one()
    assert link.token not in text and "/unduh" not in text and "ab" * 32 not in text
    assert f"https://cctv.kendarikota.go.id/polisi/permintaan/{request.id}" in text
    assert "sign-in" in text
    assert emailed() == [("approved", "sari@127.0.0.1"), ("ready", "sari@127.0.0.1")]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "footage.requester_emailed")).first()
    assert entry is not None and entry.actor == "system" and entry.target_id == str(request.id)

    # a requester without an address is told on the portal, and no e-mail is written
    other = ask(quiet, cam.id, start + dt.timedelta(seconds=5), start + dt.timedelta(seconds=15), "LP/8/2026")
    as_user(app, admin).post(f"/admin/rekaman/{other.id}/putuskan", data={"verdict": "reject", "note": "tidak"})
    assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 2
    page = as_user(app, admin).get(f"/admin/rekaman/{other.id}").get_data(as_text=True)
    assert "tidak punya alamat e-mail" in page
