"""Failures: cameras that vanish, ffmpeg that dies, workers killed with SIGKILL."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.models import CameraLease, db
from tests.e2e.conftest import Portal, Workers, ffmpeg_children, running_portal
from tests.e2e.test_live import add_camera, camera_status, fetch, media_sequence, playlist_url
from tests.support.tools import wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def grows(portal: Portal, url: str, by: int = 2, timeout: float = 20) -> None:
    start = media_sequence(fetch(url)[1])
    wait_for(lambda: media_sequence(fetch(url)[1]) >= start + by, timeout=timeout,
             message=f"playlist did not grow by {by} within {timeout} s")


def test_camera_that_vanishes_goes_offline_and_returns(portal: Portal, workers: Workers, rtsp) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1))
    workers.start("w1")
    url = playlist_url(portal, camera)
    wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.status == "online",
             timeout=30, message="camera never online")
    sim.stop_camera(sim.name(1))
    gone = time.monotonic()
    wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.status in ("offline", "error"),
             timeout=20, message="a vanished camera was not reported offline within 20 s")
    assert time.monotonic() - gone < 20
    s = camera_status(portal, camera.id)
    assert s is not None and "secret" not in (s.stderr_tail or "")
    sim.start_camera(sim.name(1))
    back = time.monotonic()
    before = media_sequence(fetch(url)[1])
    wait_for(lambda: media_sequence(fetch(url)[1]) > before, timeout=10,
             message="the camera did not stream again after coming back")
    # Streams again within 5 s of coming back (measured to the first new segment on the playlist).
    assert time.monotonic() - back < 5 + 1, "recovery slower than 5 s (+1 s for one segment)"


def test_killed_ffmpeg_is_restarted(portal: Portal, workers: Workers, rtsp) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1))
    workers.start("w1")
    url = playlist_url(portal, camera)
    wait_for(lambda: len(ffmpeg_children(portal.media_root)) == 1, timeout=30, message="no ffmpeg")
    wait_for(lambda: fetch(url)[0] == 200, timeout=30, message="no playlist")
    [pid] = ffmpeg_children(portal.media_root)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: ffmpeg_children(portal.media_root) not in ([], [pid]), timeout=15,
             message="the killed ffmpeg was not restarted")
    grows(portal, url)
    wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.restarts_last_hour >= 1,
             timeout=10, message="the restart was not counted")


@pytest.fixture()
def pg_portal(tmp_path: Path, pg_url: str) -> Iterator[Portal]:
    with running_portal(tmp_path, database_url=pg_url) as running:
        yield running


@pytest.mark.postgres
def test_sigkilled_worker_leaves_no_ffmpeg_and_another_takes_over(pg_portal: Portal, rtsp) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=2)
    cams = [add_camera(pg_portal, sim.url(i), name=f"C{i}") for i in (1, 2)]
    pool = Workers(pg_portal)
    try:
        first = pool.start("w1")
        wait_for(lambda: len(ffmpeg_children(pg_portal.media_root)) == 2, timeout=30, message="w1 runs nothing")

        def holders() -> set[str]:
            with pg_portal.app.app_context():
                return {lease.worker.name for lease in db.session.query(CameraLease)}

        assert holders() == {"w1"}
        pool.start("w2")
        wait_for(lambda: (pg_portal.media_root.parent / "worker-w2.log").exists(), timeout=10, message="w2")
        mine = set(ffmpeg_children(pg_portal.media_root))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = time.monotonic()
        wait_for(lambda: not (mine & set(ffmpeg_children(pg_portal.media_root))), timeout=10,
                 message="ffmpeg of the SIGKILLed worker kept running")
        settings = pg_portal.app.config["PANTAU"]
        limit = settings.lease_seconds + settings.sync_interval_s + 10  # + time for ffmpeg to write a segment
        wait_for(lambda: holders() == {"w2"} and len(ffmpeg_children(pg_portal.media_root)) == 2,
                 timeout=limit, message="the second worker did not take over the cameras")
        for cam in cams:
            grows(pg_portal, playlist_url(pg_portal, cam), by=1, timeout=limit)
        assert time.monotonic() - killed < limit + 5
    finally:
        pool.stop_all()
    assert not ffmpeg_children(pg_portal.media_root)


@pytest.mark.postgres
def test_a_sigkilled_workers_farewell_moves_its_cameras_long_before_its_lease_runs_out(tmp_path: Path, pg_url: str,
                                                                                      rtsp) -> None:  # type: ignore[no-untyped-def]
    """Leases of ten minutes: only the farewell its watcher sends when the worker dies can move the cameras fast."""
    sim = rtsp(cameras=2)
    with running_portal(tmp_path, database_url=pg_url, lease_seconds=600) as portal:
        cams = [add_camera(portal, sim.url(i), name=f"C{i}") for i in (1, 2)]
        pool = Workers(portal)
        try:
            first = pool.start("w1")
            wait_for(lambda: len(ffmpeg_children(portal.media_root)) == 2, timeout=30, message="w1 runs nothing")

            def holders() -> set[str]:
                with portal.app.app_context():
                    return {lease.worker.name for lease in db.session.query(CameraLease)}

            pool.start("w2")
            wait_for(lambda: "started" in pool.log("w2"), timeout=20, message="w2 did not start")
            # (w1 may already have shed one camera to w2: 2 cameras, 2 workers; it holds at least one till it dies)
            assert "w1" in holders()
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            killed = time.monotonic()
            wait_for(lambda: holders() == {"w2"}, timeout=10, message="the farewell did not move the cameras")
            moved = time.monotonic() - killed
            for cam in cams:
                grows(portal, playlist_url(portal, cam), by=1, timeout=20)
            assert moved < 10, f"cameras moved {moved:.1f} s after the kill (lease 600 s)"
            assert re.search(r"is gone: the portal released its [12] cameras", pool.log("w1"))
        finally:
            pool.stop_all()
        assert not ffmpeg_children(portal.media_root)


def ffmpeg_keys(media_root: Path) -> list[str]:
    """The camera key each running ffmpeg under this media root writes live HLS for."""
    keys = []
    for pid in ffmpeg_children(media_root):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        keys += [a.split("/hls/")[1].split("/")[0] for a in argv if a.endswith("index.m3u8")]
    return keys


@pytest.mark.postgres
def test_three_workers_share_cameras_each_run_exactly_once(pg_portal: Portal, rtsp) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=6)
    cams = [add_camera(pg_portal, sim.url(i), name=f"C{i}") for i in range(1, 7)]
    keys = sorted(c.media_key for c in cams)
    pool = Workers(pg_portal)
    try:
        for name in ("w1", "w2", "w3"):  # started together: they sync concurrently, row locks decide
            pool.start(name)

        def balanced() -> dict[str, int] | None:
            with pg_portal.app.app_context():
                counts: dict[str, int] = {}
                for lease in db.session.query(CameraLease):
                    counts[lease.worker.name] = counts.get(lease.worker.name, 0) + 1
            return counts if sum(counts.values()) == 6 and sorted(counts.values()) == [2, 2, 2] else None

        # The first worker to sync may take everything; the others' arrival makes it shed the excess.
        wait_for(balanced, timeout=30, message="the cameras were not spread over the three workers")
        wait_for(lambda: sorted(ffmpeg_keys(pg_portal.media_root)) == keys, timeout=30,
                 message="every camera should run in exactly one ffmpeg")
        for _ in range(3):  # and it stays that way across syncs
            wait_for(lambda: sorted(ffmpeg_keys(pg_portal.media_root)) == keys, timeout=5, message="duplicate")
        for cam in cams:
            wait_for(lambda c=cam: (s := camera_status(pg_portal, c.id)) is not None and s.status == "online",
                     timeout=30, message=f"camera {cam.id} not online")
    finally:
        pool.stop_all()
    assert not ffmpeg_children(pg_portal.media_root)


def test_frozen_camera_is_detected_as_stalled_and_recovers(portal: Portal, workers: Workers, rtsp) -> None:  # type: ignore[no-untyped-def]
    """The camera stops sending but keeps its connection open: only the age of the newest segment tells."""
    from tests.support.proxy import FreezableProxy

    sim = rtsp(cameras=1)
    proxy = FreezableProxy(("127.0.0.1", sim.port))
    try:
        camera = add_camera(portal, proxy.url(sim.name(1)))
        workers.start("w1")
        url = playlist_url(portal, camera)
        wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.status == "online",
                 timeout=30, message="camera never online")
        proxy.freeze()
        frozen = time.monotonic()
        status = wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.status != "online" and s,
                          timeout=20, message="a frozen camera was not reported within 20 s")
        assert time.monotonic() - frozen < 15, "stall detection slower than 15 s"
        assert status.error and "stalled" in status.error
        proxy.thaw()
        back = time.monotonic()
        before = media_sequence(fetch(url)[1])
        wait_for(lambda: media_sequence(fetch(url)[1]) > before, timeout=15,
                 message="the camera did not stream again after thawing")
        # thawed right after the stall was reported: the stalled ffmpeg is still being killed (SIGKILL 2 s after
        # SIGTERM), then one backoff step and the first segment
        assert time.monotonic() - back < 8
    finally:
        proxy.close()
