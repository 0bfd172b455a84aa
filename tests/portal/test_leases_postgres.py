"""Leases on PostgreSQL: many workers syncing at once never share a camera."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path

import pytest

from portal.models import Camera, CameraLease, db
from tests.conftest import issue_credential, make_settings, migrated_app


@pytest.mark.postgres
def test_concurrent_syncs_lease_each_camera_to_exactly_one_worker(tmp_path: Path, pg_url: str) -> None:
    app = migrated_app(make_settings(tmp_path, database_url=pg_url, lease_seconds=30))
    with app.app_context():
        db.session.add_all(
            Camera(name=f"c{i}", latitude=-3.9, longitude=122.5, source_url=f"rtsp://127.0.0.1:9/cam{i}")
            for i in range(40)
        )
        db.session.commit()
        auth = {name: {"Authorization": f"Bearer {issue_credential(name)}"} for name in (f"w{i}" for i in range(4))}

    workers = [f"w{i}" for i in range(4)]
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def run(name: str) -> None:
        try:
            client = app.test_client()
            # Everyone announces itself first, so fair shares are computed over four workers.
            client.post("/api/worker/v1/sync", json={"worker": {"name": name, "capacity": 0}}, headers=auth[name])
            barrier.wait(timeout=30)
            for _ in range(3):
                response = client.post("/api/worker/v1/sync", json={"worker": {"name": name}}, headers=auth[name])
                assert response.status_code == 200, response.data
                results[name] = [c["id"] for c in response.json["cameras"]]
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    counts = Counter(cid for ids in results.values() for cid in ids)
    assert all(n == 1 for n in counts.values()), counts
    assert len(counts) == 40
    assert all(len(ids) == 10 for ids in results.values()), {k: len(v) for k, v in results.items()}

    # One worker dies: once its leases expire, the others take its cameras on their next syncs.
    with app.app_context():
        dead = results["w0"]
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=31)
        for lease in db.session.query(CameraLease).filter(CameraLease.camera_id.in_(dead)):
            lease.expires_at = past
        from portal.models import Worker

        db.session.query(Worker).filter_by(name="w0").update({"last_seen_at": past})
        db.session.commit()
    client = app.test_client()
    taken: list[int] = []
    for name in workers[1:]:
        response = client.post("/api/worker/v1/sync", json={"worker": {"name": name}}, headers=auth[name])
        taken += [c["id"] for c in response.json["cameras"]]
    assert sorted(taken) == list(range(1, 41))
    with app.app_context():
        db.engine.dispose()
