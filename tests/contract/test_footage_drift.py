"""Holds and export jobs (worker API revision 2): what the portal sends is what the worker reads, and what the
worker reports is what the portal stores. Runs the real exporter on real segments."""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from contract import worker_api
from portal.footage import asking, exports
from portal.models import FootageExport, RecordingSegment, Worker, db, utcnow
from tests.conftest import WorkerAuth
from tests.footage.conftest import add_camera, make_footage_app, make_user
from tests.support.recordings import make_segments
from tests.support.tools import require_tool, wait_for
from transcoder.export import Exporter, ExportJob, Report
from transcoder.holds import HoldList
from transcoder.recordings import Segment


def test_holds_jobs_and_reports_agree_between_the_planes(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg", reason="the exporter runs ffmpeg")
    app: Flask = make_footage_app(tmp_path / "portal")
    auth = WorkerAuth()
    media = tmp_path / "media"
    with app.app_context():
        client = app.test_client()
        cam = add_camera()

        def sync(**body: Any) -> dict[str, Any]:
            response = client.post(worker_api.SYNC_PATH, json={"worker": {"name": "w"}, **body}, headers=auth("w"))
            assert response.status_code == 200, response.get_json()
            return response.get_json()  # type: ignore[no-any-return]

        sync()
        start = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
        made = make_segments(media, cam.id, start, 3, seconds=4)
        segments = [Segment(cam.id, a, b, size, path, init) for path, a, b, size, init in made]
        assert set(segments[0].to_api()) == set(worker_api.SEGMENT_FIELDS)
        assert sync(segments=[s.to_api() for s in segments])["acknowledged_segments"] == 3
        assert {r.init_bytes for r in db.session.scalars(select(RecordingSegment))} == {made[0][4]}
        police, admin = make_user("police"), make_user("admin")
        request = asking.ask_police(police, [cam.id], start + dt.timedelta(seconds=1), start + dt.timedelta(seconds=11),
                                    case_number="K/1", legal_basis="KUHAP", reason="drift", now=utcnow())
        exports.approve(request, admin, "ok", utcnow())
        db.session.commit()
        reply = sync()
        assert set(reply["holds"][0]) == set(worker_api.HOLD_FIELDS)
        assert set(reply["exports"][0]) == set(worker_api.EXPORT_JOB_FIELDS)
        assert set(reply["exports"][0]["sources"][0]) == set(worker_api.EXPORT_SOURCE_FIELDS)
        held = HoldList.from_api(reply["held_segments"], reply["holds"])
        assert all(s.path in held for s in segments)
        job = ExportJob.from_api(reply["exports"][0])
        assert {f.name for f in dataclasses.fields(Report)} == set(worker_api.EXPORT_REPORT_FIELDS)
        pool = ThreadPoolExecutor(1)
        exporter = Exporter(media, ffmpeg, pool)
        exporter.apply(reply["exports"], [])
        wait_for(lambda: exporter.body()[0][0]["state"] == "done", timeout=30, message="export not done")
        reports, _deleted, receipt = exporter.body()
        assert set(reports[0]) == set(worker_api.EXPORT_REPORT_FIELDS)
        assert set(reports[0]["sources"][0]) == set(worker_api.EXPORT_SOURCE_REPORT_FIELDS)
        assert sync(exports=reports)["exports"] == []
        exporter.delivered(receipt)
        export = db.session.get(FootageExport, job.id)
        assert export.status == "done" and export.sha256 == reports[0]["sha256"]
        assert db.session.scalar(select(Worker.name).where(Worker.id == export.worker_id)) == "w"
        pool.shutdown(wait=True)
        db.session.remove()
        db.engine.dispose()
