"""End-to-end fixtures: a real portal over HTTP, real workers (ffmpeg) and simulated RTSP cameras."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from tests.conftest import issue_credential, make_settings, migrated_app
from tests.support.tools import free_port, require_tool, wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Portal:
    app: Flask
    url: str
    media_root: Path
    server: BaseWSGIServer
    credentials: dict[str, str] = field(default_factory=dict)

    def credential(self, name: str) -> str:
        """Worker ``name``'s own credential (``pantau workers add``), issued once per portal."""
        if name not in self.credentials:
            with self.app.app_context():
                self.credentials[name] = issue_credential(name)
        return self.credentials[name]

    def worker_env(self, name: str, **extra: str) -> dict[str, str]:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PANTAU_WORKER_", "PANTAU_PORTAL_"))},
            "PANTAU_PORTAL_URL": self.url,
            "PANTAU_WORKER_CREDENTIAL": self.credential(name),
            "PANTAU_MEDIA_ROOT": str(self.media_root),
            "PANTAU_WORKER_NAME": name,
            "PANTAU_WORKER_METRICS": f"127.0.0.1:{free_port()}",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra)
        return env


def serve(app: Flask) -> tuple[BaseWSGIServer, str]:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


E2E_SETTINGS = {"sync_interval_s": 1, "lease_seconds": 6, "segment_seconds": 1, "hls_list_size": 4,
                "record_segment_seconds": 4, "snapshot_interval_s": 2}


@contextmanager
def running_portal(tmp_path: Path, **overrides: object) -> Iterator[Portal]:
    """A migrated portal over real HTTP with short intervals (overridable), stopped afterwards."""
    require_tool("ffmpeg", reason="the worker runs ffmpeg")
    settings = make_settings(tmp_path, **{**E2E_SETTINGS, **overrides})
    app = migrated_app(settings)
    server, url = serve(app)
    try:
        yield Portal(app=app, url=url, media_root=settings.media_path, server=server)
    finally:
        server.shutdown()
        with app.app_context():
            from portal.models import db

            db.engine.dispose()


@pytest.fixture()
def portal(tmp_path: Path) -> Iterator[Portal]:
    with running_portal(tmp_path) as running:
        yield running


def ffmpeg_children(media_root: Path) -> list[int]:
    """Pids of ffmpeg processes writing under this media root (so parallel runs don't confuse us)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        root = str(media_root).encode()
        if cmdline and b"ffmpeg" in cmdline[0].rsplit(b"/", 1)[-1] and any(root in a for a in cmdline):
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                found.append(int(entry.name))
    return found


@dataclass
class Workers:
    portal: Portal
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        log = open(self.portal.media_root.parent / f"worker-{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "transcoder"], env=self.portal.worker_env(name, **env), cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.portal.media_root.parent / f"worker-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def worker_pool(portal: Portal) -> Iterator[Workers]:
    """Workers for this portal; afterwards every one is stopped and no ffmpeg may be left."""
    pool = Workers(portal)
    try:
        yield pool
    finally:
        pool.stop_all()
        leftovers = ffmpeg_children(portal.media_root)
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert not leftovers, f"ffmpeg left running after the workers stopped: {leftovers}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that ran workers carries the end of each worker's log in its report (what CI prints)."""
    report = yield
    pool = getattr(item, "funcargs", {}).get("workers")
    if report.when == "call" and report.failed and isinstance(pool, Workers):
        for path in sorted(pool.portal.media_root.parent.glob("worker-*.log")):
            lines = path.read_text(errors="replace").splitlines()
            report.sections.append((f"{path.name}, the last {min(len(lines), 60)} of {len(lines)} lines",
                                    "\n".join(lines[-60:])))
    return report


@pytest.fixture()
def workers(portal: Portal) -> Iterator[Workers]:
    with worker_pool(portal) as pool:
        yield pool


@pytest.fixture()
def rtsp() -> Iterator[Callable[..., object]]:
    from tests.support.rtsp import RtspSimulator

    started: list[RtspSimulator] = []

    def start(**kwargs: object) -> RtspSimulator:
        sim = RtspSimulator(**kwargs)  # type: ignore[arg-type]
        sim.start()
        started.append(sim)
        return sim

    try:
        yield start
    finally:
        for sim in started:
            sim.close()


__all__ = ["Portal", "Workers", "ffmpeg_children", "wait_for"]
