"""The system the switch must reach: simulated RTSP cameras, a real worker (ffmpeg) writing live HLS, the portal
under gunicorn, and the project's nginx in front (media from disk behind ``auth_request``, 1 s auth cache), all
on loopback; an admin session (signed in through nginx like a browser) and a public viewer in Chromium."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench

ROOT = Path(__file__).resolve().parents[2]
ADMIN, PASSWORD = "bench-admin", "bench-toggle-sandi-9"


@dataclass
class ToggleStack(bench.Stack):
    cameras: int = 2
    tmp: Path | None = None
    media_root: Path | None = None
    camera_ids: list[int] = field(default_factory=list)
    media_keys: list[str] = field(default_factory=list)
    gunicorn_url: str = ""
    web: Any = None
    admin: Any = None  # requests.Session signed in as an admin
    _tmpdir: tempfile.TemporaryDirectory[str] | None = None
    _sim: Any = None
    _gunicorn: subprocess.Popen[bytes] | None = None
    _worker: subprocess.Popen[bytes] | None = None
    _logs: list[Any] = field(default_factory=list)

    def start(self) -> ToggleStack:
        import requests

        from portal.models import Camera, db
        from tests.conftest import issue_credential, make_settings, make_user, migrated_app
        from tests.e2e.test_nginx_gunicorn import start_gunicorn
        from tests.support.clip import make_test_clip
        from tests.support.nginx import NginxServer
        from tests.support.rtsp import RtspSimulator
        from tests.support.tools import free_port

        self._tmpdir = tempfile.TemporaryDirectory(prefix="pantau-bench-toggle-")
        self.tmp = tmp = Path(self._tmpdir.name)
        clip = make_test_clip(width=640, height=360, fps=25, keyint=25, seconds=10)
        self._sim = RtspSimulator(cameras=self.cameras, clip=clip, fps=25).start()
        database_url = f"sqlite:///{tmp / 'pantau.db'}"
        settings = make_settings(tmp, database_url=database_url, serve_media=False, sync_interval_s=1,
                                 lease_seconds=10, segment_seconds=1, hls_list_size=5, record_segment_seconds=60,
                                 snapshot_interval_s=2)
        logging.disable(logging.INFO)
        try:
            app = migrated_app(settings)
        finally:
            logging.disable(logging.NOTSET)
        for name in ("alembic", "werkzeug"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.media_root = settings.media_path
        with app.app_context():
            for i in range(1, self.cameras + 1):
                camera = Camera(name=f"Kamera Saklar {i}", latitude=-3.97, longitude=122.51 + i / 100,
                                source_url=self._sim.url(i), public=True, enabled=True, recording=False)
                db.session.add(camera)
                db.session.commit()
                self.camera_ids.append(camera.id)
                self.media_keys.append(camera.media_key)
            make_user("admin", username=ADMIN, password=PASSWORD)
            credential = issue_credential("bench-toggle")
            db.session.remove()
            db.engine.dispose()
        env = {**os.environ, "PANTAU_ENV": "test", "PANTAU_DATABASE_URL": database_url,
               "PANTAU_MEDIA_ROOT": str(self.media_root), "PANTAU_INSTANCE_PATH": str(tmp / "instance"),
               "PANTAU_SECRET_KEY": "bench-toggle-secret", "PANTAU_SERVE_MEDIA": "false", "PANTAU_PROXY_COUNT": "1",
               "PANTAU_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png", "PANTAU_SYNC_INTERVAL_S": "1",
               "PANTAU_LEASE_SECONDS": "10", "PANTAU_SEGMENT_SECONDS": "1", "PANTAU_HLS_LIST_SIZE": "5",
               "PANTAU_SNAPSHOT_INTERVAL_S": "2", "PYTHONUNBUFFERED": "1"}
        self._gunicorn, self.gunicorn_url = start_gunicorn(env, tmp / "gunicorn.log")
        self.web = NginxServer(upstream=self.gunicorn_url.removeprefix("http://"), media_root=self.media_root,
                               runtime_dir=tmp / "nginx").start()  # the renderer's default auth cache (1 s)
        worker_env = {**os.environ, "PANTAU_PORTAL_URL": self.gunicorn_url, "PANTAU_WORKER_CREDENTIAL": credential,
                      "PANTAU_MEDIA_ROOT": str(self.media_root), "PANTAU_WORKER_NAME": "bench-toggle",
                      "PANTAU_WORKER_METRICS": f"127.0.0.1:{free_port()}", "PYTHONUNBUFFERED": "1"}
        log = open(tmp / "worker.log", "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(log)
        self._worker = subprocess.Popen([sys.executable, "-m", "transcoder"], env=worker_env, cwd=ROOT,
                                        stdout=log, stderr=subprocess.STDOUT)
        self.admin = requests.Session()
        page = self.admin.get(self.web.url("/masuk"), timeout=10)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the sign-in page"
        signed = self.admin.post(self.web.url("/masuk"), data={"csrf_token": token.group(1), "username": ADMIN,
                                                               "password": PASSWORD}, allow_redirects=False, timeout=10)
        assert signed.status_code == 302, signed.text[:500]
        return self

    def csrf(self) -> str:
        page = self.admin.get(self.web.url("/admin/kamera"), timeout=10)
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        assert found, "no CSRF token on the console"
        return found.group(1)

    def switch(self, camera_id: int, public: bool, token: str) -> None:
        response = self.admin.post(self.web.url("/admin/kamera/publik"),
                                   data={"ids": str(camera_id), "public": "1" if public else "0",
                                         "reason": "bench/toggle"},
                                   headers={"X-CSRFToken": token, "HX-Request": "true"}, timeout=10)
        assert response.status_code == 200, response.text[:300]

    def playlist(self, key: str) -> bytes:
        assert self.media_root is not None
        try:
            return (self.media_root / "hls" / key / "index.m3u8").read_bytes()
        except OSError:
            return b""

    def wait_live(self, timeout: float = 90) -> None:
        from tests.support.tools import wait_for

        def live() -> bool:
            if self._worker is not None and self._worker.poll() is not None:
                raise RuntimeError(f"worker exited: {self.worker_log()}")
            return all(self.playlist(k).count(b"#EXTINF") >= 2 for k in self.media_keys)

        wait_for(live, timeout=timeout, interval=0.5, message="cameras not live")

    def worker_log(self) -> str:
        assert self.tmp is not None
        return (self.tmp / "worker.log").read_text(errors="replace")[-3000:]

    def close(self) -> None:
        from tests.e2e.test_nginx_gunicorn import stop_gunicorn

        worker, self._worker = self._worker, None
        if worker is not None:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if self.web is not None:
            self.web.close()
            self.web = None
        if self._gunicorn is not None:
            stop_gunicorn(self._gunicorn)
            self._gunicorn = None
        if self._sim is not None:
            self._sim.close()
            self._sim = None
        for log in self._logs:
            log.close()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

