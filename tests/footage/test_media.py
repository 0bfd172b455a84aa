"""Downloads through an expiring link for the requester only (X-Accel-Redirect, every download audited), the
archive timeline in the city's time zone and its HLS playlist, and cameras archived with their footage."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.cli import cli
from portal.footage import asking, exports, timeline
from portal.models import AuditEntry, Camera, DownloadLink, FootageExport, LegalHold, RecordingSegment, db, utcnow
from portal.models.footage import RequestStatus
from tests.footage.conftest import People, add_camera, add_worker, as_user, index_segments


def ready_request(app: Flask, people: People) -> tuple[DownloadLink, FootageExport]:
    cam = add_camera()
    worker = add_worker()
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    index_segments(cam, worker, start, 3)
    request = asking.ask_police(people.police, [cam.id], start, start + dt.timedelta(seconds=30), case_number="K/5",
                                legal_basis="KUHAP", reason="unduh", now=utcnow())
    exports.approve(request, people.admin, "ok", utcnow())
    export = request.exports[0]
    db.session.commit()
    exports.take_reports(worker, [{"id": export.id, "state": "done", "output": export.path, "bytes": 5,
                                   "sha256": "ab" * 32, "duration_s": 30.0, "actual_start": request.start_at,
                                   "actual_end": request.end_at, "sources": [], "missing": [],
                                   "ffmpeg_version": "5.1"}], utcnow())
    db.session.commit()
    assert request.status == RequestStatus.READY.value
    return db.session.scalars(select(DownloadLink)).one(), export


def test_downloads_go_through_nginx_for_the_requester_only_and_are_audited(tmp_path: Path, people: People,
                                                                           app: Flask) -> None:
    app.config["PANTAU"] = dataclasses.replace(app.config["PANTAU"], serve_media=False)  # nginx serves files
    link, export = ready_request(app, people)
    url = f"/unduh/{link.token}/{export.id}.mp4"
    page = as_user(app, people.police).get(f"/polisi/permintaan/{export.request_id}").get_data(as_text=True)
    assert url in page and f"/unduh/{link.token}/manifest.json" in page
    response = as_user(app, people.police).get(url)
    assert response.status_code == 200 and response.data == b""
    assert response.headers["X-Accel-Redirect"] == "/_protected/" + export.path
    assert response.headers["Content-Disposition"] == f'attachment; filename="{export.file_name}"'
    assert as_user(app, people.police2).get(url).status_code == 403  # a foreign link
    assert as_user(app, people.admin).get(url).status_code == 403
    assert app.test_client().get(url).status_code == 401
    assert as_user(app, people.police).get(f"/unduh/{'x' * 43}/{export.id}.mp4").status_code == 404
    manifest = as_user(app, people.police).get(f"/unduh/{link.token}/manifest.json")
    assert manifest.status_code == 200 and manifest.data == export.request.manifest.encode()
    link.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert as_user(app, people.police).get(url).status_code == 410
    rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action.in_(
        ("footage.downloaded", "footage.download_refused", "footage.manifest_downloaded"))).order_by(AuditEntry.id))
    seen = [(r.action, r.actor, r.detail.get("reason"), r.ip) for r in rows]
    assert seen == [
        ("footage.downloaded", "bripka.andi", None, "127.0.0.1"),
        ("footage.download_refused", "briptu.sari", "foreign_link", "127.0.0.1"),
        ("footage.download_refused", "bripka.andi", "unknown_link", "127.0.0.1"),
        ("footage.manifest_downloaded", "bripka.andi", None, "127.0.0.1"),
        ("footage.download_refused", "bripka.andi", "expired", "127.0.0.1"),
    ]


def test_timeline_of_a_day_in_the_city_time_zone_and_its_playlist(app: Flask, people: People) -> None:
    cam = add_camera(name="Tugu")
    worker = add_worker()
    # 00:00:00 WITA on 2026-11-20 is 16:00 UTC the day before
    local_midnight = dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC)
    index_segments(cam, worker, local_midnight + dt.timedelta(hours=10), 6, seconds=60, skip=(2,))
    stretches = timeline.stretches(cam.id, *timeline.day_bounds(dt.date(2026, 11, 20),
                                                                timeline.zoneinfo.ZoneInfo("Asia/Makassar")))
    shape = [(s.recorded, s.seconds) for s in stretches]
    assert shape == [(False, 36000.0), (True, 120.0), (False, 60.0), (True, 180.0), (False, 86400 - 36360.0)]
    police = as_user(app, people.police)
    page = police.get(f"/polisi/kamera/{cam.id}?tanggal=2026-11-20").get_data(as_text=True)
    assert "10:00:00" in page and "10:02:00" in page and 'data-recorded-seconds="300"' in page
    assert "WITA" in page and 'class="tl-gap"' in page
    fragment = police.get(f"/polisi/kamera/{cam.id}?tanggal=2026-11-21", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True) and "Tidak ada rekaman" in fragment.get_data(as_text=True)
    start = (local_midnight + dt.timedelta(hours=10, seconds=30)).isoformat()
    end = (local_midnight + dt.timedelta(hours=10, minutes=4)).isoformat()
    playlist = police.get(f"/polisi/kamera/{cam.id}/arsip.m3u8", query_string={"mulai": start, "selesai": end})
    text = playlist.get_data(as_text=True)
    assert playlist.mimetype == "application/vnd.apple.mpegurl" and text.startswith("#EXTM3U")
    assert text.count("#EXTINF:60.000,") == 3 and text.count("#EXT-X-DISCONTINUITY") == 2
    assert f'#EXT-X-MAP:URI="/media/recordings/{cam.id}/20261120/020000.mp4",BYTERANGE="100@0"' in text
    assert "#EXT-X-BYTERANGE:900@100" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    viewed = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "footage.archive_viewed")).one()
    assert viewed.actor == "bripka.andi" and viewed.detail["segments"] == 3
    assert app.test_client().get(f"/polisi/kamera/{cam.id}/arsip.m3u8").status_code == 401
    assert app.test_client().get("/_auth/arsip/1").status_code == 401
    assert police.get("/_auth/arsip/1").status_code == 204


def test_a_camera_is_archived_with_its_recordings_and_holds(app: Flask, people: People, tmp_path: Path) -> None:
    settings = app.config["PANTAU"]
    cam = add_camera(name="Lama")
    worker = add_worker()
    start = utcnow() - dt.timedelta(days=1)
    index_segments(cam, worker, start, 2)
    asking.ask_police(people.police, [cam.id], start, start + dt.timedelta(seconds=20), case_number="K/8",
                      legal_basis="KUHAP", reason="arsip", now=utcnow())
    db.session.commit()
    env = {"PANTAU_INSTANCE_PATH": settings.instance_path, "PANTAU_DATABASE_URL": settings.database_url,
           "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": "x"}
    done = CliRunner().invoke(cli, ["cameras", "remove", str(cam.id)], env=env)
    assert done.exit_code == 0 and "archived" in done.output
    db.session.expire_all()
    camera = db.session.get(Camera, cam.id)
    assert camera.archived_at is not None and not camera.enabled and not camera.public
    assert db.session.scalar(select(db.func.count()).select_from(RecordingSegment)) == 2
    assert db.session.scalars(select(LegalHold)).one().released_at is None
    page = as_user(app, people.police).get("/polisi/?q=Lama").get_data(as_text=True)
    assert "Lama" in page and "diarsipkan" in page
    assert app.test_client().get(f"/kamera/{cam.id}").status_code == 404


@pytest.mark.postgres
def test_postgresql_refuses_to_delete_a_camera_that_has_holds(pg_url: str, tmp_path: Path) -> None:
    from tests.footage.conftest import make_footage_app, make_user

    app = make_footage_app(tmp_path, database_url=pg_url)
    with app.app_context():
        cam = add_camera()
        police = make_user("police")
        asking.ask_police(police, [cam.id], utcnow() - dt.timedelta(hours=2), utcnow() - dt.timedelta(hours=1),
                          case_number="K/PG", legal_basis="KUHAP", reason="postgres", now=utcnow())
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(db.text("DELETE FROM cameras WHERE id = :id"), {"id": cam.id})
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(select(db.func.count()).select_from(LegalHold)) == 1
        db.session.remove()
        db.engine.dispose()
