"""Through the project's real nginx: downloads of exported footage and archived segments for playback come
from disk after the portal checked the person (X-Accel-Redirect, auth_request); expired and foreign links,
anonymous viewers and direct file paths are refused."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from portal.footage import asking, exports
from portal.footage.evidence import sha256_file
from portal.models import AuditEntry, DownloadLink, FootageExport, RecordingSegment, db, utcnow
from tests.e2e.conftest import serve
from tests.footage.conftest import add_camera, add_worker, make_footage_app, make_user, session_cookie
from tests.support.nginx import NginxServer
from tests.support.recordings import make_segments
from tests.support.tools import require_tool
from transcoder.export import ExportJob, Report, run_export

pytestmark = [pytest.mark.nginx]


@dataclass
class Stack:
    app: Flask
    web: NginxServer
    media: Path


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[Stack]:
    nginx = require_tool("/usr/sbin/nginx", reason="the front door is nginx")
    ffmpeg = require_tool("ffmpeg", reason="the export is cut by ffmpeg")
    app = make_footage_app(tmp_path, serve_media=False, proxy_count=1)
    server, url = serve(app)
    media = app.config["PANTAU"].media_path
    try:
        with NginxServer(upstream=url.removeprefix("http://"), media_root=media, runtime_dir=tmp_path / "nginx",
                         nginx=nginx) as web:
            yield Stack(app, web, media)
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()
    assert ffmpeg




def test_downloads_and_archive_playback_through_nginx(stack: Stack) -> None:
    with stack.app.app_context():
        police, other, admin = make_user("police", "bripka.andi"), make_user("police"), make_user("admin")
        cam = add_camera(name="Pasar", public=False)
        worker = add_worker("w1")
        start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
        made = make_segments(stack.media, cam.id, start, 3, seconds=4)
        for path, a, b, size, init in made:
            db.session.add(RecordingSegment(camera_id=cam.id, worker_id=worker.id, path=path, start_at=a, end_at=b,
                                            bytes=size, init_bytes=init))
        db.session.commit()
        request = asking.ask_police(police, [cam.id], start, start + dt.timedelta(seconds=12), case_number="K/NG",
                                    legal_basis="KUHAP", reason="lewat nginx", now=utcnow())
        exports.approve(request, admin, "ok", utcnow())
        db.session.commit()
        [job] = exports.jobs_for(worker)
        report = run_export(ExportJob.from_api(job), stack.media, require_tool("ffmpeg", reason="export"),
                            Report(job["id"], job["output"]))
        exports.take_reports(worker, [{**report.to_api(), "actual_start": report.actual_start,
                                       "actual_end": report.actual_end}], utcnow())
        db.session.commit()
        link = db.session.scalars(select(DownloadLink)).one()
        export = db.session.get(FootageExport, job["id"])
        url = stack.web.url(f"/unduh/{link.token}/{export.id}.mp4")
        file = stack.media / export.path
        cookies = [{"Cookie": session_cookie(stack.app, u)} for u in (police, other, admin)]
        first_segment = made[0][0]
        camera_id, export_path, export_name = cam.id, export.path, export.file_name
    as_police, as_other, as_admin = cookies
    got = requests.get(url, headers=as_police, timeout=10)
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == sha256_file(file)
    assert got.headers["Content-Type"] == "video/mp4" and "attachment" in got.headers["Content-Disposition"]
    assert "X-Accel-Redirect" not in got.headers
    part = requests.get(url, headers={**as_police, "Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and part.content == file.read_bytes()[:100]
    assert requests.get(url, headers=as_other, timeout=10).status_code == 403  # a foreign link
    assert requests.get(url, headers=as_admin, timeout=10).status_code == 403
    anonymous = requests.get(url, timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302 and "/masuk" in anonymous.headers["Location"]  # sign in first
    for direct in (f"/media/{export_path}", f"/_protected/{export_path}", f"/media/exports/{export_name}"):
        response = requests.get(stack.web.url(direct), headers=as_police, timeout=10)
        assert response.status_code == 404 and response.content != file.read_bytes()[: len(response.content)]
    # archived playback: the playlist from the portal, byte ranges of the segments from disk
    playlist = requests.get(stack.web.url(f"/polisi/kamera/{camera_id}/arsip.m3u8"), headers=as_police,
                            params={"mulai": made[0][1].isoformat(), "selesai": made[-1][2].isoformat()}, timeout=10)
    assert playlist.status_code == 200 and playlist.text.count("#EXTINF") == 3
    segment = stack.web.url(f"/media/{first_segment}")
    assert f"/media/{first_segment}" in playlist.text
    head = requests.get(segment, headers={**as_police, "Range": f"bytes=0-{made[0][4] - 1}"}, timeout=10)
    assert head.status_code == 206 and head.content[4:8] == b"ftyp" and len(head.content) == made[0][4]
    assert requests.get(segment, timeout=10).status_code == 401  # anonymous, even right after a police view
    assert requests.get(segment, headers=as_admin, timeout=10).status_code == 403
    assert requests.get(stack.web.url(f"/media/recordings/{camera_id}/x.mp4"), timeout=10).status_code == 404
    # an expired link, and every download in the audit log with who and from where
    with stack.app.app_context():
        row = db.session.scalars(select(DownloadLink)).one()
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    assert requests.get(url, headers=as_police, timeout=10).status_code == 410
    with stack.app.app_context():
        audit = [(e.action, e.actor, e.detail.get("reason"), e.ip) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("footage.download%")).order_by(AuditEntry.id))]
    assert audit[0] == ("footage.downloaded", "bripka.andi", None, "127.0.0.1")
    assert ("footage.download_refused", "bripka.andi", "expired", "127.0.0.1") in audit
    assert [a[2] for a in audit if a[0] == "footage.download_refused"].count("foreign_link") == 1
