"""The worker API: credentials, leases, status, segments and legal holds."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from contract import worker_api
from portal.models import Camera, CameraLease, CameraStatus, LegalHold, RecordingSegment, Worker, db
from portal.workers import credentials
from tests.conftest import WorkerAuth, add_camera

_auth = WorkerAuth()


@pytest.fixture(autouse=True)
def _fresh_credentials(app: Flask) -> None:
    _auth.credentials.clear()


def sync(client: FlaskClient, name: str = "w1", **body: object):  # type: ignore[no-untyped-def]
    payload = {"worker": {"name": name, "capacity": 200}, **body}
    return client.post("/api/worker/v1/sync", json=payload, headers=_auth(name))


def test_missing_wrong_or_revoked_credential_is_refused(client: FlaskClient) -> None:
    add_camera()
    body = {"worker": {"name": "w1"}}
    good = _auth("w1")
    token = good["Authorization"].split()[1]
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": token},
                    {"Authorization": "Bearer " + token[:-1]}, {"Authorization": "Bearer " + token + "x" * 300}):
        response = client.post("/api/worker/v1/sync", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json == {"error": "unauthorized"}
        assert b"s3cret" not in response.data
    assert client.get("/api/worker/v1/ping").status_code == 401
    assert client.get("/api/worker/v1/ping", headers=good).json == {"api_version": 1, "worker": "w1"}
    assert db.session.query(Worker).one().last_seen_at < dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    assert sync(client, "w1").status_code == 200
    credentials.revoke("w1")
    db.session.commit()
    assert client.post("/api/worker/v1/sync", json=body, headers=good).status_code == 401


def test_only_the_hash_of_a_credential_is_stored(client: FlaskClient) -> None:
    token = _auth("w1")["Authorization"].split()[1]
    row = db.session.query(Worker).one()
    assert token.startswith("pantau_w1_") and len(token) > 40
    assert row.credential_hash == hashlib.sha256(token.encode()).hexdigest()
    dumped = json.dumps([str(v) for v in row.__dict__.values()])
    assert token not in dumped


def test_a_sync_speaks_only_for_the_worker_whose_credential_it_carries(client: FlaskClient) -> None:
    cam = add_camera()
    assert [c["id"] for c in sync(client, "w1").json["cameras"]] == [cam.id]
    # w2's credential with w1's name in the body: it is w2 speaking, and w1's camera stays w1's
    response = client.post("/api/worker/v1/sync", json={"worker": {"name": "w1"}}, headers=_auth("w2"))
    assert response.status_code == 200
    assert response.json["worker_name"] == "w2" and response.json["cameras"] == []
    assert "s3cret" not in response.get_data(as_text=True)
    assert db.session.get(CameraLease, cam.id).worker.name == "w1"
    assert {w.name for w in db.session.query(Worker)} == {"w1", "w2"}


def test_a_leaving_worker_frees_its_cameras_for_the_others_at_once(client: FlaskClient) -> None:
    cams = [add_camera(name=f"C{i}") for i in range(4)]
    assert len(sync(client, "w1").json["cameras"]) == 4
    assert sync(client, "w2").json["cameras"] == []  # w1 holds more than its share: it sheds on its next sync
    assert len(sync(client, "w1").json["cameras"]) == 2
    assert len(sync(client, "w2").json["cameras"]) == 2
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    mine = sorted(c["id"] for c in sync(client, "w1").json["cameras"])
    last = {"camera_id": mine[0], "path": f"recordings/{mine[0]}/last.mp4", "start": t0.isoformat(),
            "end": (t0 + dt.timedelta(seconds=50)).isoformat(), "bytes": 10}
    # w1 goes (its last sync at a clean stop, or its watcher's farewell): the segment it carries is indexed first
    left = client.post("/api/worker/v1/sync", headers=_auth("w1"),
                       json={"worker": {"name": "w1", "leaving": True}, "segments": [last]})
    assert left.status_code == 200 and left.json["cameras"] == [] and left.json["released"] == 2
    assert left.json["acknowledged_segments"] == 1
    assert {lease.worker.name for lease in db.session.query(CameraLease)} == {"w2"}
    assert db.session.query(Worker).filter_by(name="w1").one().left_at is not None
    # long before the leases would have run out, w2's next sync takes every camera: w1 no longer counts as live
    assert sorted(c["id"] for c in sync(client, "w2").json["cameras"]) == [c.id for c in cams]
    # w1 comes back: it counts again, and gets its share once w2 sheds the excess
    assert sync(client, "w1").json["cameras"] == []
    assert db.session.query(Worker).filter_by(name="w1").one().left_at is None
    assert len(sync(client, "w2").json["cameras"]) == 2
    assert len(sync(client, "w1").json["cameras"]) == 2


def test_footage_of_a_camera_that_moved_is_taken_from_the_worker_that_held_it_then(client: FlaskClient) -> None:
    cam = add_camera()
    t0 = dt.datetime.now(dt.UTC)
    assert [c["id"] for c in sync(client, "w1").json["cameras"]] == [cam.id]

    def seg(name: str, start_s: float, end_s: float) -> dict[str, object]:
        return {"camera_id": cam.id, "path": f"recordings/{cam.id}/{name}.mp4", "bytes": 10,
                "start": (t0 + dt.timedelta(seconds=start_s)).isoformat(),
                "end": (t0 + dt.timedelta(seconds=end_s)).isoformat()}

    # w1 is killed; its lease runs out and w3 takes the camera
    db.session.query(CameraLease).update({"expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)})
    db.session.commit()
    assert [c["id"] for c in sync(client, "w3").json["cameras"]] == [cam.id]
    # w1 comes back and hands over what its killed ffmpeg left: recorded while it held the camera
    back = sync(client, "w1", segments=[seg("left", 0, 1)])
    assert back.json["acknowledged_segments"] == 1 and back.json["refused_segments"] == 0
    # ... but nothing from after it lost the camera, nor from long before it held it, nor from a stranger
    later = sync(client, "w1", segments=[seg("after", 2 * worker_api.HANDOVER_SLACK_S + 30, 100),
                                         seg("before", -3600, -3500)])
    assert later.json["acknowledged_segments"] == 0 and later.json["refused_segments"] == 2
    stranger = sync(client, "w2", segments=[seg("forged", 0, 1)])
    assert stranger.json["acknowledged_segments"] == 0 and stranger.json["refused_segments"] == 1
    # w3 stops (it leaves); the last segment of its stopped ffmpeg comes after, from w3 back again: indexed too
    assert client.post("/api/worker/v1/sync", json={"worker": {"name": "w3", "leaving": True}},
                       headers=_auth("w3")).json["released"] == 1
    assert [c["id"] for c in sync(client, "w1").json["cameras"]] == [cam.id]
    w3_last = sync(client, "w3", segments=[seg("w3-last", 1, 5)])
    assert w3_last.json["acknowledged_segments"] == 1 and w3_last.json["cameras"] == []
    w1, w3 = (db.session.query(Worker).filter_by(name=n).one() for n in ("w1", "w3"))
    assert {s.path.rsplit("/", 1)[1]: s.worker_id for s in db.session.query(RecordingSegment)} == {
        "left.mp4": w1.id, "w3-last.mp4": w3.id}


def test_statuses_segments_and_deletions_only_for_what_the_worker_holds(client: FlaskClient) -> None:
    mine, theirs = add_camera(name="Mine"), add_camera(name="Theirs")
    sync(client, "w1")
    sync(client, "w2")
    db.session.query(CameraLease).delete()
    db.session.add_all([
        CameraLease(camera_id=mine.id, worker_id=db.session.query(Worker).filter_by(name="w1").one().id,
                    expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)),
        CameraLease(camera_id=theirs.id, worker_id=db.session.query(Worker).filter_by(name="w2").one().id,
                    expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)),
    ])
    db.session.commit()
    t0 = dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.UTC)

    def seg(cam_id: int, name: str) -> dict[str, object]:
        return {"camera_id": cam_id, "path": f"recordings/{cam_id}/{name}.mp4", "start": t0.isoformat(),
                "end": (t0 + dt.timedelta(minutes=1)).isoformat(), "bytes": 10}

    w2 = sync(client, "w2", segments=[seg(theirs.id, "a")])
    assert w2.json["acknowledged_segments"] == 1
    response = sync(client, "w1", cameras=[{"id": theirs.id, "status": "error"}, {"id": mine.id, "status": "online"}],
                    segments=[seg(theirs.id, "forged"), seg(mine.id, "b")],
                    deleted_segments=[f"recordings/{theirs.id}/a.mp4"])
    assert response.status_code == 200
    assert response.json["acknowledged_segments"] == 1 and response.json["refused_segments"] == 1
    assert [c["id"] for c in response.json["cameras"]] == [mine.id]
    assert db.session.get(CameraStatus, theirs.id) is None
    assert db.session.get(CameraStatus, mine.id).status == "online"
    paths = {s.path: s for s in db.session.query(RecordingSegment)}
    assert f"recordings/{theirs.id}/forged.mp4" not in paths
    assert paths[f"recordings/{theirs.id}/a.mp4"].deleted_at is None, "w1 cannot delete w2's segment"
    assert sync(client, "w2", deleted_segments=[f"recordings/{theirs.id}/a.mp4"]).status_code == 200
    db.session.expire_all()
    assert db.session.query(RecordingSegment).filter_by(path=f"recordings/{theirs.id}/a.mp4").one().deleted_at


def test_sync_leases_enabled_cameras_with_secrets_only_to_the_worker(client: FlaskClient) -> None:
    cam = add_camera()
    add_camera(name="Off", enabled=False)
    response = sync(client)
    assert response.status_code == 200
    data = response.json
    assert [c["id"] for c in data["cameras"]] == [cam.id]
    assert data["cameras"][0]["source_url"] == "rtsp://admin:s3cret@127.0.0.1:9/kadia-s1"
    assert data["cameras"][0]["key"] == cam.media_key
    expires = dt.datetime.fromisoformat(data["lease_expires_at"])
    lease = dt.timedelta(seconds=worker_api.LEASE_SECONDS)
    assert lease - dt.timedelta(seconds=5) < expires - dt.datetime.now(dt.UTC) <= lease
    assert db.session.get(CameraLease, cam.id).worker.name == "w1"


def test_a_camera_is_leased_to_one_worker_until_its_lease_expires(client: FlaskClient) -> None:
    cam = add_camera()
    assert [c["id"] for c in sync(client, "w1").json["cameras"]] == [cam.id]
    assert sync(client, "w2").json["cameras"] == []
    lease = db.session.get(CameraLease, cam.id)
    lease.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.session.commit()
    assert [c["id"] for c in sync(client, "w2").json["cameras"]] == [cam.id]
    assert sync(client, "w1").json["cameras"] == []


def test_workers_share_cameras_fairly(client: FlaskClient) -> None:
    for i in range(6):
        add_camera(name=f"c{i}")
    sync(client, "w1", worker={"name": "w1", "capacity": 2})
    first = sync(client, "w1", worker={"name": "w1", "capacity": 2}).json["cameras"]
    assert len(first) == 2
    second = sync(client, "w2").json["cameras"]
    assert len(second) == 3  # ceil(6 / 2 active workers)
    assert not {c["id"] for c in first} & {c["id"] for c in second}


def test_a_busy_worker_sheds_its_excess_when_another_joins(client: FlaskClient) -> None:
    for i in range(4):
        add_camera(name=f"c{i}")
    assert len(sync(client, "w1").json["cameras"]) == 4
    assert sync(client, "w2").json["cameras"] == [], "nothing is free yet"
    kept = [c["id"] for c in sync(client, "w1").json["cameras"]]
    assert len(kept) == 2
    taken = [c["id"] for c in sync(client, "w2").json["cameras"]]
    assert len(taken) == 2 and not set(kept) & set(taken)
    assert [c["id"] for c in sync(client, "w1").json["cameras"]] == kept, "balanced: no more moves"
    assert db.session.query(CameraLease).count() == 4


def test_no_shedding_when_the_others_are_full(client: FlaskClient) -> None:
    for i in range(4):
        add_camera(name=f"c{i}")
    assert len(sync(client, "w1").json["cameras"]) == 4
    sync(client, "w2", worker={"name": "w2", "capacity": 0})
    assert len(sync(client, "w1").json["cameras"]) == 4


def test_disabling_a_camera_removes_it_from_the_worker(client: FlaskClient) -> None:
    cam = add_camera()
    assert sync(client).json["cameras"]
    cam.enabled = False
    db.session.commit()
    assert sync(client).json["cameras"] == []
    assert db.session.get(CameraLease, cam.id) is None


def test_status_is_stored_redacted_and_only_for_leased_cameras(client: FlaskClient) -> None:
    cam = add_camera()
    other = add_camera(name="Other")
    sync(client, "w2")
    db.session.query(CameraLease).filter_by(camera_id=other.id).delete()
    db.session.commit()
    ids = {c["id"] for c in sync(client, "w1").json["cameras"]}
    cameras = [
        {"id": cam.id, "status": "error", "state": "backoff", "error": "401 for rtsp://admin:s3cret@127.0.0.1:9/kadia-s1",
         "stderr_tail": ["Opening rtsp://admin:s3cret@127.0.0.1:9/kadia-s1?password=hunter2 failed"],
         "fps": 25, "codec": "h264", "width": 1280, "height": 720, "restarts_last_hour": 2},
    ]
    if other.id not in ids:
        cameras.append({"id": other.id, "status": "online"})
    response = sync(client, "w1", cameras=cameras)
    assert response.status_code == 200
    row = db.session.get(CameraStatus, cam.id)
    if cam.id in ids:
        assert row.status == "error" and row.fps == 25.0 and row.restarts_last_hour == 2
        assert "s3cret" not in (row.error or "") and "s3cret" not in (row.stderr_tail or "")
        assert "hunter2" not in (row.stderr_tail or "")
    if other.id not in ids:
        assert db.session.get(CameraStatus, other.id) is None


def test_bad_payloads_get_clear_errors_and_change_nothing(client: FlaskClient) -> None:
    auth = _auth("w")
    cases = [
        ("not json", {"Content-Type": "application/json"}),
        (json.dumps([1, 2]), {"Content-Type": "application/json"}),
        (json.dumps({"worker": []}), {"Content-Type": "application/json"}),
        (json.dumps({"worker": {"name": "w", "capacity": "many"}}), {"Content-Type": "application/json"}),
        (json.dumps({"worker": {"name": "w"}, "segments": [{"camera_id": 1, "path": "../x", "start": "x"}]}),
         {"Content-Type": "application/json"}),
    ]
    for body, headers in cases:
        response = client.post("/api/worker/v1/sync", data=body, headers={**auth, **headers})
        assert response.status_code == 400, body
        assert response.json["error"] == "bad_request" and response.json["detail"]
    assert db.session.query(Worker).one().hostname == "", "nothing stored"


def test_segments_are_indexed_once_and_held_ones_are_named(client: FlaskClient) -> None:
    cam = add_camera()
    t0 = dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.UTC)
    segs = [
        {"camera_id": cam.id, "path": f"recordings/{cam.id}/seg{i}.ts",
         "start": (t0 + dt.timedelta(minutes=i)).isoformat(),
         "end": (t0 + dt.timedelta(minutes=i + 1)).isoformat(), "bytes": 1000 + i}
        for i in range(3)
    ]
    assert sync(client, segments=segs).json["acknowledged_segments"] == 3
    assert sync(client, segments=segs).json["acknowledged_segments"] == 0
    assert db.session.query(RecordingSegment).count() == 3
    db.session.add(LegalHold(camera_id=cam.id, start_at=t0 + dt.timedelta(seconds=90),
                             end_at=t0 + dt.timedelta(seconds=100), reason="case 1"))
    db.session.commit()
    held = sync(client, deleted_segments=[f"recordings/{cam.id}/seg0.ts"]).json["held_segments"]
    assert held == [f"recordings/{cam.id}/seg1.ts"]
    seg0 = db.session.query(RecordingSegment).filter_by(path=f"recordings/{cam.id}/seg0.ts").one()
    assert seg0.deleted_at is not None


def test_removed_camera_is_not_assigned(client: FlaskClient) -> None:
    cam = add_camera()
    sync(client)
    db.session.delete(db.session.get(Camera, cam.id))
    db.session.commit()
    assert sync(client).json["cameras"] == []


def test_an_archived_cameras_holds_still_reach_the_worker_that_recorded_it(client: FlaskClient) -> None:
    from portal.admin.camera_changes import archive_camera

    cam = add_camera()
    t0 = dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.UTC)
    seg = {"camera_id": cam.id, "path": f"recordings/{cam.id}/a.mp4", "start": t0.isoformat(),
           "end": (t0 + dt.timedelta(minutes=1)).isoformat(), "bytes": 10}
    assert sync(client, segments=[seg]).json["acknowledged_segments"] == 1
    archive_camera(db.session.get(Camera, cam.id), reason="dibongkar")
    db.session.add(LegalHold(camera_id=cam.id, start_at=t0, end_at=t0 + dt.timedelta(minutes=5), reason="case 2"))
    db.session.commit()
    reply = sync(client).json
    assert reply["cameras"] == []  # no longer run...
    assert reply["held_segments"] == [f"recordings/{cam.id}/a.mp4"]  # ...but its held footage stays held
    assert sync(client, "w2").json["held_segments"] == []  # not another worker's business


def test_status_changes_leave_a_history(client: FlaskClient) -> None:
    from portal.models import CameraEvent

    cam = add_camera()
    states = [("online", None, 0), ("error", "Connection refused rtsp://admin:s3cret@127.0.0.1:9/s1", 1),
              ("online", None, 1), ("online", None, 2)]
    for status, error, restarts in states:
        item = {"id": cam.id, "status": status, "restarts_last_hour": restarts}
        if error:
            item["error"] = error
        assert sync(client, cameras=[item]).status_code == 200
    events = db.session.query(CameraEvent).order_by(CameraEvent.id).all()
    assert [e.kind for e in events] == ["down", "restart", "up", "restart"]
    assert "s3cret" not in (events[0].detail or "") and "Connection refused" in (events[0].detail or "")


def test_after_a_portal_outage_expired_leases_wait_for_their_holder(client: FlaskClient) -> None:
    cam = add_camera()
    assert [c["id"] for c in sync(client, "w1").json["cameras"]] == [cam.id]
    sync(client, "w2")
    # The portal was down for two minutes: nobody synced, and w1's lease ran out meanwhile.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    db.session.query(Worker).update({"last_seen_at": past})
    lease = db.session.get(CameraLease, cam.id)
    lease.expires_at = past + dt.timedelta(seconds=20)
    db.session.commit()
    assert sync(client, "w2").json["cameras"] == [], "w2 came back first, but w1 still holds the camera"
    assert [c["id"] for c in sync(client, "w1").json["cameras"]] == [cam.id]
    # A lease that had already run out before the silence is not revived.
    db.session.query(Worker).update({"last_seen_at": past})
    db.session.get(CameraLease, cam.id).expires_at = past - dt.timedelta(seconds=1)
    db.session.commit()
    assert [c["id"] for c in sync(client, "w2").json["cameras"]] == [cam.id]


def test_a_new_systems_first_sync_is_not_an_outage(client: FlaskClient) -> None:
    """A worker that was never seen (just issued its credential) and no leases: nothing to bridge (and no
    warning about a portal that was 'down for ten years')."""
    from portal.workers.leases import bridge_outage

    add_camera()
    _auth("w9")  # its credential issued: a worker row, never seen
    assert db.session.query(Worker).filter_by(name="w9").one().last_seen_at < dt.datetime.now(dt.UTC) - \
        dt.timedelta(days=365)
    assert bridge_outage(dt.datetime.now(dt.UTC), quiet_s=15) is None
    db.session.rollback()
    assert len(sync(client, "w9").json["cameras"]) == 1
