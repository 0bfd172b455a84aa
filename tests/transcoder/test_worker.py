"""The worker loop with a fake portal and fake processes: assignments, acknowledgements, lease expiry."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.transcoder.fakes import Factory
from transcoder.camera import State
from transcoder.client import SyncError
from transcoder.config import ConfigError, WorkerConfig
from transcoder.worker import Worker


class FakePortal:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.cameras: list[dict[str, Any]] = []
        self.settings: dict[str, Any] = {"segment_seconds": 2}
        self.down = False

    def sync(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        if self.down:
            raise SyncError("portal unreachable: connection refused")
        return {"api_version": 1, "worker_id": 1, "sync_interval_s": 5, "lease_seconds": 30,
                "settings": self.settings, "cameras": self.cameras, "held_segments": []}


def cam(i: int, url: str = "rtsp://u:pw@127.0.0.1:9/s") -> dict[str, Any]:
    return {"id": i, "key": f"{i:08x}", "source_url": url, "recording": True, "audio": "drop", "retention_days": 30}


@pytest.fixture()
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "t", "PANTAU_MEDIA_ROOT": str(tmp_path),
                                    "PANTAU_WORKER_NAME": "w1", "PANTAU_WORKER_METRICS": "off"})
    portal, factory = FakePortal(), Factory()
    worker = Worker(config, client=portal, factory=factory, ffmpeg="ffmpeg")  # type: ignore[arg-type]
    yield worker, portal, factory
    worker._pool.shutdown(wait=True)
    worker._sync_pool.shutdown(wait=True)


def settle(worker: Worker, now: float) -> None:
    """One turn, then wait for the sync it sent and take its answer in a second turn at the same time."""
    worker.tick(now)
    if worker.sync.future is not None:
        worker.sync.future.exception(timeout=5)
    worker.tick(now)


def test_assigned_cameras_start_and_unassigned_ones_stop(setup) -> None:  # type: ignore[no-untyped-def]
    worker, portal, factory = setup
    portal.cameras = [cam(1), cam(2)]
    settle(worker, 0)
    worker.tick(0.5)
    assert {c.spec.id: c.state for c in worker.cameras.values()} == {1: State.STARTING, 2: State.STARTING}
    assert len(factory.started) == 2
    assert portal.bodies[0]["worker"]["name"] == "w1"
    portal.cameras = [cam(2)]
    settle(worker, 5)
    worker.tick(5.5)
    worker.tick(6)
    assert list(worker.cameras) == [2]
    assert factory.started[0].signals == ["TERM"]
    settle(worker, 10)
    body = portal.bodies[-1]
    assert [c["id"] for c in body["cameras"]] == [2]
    assert "pw" not in str(body), "credentials never go back to the portal"


def test_changed_output_settings_restart_every_camera(setup) -> None:  # type: ignore[no-untyped-def]
    worker, portal, factory = setup
    portal.cameras = [cam(1)]
    settle(worker, 0)
    worker.tick(0.5)
    portal.settings = {"segment_seconds": 4}
    settle(worker, 5)
    worker.tick(5.5)
    assert len(factory.started) == 2 and factory.last.argv[factory.last.argv.index("-hls_time") + 1] == "3.6"


def test_segments_are_resent_until_acknowledged(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker, portal, _ = setup
    incoming = tmp_path / "recordings/1/incoming"
    incoming.mkdir(parents=True)
    (incoming / "20261122T130000Z.mp4").write_bytes(b"x" * 10)  # left by an ffmpeg that died with a worker
    portal.cameras = [cam(1)]
    settle(worker, 0)  # the camera is created: leftovers collected
    assert len(worker.pending_segments) == 1
    portal.down = True
    settle(worker, 5)
    assert portal.bodies[-1]["segments"][0]["path"] == "recordings/1/20261122/130000.mp4"
    assert len(worker.pending_segments) == 1, "kept after a failed sync"
    portal.down = False
    settle(worker, 10)
    assert portal.bodies[-1]["segments"][0]["bytes"] == 10
    assert worker.pending_segments == []


def test_cameras_outlive_an_unreachable_portal_for_the_grace_time(setup) -> None:  # type: ignore[no-untyped-def]
    worker, portal, factory = setup
    portal.cameras = [cam(1)]
    settle(worker, 0)
    worker.tick(0.5)
    portal.down = True
    for t in range(1, 600, 7):  # the lease (30 s) runs out at 30 s; the grace (600 s) keeps the camera
        settle(worker, t)
        assert worker.cameras[1].want_running, f"kept running {t} s into a portal outage"
    assert worker.sync.in_grace(599)
    portal.down = False  # the portal is back within the grace: everything goes on, and gets reported
    settle(worker, 600)
    assert worker.cameras[1].want_running and not worker.sync.in_grace(600)
    assert portal.bodies[-1]["cameras"][0]["id"] == 1
    portal.down = True
    for t in range(601, 635, 2):
        settle(worker, t)
    assert worker.cameras[1].want_running
    settle(worker, 600 + 30 + 601)  # lease and grace both gone: stop
    worker.tick(1232)
    worker.tick(1233)
    assert worker.cameras == {} and factory.last.signals == ["TERM"]
    assert worker.figures.sync_failures_total >= 5


def test_a_portal_that_refuses_the_worker_stops_its_cameras_at_once(setup) -> None:  # type: ignore[no-untyped-def]
    worker, portal, factory = setup
    portal.cameras = [cam(1)]
    settle(worker, 0)
    worker.tick(0.5)

    def refuse(body: dict[str, Any]) -> dict[str, Any]:
        raise SyncError("portal answered 401 unauthorized", status=401)

    portal.sync = refuse  # type: ignore[method-assign]
    settle(worker, 5)
    worker.tick(5.5)
    worker.tick(6)
    assert worker.cameras == {} and factory.last.signals == ["TERM"], "a revoked worker runs nothing"


def test_the_public_marker_follows_each_sync_reply(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """hls/<key>/.public exists exactly while the last reply says the camera is public and this worker runs it:
    nginx serves a signed playlist only then (transcoder/public.py)."""
    worker, portal, factory = setup
    one, two = tmp_path / "hls" / cam(1)["key"] / ".public", tmp_path / "hls" / cam(2)["key"] / ".public"
    portal.cameras = [{**cam(1), "public": True}, cam(2)]  # no "public" (an older portal): not public
    settle(worker, 0)
    assert one.is_file() and not two.exists()
    portal.cameras = [{**cam(1), "public": False}, {**cam(2), "public": True}]
    settle(worker, 5)
    assert not one.exists() and two.is_file()
    assert len(factory.started) == 2, "a switch of public or private does not restart ffmpeg"
    portal.cameras = [{**cam(2), "public": "yes"}]  # only a JSON true counts; camera 1 is no longer ours
    (tmp_path / "hls" / cam(1)["key"] / ".public").touch()
    settle(worker, 10)
    assert not one.exists() and not two.exists()
    portal.cameras = [{**cam(2), "public": True}]
    settle(worker, 15)
    assert two.is_file()
    portal.down = True  # lease and grace run out: fail closed
    settle(worker, 15 + 30 + 601)
    assert not two.exists()


def test_a_starting_worker_clears_the_markers_of_a_previous_run(tmp_path: Path) -> None:
    from transcoder.public import clear_all

    for key in ("0000000a", "0000000b"):
        (tmp_path / "hls" / key).mkdir(parents=True)
        (tmp_path / "hls" / key / ".public").touch()
    (tmp_path / "hls" / "stray-file").write_text("x")
    assert clear_all(tmp_path) == 2
    assert not list((tmp_path / "hls").glob("*/.public"))
    assert clear_all(tmp_path / "missing") == 0


def test_health_and_prometheus_text(setup) -> None:  # type: ignore[no-untyped-def]
    worker, portal, _ = setup
    portal.cameras = [cam(1)]
    settle(worker, 0)
    worker.tick(0.5)
    settle(worker, 5)
    health = portal.bodies[-1]["worker"]["health"]
    assert health["cameras_by_state"] == {"starting": 1}
    text = worker.render_metrics()
    assert 'pantau_worker_cameras{worker="w1",state="starting"} 1' in text
    assert "# TYPE pantau_worker_disk_free_bytes gauge" in text


def test_config_from_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PANTAU_WORKER_CREDENTIAL or PANTAU_WORKER_CREDENTIAL_FILE is required"):
        WorkerConfig.from_env({})
    with pytest.raises(ConfigError, match="shared PANTAU_WORKER_TOKEN is gone"):
        WorkerConfig.from_env({"PANTAU_WORKER_TOKEN": "shared"})
    with pytest.raises(ConfigError, match="PANTAU_PORTAL_URL"):
        WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "t", "PANTAU_PORTAL_URL": "ftp://x"})
    with pytest.raises(ConfigError, match="PANTAU_WORKER_CAPACITY"):
        WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "t", "PANTAU_WORKER_CAPACITY": "many"})
    config = WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "tok", "PANTAU_WORKER_METRICS": "0.0.0.0:9100"})
    assert (config.metrics_host, config.metrics_port) == ("0.0.0.0", 9100)
    assert "tok" not in repr(config)
    secret = tmp_path / "credential"
    secret.write_text("pantau_w1_from-a-file\n")
    config = WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL_FILE": str(secret)})
    assert config.credential == "pantau_w1_from-a-file" and "from-a-file" not in repr(config)
    with pytest.raises(ConfigError, match="cannot be read"):
        WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL_FILE": str(tmp_path / "missing")})


def test_a_run_without_a_live_segment_reports_no_recording(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker, portal, factory = setup
    portal.cameras = [cam(1)]
    settle(worker, 0)
    worker.tick(0.5)
    incoming = tmp_path / "recordings/1/incoming"
    (incoming / "20261122T130000Z.mp4").write_bytes(b"one frame")  # what a run that died at once leaves
    factory.last.stderr = ["[info]   Stream #0:0: Video: h264 (High), yuv420p, 1280x720, 25 fps",
                           "[aost#0:1 @ 0x1] [error] Error initializing output stream"]
    factory.last.code = 1
    worker.tick(1)
    assert not list(incoming.glob("*.mp4")) and worker.pending_segments == []
    settle(worker, 5)
    assert portal.bodies[-1]["segments"] == []
    assert portal.bodies[-1]["cameras"][0]["status"] == "error"


def test_a_stopping_worker_says_it_is_leaving_in_its_last_sync(setup) -> None:  # type: ignore[no-untyped-def]
    worker, portal, factory = setup
    portal.cameras = [cam(1)]
    settle(worker, 100.0)
    assert all("leaving" not in body["worker"] for body in portal.bodies)
    worker.shutdown()
    assert portal.bodies[-1]["worker"]["leaving"] is True and worker.left
    portal.down = True
    worker.left = False
    worker.shutdown()  # the portal did not hear it: the farewell watcher keeps trying
    assert not worker.left
def test_the_worker_records_a_real_camera_from_its_live_segments_and_reports_every_file(tmp_path: Path) -> None:
    """Real ffmpeg under the worker's loop: the recording files come from the live fMP4 segments, are reported
    as they close and when the camera stops, and abut (no gap across files or playlist rolls)."""
    import time

    from tests.support.clip import make_test_clip
    from tests.support.tools import require_tool, wait_for
    from transcoder.process import start_ffmpeg

    ffmpeg = require_tool("ffmpeg", reason="the camera's ffmpeg")
    clip = make_test_clip(width=320, height=240, fps=25, bitrate="300k", keyint=25, container="mp4")
    config = WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "t", "PANTAU_MEDIA_ROOT": str(tmp_path),
                                    "PANTAU_WORKER_NAME": "w1", "PANTAU_WORKER_METRICS": "off"})
    portal = FakePortal()
    portal.settings = {"segment_seconds": 1, "hls_list_size": 3, "record_segment_seconds": 3,
                       "allow_file_sources": True}
    portal.cameras = [cam(1, url=str(clip))]
    worker = Worker(config, client=portal, factory=start_ffmpeg, ffmpeg=ffmpeg)  # type: ignore[arg-type]
    try:
        def turn() -> list[dict[str, Any]]:  # one turn of the loop; the files reported to the portal so far
            worker.tick(time.monotonic())
            time.sleep(0.25)
            reported = {s["path"]: s for body in portal.bodies for s in body["segments"]}
            return sorted(reported.values(), key=lambda s: s["start"])

        wait_for(lambda: len(turn()) >= 2, timeout=40, interval=0, message="two recording files reported")
        assert worker.cameras[1].state is State.RUNNING
        portal.cameras = []  # unassigned: the camera stops and its open file is closed and reported
        wait_for(lambda: (turn(), 1 not in worker.cameras)[1], timeout=30, interval=0, message="camera stopped")
        settle(worker, time.monotonic())
        made = turn()
    finally:
        worker.shutdown()
    assert len(made) >= 3 and worker.recorders == {}
    for before, after in zip(made, made[1:], strict=False):
        gap = datetime.fromisoformat(after["start"]) - datetime.fromisoformat(before["end"])
        assert -1.0 <= gap.total_seconds() <= 1.0, "the files abut"
    for segment in made:
        assert (tmp_path / segment["path"]).stat().st_size == segment["bytes"] and segment["init_bytes"]
    assert not list((tmp_path / "recordings/1/incoming").glob("*.mp4"))
