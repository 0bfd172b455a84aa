"""Health summary and Prometheus metrics of the portal."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient

from portal.models import Worker, db
from tests.conftest import WorkerAuth, add_camera


def test_health_counts_cameras_and_workers(client: FlaskClient, worker_auth: WorkerAuth) -> None:
    auth = worker_auth("media-1")
    a = add_camera(name="A")
    add_camera(name="B")
    add_camera(name="C", enabled=False)
    body = {
        "worker": {"name": "media-1", "disk_free_bytes": 5_000, "disk_guard_active": True,
                   "health": {"restarts_total": 4}},
        "cameras": [],
    }
    client.post("/api/worker/v1/sync", json=body, headers=auth)
    body["cameras"] = [{"id": a.id, "status": "online"}]
    client.post("/api/worker/v1/sync", json=body, headers=auth)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'pantau_cameras{status="online"} 1' in text
    assert 'pantau_cameras{status="unknown"} 1' in text
    assert 'pantau_cameras{status="disabled"} 1' in text
    assert 'pantau_worker_up{worker="media-1"} 1' in text
    assert 'pantau_worker_cameras{worker="media-1"} 2' in text
    assert "pantau_disk_guard_active 1" in text
    # The worker goes quiet: its cameras count as offline once its lease period has passed.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    db.session.query(Worker).update({"last_seen_at": past})
    from portal.models import CameraStatus

    db.session.query(CameraStatus).update({"updated_at": past})
    db.session.commit()
    text = client.get("/metrics").get_data(as_text=True)
    assert 'pantau_cameras{status="offline"} 1' in text
    assert 'pantau_worker_up{worker="media-1"} 0' in text
