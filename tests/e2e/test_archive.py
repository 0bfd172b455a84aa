"""Recording against a real worker: segments indexed, retention and the disk guard keep held footage."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from portal.models import LegalHold, RecordingSegment, Worker, db
from tests.e2e.conftest import Portal, Workers
from tests.e2e.test_live import add_camera, camera_status
from tests.support.tools import wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def old_segment(portal: Portal, camera_id: int, start: datetime, held: bool = False) -> Path:
    """A segment recorded long ago: the file on disk and its row in the index (and a hold if asked)."""
    rel = f"recordings/{camera_id}/{start:%Y%m%d}/{start:%H%M%S}.mp4"
    path = portal.media_root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 1000)
    end = start + timedelta(minutes=1)
    os.utime(path, (end.timestamp(), end.timestamp()))
    with portal.app.app_context():
        db.session.add(RecordingSegment(camera_id=camera_id, start_at=start, end_at=end, bytes=1000, path=rel))
        if held:
            db.session.add(LegalHold(camera_id=camera_id, start_at=start - timedelta(seconds=1),
                                     end_at=end + timedelta(seconds=1), reason="kasus 12/2026"))
        db.session.commit()
    return path


def deleted_paths(portal: Portal) -> set[str]:
    with portal.app.app_context():
        return set(db.session.scalars(select(RecordingSegment.path).where(RecordingSegment.deleted_at.is_not(None))))


def live_segments(portal: Portal, camera_id: int) -> list[RecordingSegment]:
    with portal.app.app_context():
        rows = list(db.session.scalars(select(RecordingSegment).where(
            RecordingSegment.camera_id == camera_id, RecordingSegment.deleted_at.is_(None))))
        db.session.expunge_all()
        return rows


def test_retention_deletes_expired_footage_but_keeps_held(portal: Portal, workers: Workers, rtsp) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1), retention_days=7)
    long_ago = datetime.now(UTC) - timedelta(days=40)
    expired = old_segment(portal, camera.id, long_ago)
    held = old_segment(portal, camera.id, long_ago + timedelta(minutes=5), held=True)
    recent = old_segment(portal, camera.id, datetime.now(UTC) - timedelta(days=2))
    workers.start("w1")
    wait_for(lambda: not expired.exists(), timeout=30, message="expired footage was not deleted")
    wait_for(lambda: str(expired.relative_to(portal.media_root)) in deleted_paths(portal), timeout=15,
             message="the portal's index was not told about the deletion")
    assert held.exists() and recent.exists()
    # Recording goes on: new segments are indexed with their real size and a path that exists.
    wait_for(lambda: any(s.start_at > long_ago + timedelta(days=39) for s in live_segments(portal, camera.id)),
             timeout=30, message="no new recording segment indexed")
    for seg in live_segments(portal, camera.id):
        if seg.start_at > datetime.now(UTC) - timedelta(hours=1):
            assert (portal.media_root / seg.path).stat().st_size == seg.bytes > 0
            assert seg.end_at > seg.start_at


def test_disk_guard_deletes_oldest_unheld_footage_and_says_so(portal: Portal, workers: Workers, rtsp) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1), retention_days=365)
    long_ago = datetime.now(UTC) - timedelta(days=20)
    oldest = old_segment(portal, camera.id, long_ago)
    held = old_segment(portal, camera.id, long_ago + timedelta(minutes=5), held=True)
    # A threshold above any real disk: the guard is active for as long as the worker runs.
    workers.start("w1", PANTAU_DISK_MIN_FREE_BYTES=str(2**62), PANTAU_HOUSEKEEPING_INTERVAL_S="1")
    wait_for(lambda: not oldest.exists(), timeout=30, message="the guard did not delete the oldest footage")
    wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.status == "online", timeout=30,
             message="camera not online")

    def guard_reported() -> bool:
        with portal.app.app_context():
            worker = db.session.scalar(select(Worker).where(Worker.name == "w1"))
            return bool(worker and worker.disk_guard_active and (worker.health or {}).get("disk_guard_deleted_total"))

    wait_for(guard_reported, timeout=20, message="the portal does not know the guard is active")
    # New footage is deleted too once finished (there is never enough room), but the held segment stays.
    wait_for(lambda: any(p.startswith(f"recordings/{camera.id}/") and not p.endswith(oldest.name)
                         for p in deleted_paths(portal)), timeout=40, message="new footage not deleted by the guard")
    assert held.exists()
    with portal.app.app_context():
        assert LegalHold.query.count() == 1


def test_worker_metrics_endpoint(portal: Portal, workers: Workers, rtsp) -> None:  # type: ignore[no-untyped-def]
    from tests.support.tools import free_port

    sim = rtsp(cameras=2)
    cams = [add_camera(portal, sim.url(i), name=f"C{i}") for i in (1, 2)]
    port = free_port()
    workers.start("w1", PANTAU_WORKER_METRICS=f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}/metrics"

    def running() -> str | None:
        text = requests.get(url, timeout=5).text
        return text if 'state="running"} 2' in text else None

    text = wait_for(running, timeout=40, message="metrics never showed two running cameras")
    for cam in cams:
        line = next(x for x in text.splitlines()
                    if x.startswith(f'pantau_worker_newest_segment_age_seconds{{worker="w1",camera="{cam.id}"}}'))
        assert float(line.split()[-1]) < 10
    assert "pantau_worker_disk_free_bytes" in text and "pantau_worker_camera_restarts_total" in text
    assert "secret" not in text and "rtsp://" not in text
