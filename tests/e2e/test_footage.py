"""Footage for the police against real parts: a simulated RTSP camera, real workers (ffmpeg), the portal over
HTTP. A request holds footage through retention and a full disk, a second person approves, the worker that
recorded it exports it, the MP4 plays for the asked span and its signed manifest verifies until one byte changes.
Holds also survive a worker that restarts while the portal is away and after its cameras moved."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from portal.cli import cli
from portal.footage import asking, evidence, exports
from portal.models import Camera, CameraLease, FootageRequest, RecordingSegment, User, Worker, db, utcnow
from tests.e2e.conftest import Portal, Workers
from tests.e2e.test_live import add_camera
from tests.support.recordings import make_segments
from tests.support.tools import free_port, require_tool, wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]
GUARD_FULL = {"PANTAU_DISK_MIN_FREE_BYTES": str(2**62), "PANTAU_HOUSEKEEPING_INTERVAL_S": "1"}


def people(portal: Portal) -> tuple[int, int]:
    with portal.app.app_context():
        police = User(username="bripka.andi", role="police", full_name="Andi")
        admin = User(username="admin.dina", role="admin", full_name="Dina")
        for user in (police, admin):
            user.set_password("pantau-uji-sandi-7")
            db.session.add(user)
        db.session.commit()
        return police.id, admin.id


def index(portal: Portal, worker: str, made: list[tuple[str, dt.datetime, dt.datetime, int, int]], camera: int) -> None:
    with portal.app.app_context():
        worker_id = db.session.scalar(select(Worker.id).where(Worker.name == worker))
        for path, start, end, size, init in made:
            db.session.add(RecordingSegment(camera_id=camera, worker_id=worker_id, path=path, start_at=start,
                                            end_at=end, bytes=size, init_bytes=init))
        db.session.commit()


def ask(portal: Portal, police_id: int, camera: int, start: dt.datetime, end: dt.datetime) -> int:
    with portal.app.app_context():
        request = asking.ask_police(db.session.get(User, police_id), [camera], start, end, case_number="LP/B/9/2026",
                                    legal_basis="KUHAP", reason="uji ujung ke ujung", now=utcnow(), actor="bripka.andi")
        db.session.commit()
        return request.id


def request_state(portal: Portal, request_id: int) -> dict[str, Any]:
    with portal.app.app_context():
        request = db.session.get(FootageRequest, request_id)
        return {"status": request.status, "manifest": request.manifest,
                "exports": [(e.status, e.path, e.sha256, e.progress, e.gaps) for e in request.exports]}


def ffprobe_duration(path: Path) -> float:
    ffprobe = require_tool("ffprobe", reason="checks that the export plays")
    out = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["format"]["duration"])


def test_held_footage_survives_retention_and_a_full_disk_then_is_exported_and_verifies(
        portal: Portal, workers: Workers, rtsp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evidence.generate_key(portal.app.config["PANTAU"].evidence_key_path)
    police_id, admin_id = people(portal)
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1), retention_days=7)
    portal.credential("w1")
    # three weeks ago the camera recorded 20 segments (4 s each); a request holds 10 seconds in the middle
    long_ago = (utcnow() - dt.timedelta(days=21)).replace(microsecond=0)
    old = make_segments(portal.media_root, camera.id, long_ago, 20, seconds=4)
    index(portal, "w1", old, camera.id)
    asked = (long_ago + dt.timedelta(seconds=41), long_ago + dt.timedelta(seconds=51))
    request_id = ask(portal, police_id, camera.id, *asked)
    held = {p for p, a, b, _, _ in old if a < asked[1] and b > asked[0]}
    assert len(held) == 3
    # far from the hold (a worker keeps a segment's nominal length and a keyframe's slack around a held span)
    far = [p for p, a, b, _, _ in old if b < asked[0] - dt.timedelta(seconds=25) or a > asked[1]]
    workers.start("w1", **GUARD_FULL)
    # retention (7 days) and the full-disk guard delete everything else, old and new, but never held footage
    wait_for(lambda: all(not (portal.media_root / p).exists() for p in far), timeout=40,
             message="retention/guard did not delete the unheld old footage")

    def guard_deleted_new() -> bool:
        with portal.app.app_context():
            return db.session.scalar(select(RecordingSegment.id).where(
                RecordingSegment.camera_id == camera.id, RecordingSegment.deleted_at.is_not(None),
                RecordingSegment.start_at > utcnow() - dt.timedelta(hours=1))) is not None

    wait_for(guard_deleted_new, timeout=60, message="the full disk's guard never deleted new footage")
    assert all((portal.media_root / p).exists() for p in held)
    # a second person approves; the worker that recorded the footage exports it
    with portal.app.app_context():
        request = db.session.get(FootageRequest, request_id)
        with pytest.raises(exports.DecisionError):
            exports.approve(request, db.session.get(User, police_id), "sendiri", utcnow())
        exports.approve(request, db.session.get(User, admin_id), "Sesuai surat perintah", utcnow(), actor="admin.dina")
        db.session.commit()
    state = wait_for(lambda: (s := request_state(portal, request_id))["status"] == "ready" and s, timeout=60,
                     message="the export never became ready")
    [(status, path, sha256, progress, gaps)] = state["exports"]
    assert status == "done" and progress == 1.0 and gaps == []
    mp4 = portal.media_root / path
    duration = ffprobe_duration(mp4)
    assert abs(duration - 10.0) <= 4.0, duration  # within one segment of the asked span
    assert evidence.sha256_file(mp4) == sha256
    manifest = tmp_path / "manifest.json"
    manifest.write_text(state["manifest"])
    settings = portal.app.config["PANTAU"]
    env = {"PANTAU_INSTANCE_PATH": settings.instance_path, "PANTAU_DATABASE_URL": settings.database_url,
           "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": "x"}
    ok = CliRunner().invoke(cli, ["evidence", "verify", str(mp4), str(manifest)], env=env)
    assert ok.exit_code == 0 and "VERIFIED" in ok.output
    body = json.loads(state["manifest"])
    assert sorted(s["path"] for s in body["files"][0]["sources"]) == sorted(held)
    tampered = tmp_path / "tampered.mp4"
    data = bytearray(mp4.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    assert CliRunner().invoke(cli, ["evidence", "verify", str(tampered), str(manifest)], env=env).exit_code == 1
    text = state["manifest"].replace("LP/B/9/2026", "LP/B/8/2026")
    manifest.write_text(text)
    assert CliRunner().invoke(cli, ["evidence", "verify", str(mp4), str(manifest)], env=env).exit_code == 1


def test_holds_survive_a_worker_restarted_without_portal_and_after_its_cameras_moved(
        portal: Portal, workers: Workers, rtsp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    police_id, _admin = people(portal)
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1), retention_days=30)
    disk_a, disk_b = tmp_path / "disk-a", tmp_path / "disk-b"
    w1 = workers.start("w1", PANTAU_MEDIA_ROOT=str(disk_a))

    def indexed(name: str) -> list[tuple[str, dt.datetime, dt.datetime]]:
        with portal.app.app_context():
            return [(s.path, s.start_at, s.end_at) for s in db.session.scalars(
                select(RecordingSegment).join(Worker, Worker.id == RecordingSegment.worker_id)
                .where(Worker.name == name).order_by(RecordingSegment.start_at))]

    segments = wait_for(lambda: len(s := indexed("w1")) >= 4 and s, timeout=60, message="w1 recorded nothing")
    first, second = segments[1], segments[2]
    # from the middle of one segment to the middle of the next: both overlap it, however short a loaded machine
    # made them (an ffmpeg restarted under load cuts a segment short; "start + 1 s" could miss one of 0.8 s)
    hold_start = first[1] + (first[2] - first[1]) / 2
    hold_end = second[1] + (second[2] - second[1]) / 2
    ask(portal, police_id, camera.id, hold_start, hold_end)
    held = {first[0], second[0]}
    held_file = disk_a / "recordings" / ".held.json"
    wait_for(lambda: held_file.exists() and held <= set(json.loads(held_file.read_text())["paths"]), timeout=30,
             message=f"w1 never wrote the hold list (wanted {sorted(held)} of {segments})")
    w1.terminate()
    w1.wait(timeout=30)
    # the camera moves to w2 on another disk
    workers.start("w2", PANTAU_MEDIA_ROOT=str(disk_b))

    def leased_to(name: str) -> bool:
        with portal.app.app_context():
            lease = db.session.get(CameraLease, camera.id)
            return lease is not None and lease.worker.name == name

    wait_for(lambda: leased_to("w2"), timeout=40, message="the camera never moved to w2")
    # footage w1 recorded at a held time that the portal never indexed (it was written while w1 was cut off)
    unindexed = f"recordings/{camera.id}/{hold_start:%Y%m%d}/{hold_start:%H%M%S}-9.mp4"  # never a real one's name
    (disk_a / unindexed).write_bytes(b"\0" * 2048)
    unheld = [p for p, start, _end in indexed("w1") if start > hold_end]  # after the hold: nothing keeps them
    assert unheld
    # w1 comes back while the portal is unreachable, on a full disk: it keeps its last hold list
    dead = f"http://127.0.0.1:{free_port()}"
    w1 = workers.start("w1", PANTAU_MEDIA_ROOT=str(disk_a), PANTAU_PORTAL_URL=dead, **GUARD_FULL)
    wait_for(lambda: all(not (disk_a / p).exists() for p in unheld), timeout=40,
             message="w1's guard deleted nothing while the portal was away")
    assert all((disk_a / p).exists() for p in held) and (disk_a / unindexed).exists()
    w1.terminate()
    w1.wait(timeout=30)
    # ... and with the portal back, holding no camera any more (they moved while it was down)
    w1 = workers.start("w1", PANTAU_MEDIA_ROOT=str(disk_a), **GUARD_FULL)

    with portal.app.app_context():
        seen = db.session.scalar(select(Worker.last_seen_at).where(Worker.name == "w1"))

    def seen_again() -> bool:
        with portal.app.app_context():
            now_seen = db.session.scalar(select(Worker.last_seen_at).where(Worker.name == "w1"))
            return bool(now_seen and seen and now_seen > seen + dt.timedelta(seconds=3))

    wait_for(seen_again, timeout=30, message="w1 did not sync with the portal again")
    assert leased_to("w2")
    wait_for(lambda: (disk_a / "recordings" / ".held.json").exists(), timeout=5)
    kept = json.loads((disk_a / "recordings" / ".held.json").read_text())
    assert held <= set(kept["paths"]) and kept["spans"], "the portal told w1 about the holds on its disk"
    assert all((disk_a / p).exists() for p in held) and (disk_a / unindexed).exists()
    with portal.app.app_context():
        assert db.session.scalar(select(Camera.id).where(Camera.id == camera.id)) == camera.id
