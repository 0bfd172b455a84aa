"""Live video survives the portal: two workers on PostgreSQL keep streaming and recording while the portal or its
database restarts, nothing moves when it is back, and a worker that learns its camera moved stops it at once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from werkzeug.serving import make_server

from portal.models import CameraLease, RecordingSegment, Worker, db
from tests.e2e.conftest import Portal, ffmpeg_children, running_portal, worker_pool
from tests.e2e.test_live import add_camera, camera_status
from tests.support.proxy import FreezableProxy
from tests.support.tools import wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.postgres, pytest.mark.slow]


def holders(portal: Portal) -> dict[int, str]:
    with portal.app.app_context():
        return {lease.camera_id: lease.worker.name for lease in db.session.query(CameraLease)}


def last_sync(portal: Portal) -> float:
    with portal.app.app_context():
        newest = db.session.query(db.func.max(Worker.last_seen_at)).scalar()
        return newest.timestamp() if newest else 0.0


def live_ages(portal: Portal, keys: list[str]) -> list[float]:
    now = time.time()
    return [now - (portal.media_root / "hls" / key / "index.m3u8").stat().st_mtime for key in keys]


def stays_live(portal: Portal, keys: list[str], seconds: float) -> None:
    """Every camera's live playlist is rewritten at least every 3 s throughout (no gap)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        worst = max(live_ages(portal, keys))
        assert worst < 3.0, f"live video stopped: a playlist is {worst:.1f} s old"
        time.sleep(0.5)


@pytest.fixture()
def db_proxy(pg_url: str) -> Iterator[tuple[FreezableProxy, str]]:
    """The portal reaches PostgreSQL through a proxy, so a test can restart 'the database' (cut every
    connection, refuse new ones, then accept again) without touching the shared server."""
    parts = urlsplit(pg_url)
    proxy = FreezableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{proxy.port}")
    if netloc == parts.netloc:
        netloc = netloc.replace(parts.hostname or "", f"127.0.0.1:{proxy.port}")
    yield proxy, urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    proxy.close()


def test_live_video_and_recording_survive_portal_and_database_restarts(tmp_path: Path, db_proxy, rtsp) -> None:  # type: ignore[no-untyped-def]
    proxy, database_url = db_proxy
    sim = rtsp(cameras=2)
    with running_portal(tmp_path, database_url=database_url) as portal, worker_pool(portal) as pool:
        cams = [add_camera(portal, sim.url(i), name=f"C{i}") for i in (1, 2)]
        keys = [c.media_key for c in cams]
        pool.start("w1")
        pool.start("w2")
        wait_for(lambda: sorted(holders(portal).values()) == ["w1", "w2"] and all(
            (s := camera_status(portal, c.id)) is not None and s.status == "online" for c in cams),
            timeout=40, message="two workers did not each run one camera")
        before, pids = holders(portal), set(ffmpeg_children(portal.media_root))

        # 1. The portal goes away for 20 s (more than three leases), then comes back on the same address.
        port = portal.server.server_port
        portal.server.shutdown()
        portal.server.server_close()
        down = time.time()
        stays_live(portal, keys, 20)
        portal.server = make_server("127.0.0.1", port, portal.app, threaded=True)
        import threading

        threading.Thread(target=portal.server.serve_forever, daemon=True).start()
        wait_for(lambda: last_sync(portal) > down + 20, timeout=10, message="no sync after the portal returned")
        up = time.time()
        stays_live(portal, keys, 4)
        assert holders(portal) == before, "a lease moved because the portal was down"
        assert set(ffmpeg_children(portal.media_root)) == pids, "an ffmpeg was restarted"

        # 2. PostgreSQL restarts: every connection cut, none accepted for 15 s.
        proxy.cut()
        cut = time.time()
        stays_live(portal, keys, 15)
        proxy.thaw()
        wait_for(lambda: last_sync(portal) > cut + 15, timeout=15, message="no sync after the database returned")
        stays_live(portal, keys, 4)
        assert holders(portal) == before and set(ffmpeg_children(portal.media_root)) == pids

        # Recording went on through both outages, and the portal was told once it could listen.
        def recorded_through(start: float, end: float) -> bool:
            with portal.app.app_context():
                rows = db.session.query(RecordingSegment).all()
                return all(any(r.camera_id == c.id and r.start_at.timestamp() <= end and r.end_at.timestamp() >= start
                               for r in rows) for c in cams)

        wait_for(lambda: recorded_through(down + 5, up - 5) and recorded_through(cut + 5, cut + 10), timeout=45,
                 message="no recording reported for the time the portal or its database was down")


def test_a_gunicorn_restart_costs_no_live_video(tmp_path: Path, pg_url: str, rtsp) -> None:  # type: ignore[no-untyped-def]
    """The portal as deployed (gunicorn, PostgreSQL) stops and starts again on the same address."""
    from tests.e2e.conftest import E2E_SETTINGS
    from tests.e2e.test_nginx_gunicorn import start_gunicorn, stop_gunicorn

    sim = rtsp(cameras=1)
    with running_portal(tmp_path, database_url=pg_url) as portal, worker_pool(portal) as pool:
        camera = add_camera(portal, sim.url(1))
        env = {**os.environ, "PANTAU_ENV": "test", "PANTAU_DATABASE_URL": pg_url, "PANTAU_SECRET_KEY": "test-secret",
               "PANTAU_MEDIA_ROOT": str(portal.media_root), "PANTAU_INSTANCE_PATH": str(tmp_path / "instance"),
               "PANTAU_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png",
               **{f"PANTAU_{k.upper()}": str(v) for k, v in E2E_SETTINGS.items()}}
        env = {k: v for k, v in env.items() if not k.startswith(("PANTAU_WORKER_", "PANTAU_PORTAL_"))}
        proc, url = start_gunicorn(env, tmp_path / "gunicorn.log")
        try:
            pool.start("w1", PANTAU_PORTAL_URL=url)
            wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.status == "online",
                     timeout=30, message="the camera never came online through gunicorn")
            pids = set(ffmpeg_children(portal.media_root))
            stop_gunicorn(proc)
            down = time.time()
            stays_live(portal, [camera.media_key], 12)  # two leases
            proc, _ = start_gunicorn(env, tmp_path / "gunicorn.log", port=int(url.rsplit(":", 1)[1]))
            wait_for(lambda: last_sync(portal) > down + 12, timeout=15, message="no sync after gunicorn returned")
            stays_live(portal, [camera.media_key], 3)
            assert set(ffmpeg_children(portal.media_root)) == pids, "an ffmpeg was restarted"
        finally:
            stop_gunicorn(proc)


def test_a_worker_that_learns_its_camera_moved_stops_it_at_once(tmp_path: Path, pg_url: str, rtsp) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=1)
    with running_portal(tmp_path, database_url=pg_url) as portal, worker_pool(portal) as pool:
        add_camera(portal, sim.url(1))
        port = urlsplit(portal.url).port or 80
        link = FreezableProxy(("127.0.0.1", port))  # w1's network path to the portal
        own_root = tmp_path / "w1-media"
        try:
            pool.start("w1", PANTAU_PORTAL_URL=f"http://127.0.0.1:{link.port}", PANTAU_MEDIA_ROOT=str(own_root))
            wait_for(lambda: len(ffmpeg_children(own_root)) == 1 and list(holders(portal).values()) == ["w1"],
                     timeout=30, message="w1 does not run the camera")
            pool.start("w2")
            link.cut()  # w1 can no longer reach the portal; the portal is up, so w2 may take the lease
            wait_for(lambda: list(holders(portal).values()) == ["w2"] and len(ffmpeg_children(portal.media_root)) == 1,
                     timeout=30, message="w2 did not take the camera whose lease w1 stopped renewing")
            assert len(ffmpeg_children(own_root)) == 1, "w1 keeps its camera within its grace time"
            link.thaw()
            back = time.monotonic()
            wait_for(lambda: not ffmpeg_children(own_root), timeout=6,
                     message="w1 learnt its camera moved and kept running it")
            assert time.monotonic() - back < 5
            assert len(ffmpeg_children(portal.media_root)) == 1, "w2 goes on"
        finally:
            link.close()
