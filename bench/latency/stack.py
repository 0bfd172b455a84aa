"""The system under measurement: simulated RTSP cameras, a real portal over HTTP and one real worker (ffmpeg).

Built from the same pieces as the end-to-end tests (``tests/e2e``): a migrated SQLite portal served by werkzeug
in a thread, ``python -m transcoder`` as a subprocess, and the GStreamer RTSP simulator looping a clip encoded
with a fixed keyframe interval. Everything is torn down by :meth:`Stack.close`, also after an error.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StackConfig:
    cameras: int = 3
    fps: int = 25
    keyint: int = 25  # 1 s keyframe interval at 25 fps
    segment_seconds: int = 1
    hls_list_size: int = 5
    # the browser goes through the project's nginx (nginx/pantau.conf.template), as a viewer does in production,
    # with signed media links (PANTAU_MEDIA_LINK_SECRET, docs/deploy.md); False: straight to the portal
    nginx: bool = True


@dataclass
class Stack(bench.Stack):
    config: StackConfig
    tmp: Path | None = None
    url: str = ""  # the portal itself (the worker's address for it)
    view_url: str = ""  # where the browser goes: nginx in front of the portal, or the portal
    media_root: Path | None = None
    camera_ids: list[int] = field(default_factory=list)
    media_keys: list[str] = field(default_factory=list)
    app: Any = None
    _tmpdir: tempfile.TemporaryDirectory[str] | None = None
    _server: Any = None
    _sim: Any = None
    _worker: subprocess.Popen[bytes] | None = None
    _worker_log: Any = None
    _web: Any = None  # tests.support.nginx.NginxServer, imported only when the stack starts

    # -- lifecycle --

    def start(self) -> Stack:
        from tests.conftest import issue_credential, make_settings, migrated_app
        from tests.support.clip import make_test_clip
        from tests.support.rtsp import RtspSimulator
        from tests.support.tools import free_port

        cfg = self.config
        self._tmpdir = tempfile.TemporaryDirectory(prefix="pantau-bench-latency-")
        self.tmp = Path(self._tmpdir.name)
        clip = make_test_clip(fps=cfg.fps, keyint=cfg.keyint)
        self._sim = RtspSimulator(cameras=cfg.cameras, clip=clip, fps=cfg.fps).start()

        link_secret = secrets.token_urlsafe(48) if cfg.nginx else ""
        settings = make_settings(self.tmp, sync_interval_s=1, lease_seconds=10, segment_seconds=cfg.segment_seconds,
                                 hls_list_size=cfg.hls_list_size, record_segment_seconds=60, snapshot_interval_s=5,
                                 media_link_secret=link_secret, serve_media=not cfg.nginx)
        logging.disable(logging.INFO)  # alembic's migration chatter
        try:
            self.app = migrated_app(settings)
        finally:
            logging.disable(logging.NOTSET)
        for name in ("alembic", "werkzeug"):  # migrations reconfigure logging; keep the bench's output readable
            logging.getLogger(name).setLevel(logging.WARNING)
        self.media_root = settings.media_path
        self._serve()
        self.view_url = self.url
        if cfg.nginx:
            from tests.support.nginx import NginxServer

            self.media_root.mkdir(parents=True, exist_ok=True)
            self._web = NginxServer(upstream=self.url.removeprefix("http://"), media_root=self.media_root,
                                    runtime_dir=self.tmp / "nginx", media_link_secrets=[link_secret]).start()
            self.view_url = self._web.base_url
        for i in range(1, cfg.cameras + 1):
            self._add_camera(f"Kamera Latensi {i}", self._sim.url(i))

        env = {
            **os.environ,
            "PANTAU_PORTAL_URL": self.url,
            "PANTAU_WORKER_CREDENTIAL": self._credential(issue_credential),
            "PANTAU_MEDIA_ROOT": str(self.media_root),
            "PANTAU_WORKER_NAME": "bench-latency",
            "PANTAU_WORKER_METRICS": f"127.0.0.1:{free_port()}",
            "PYTHONUNBUFFERED": "1",
        }
        self._worker_log = open(self.tmp / "worker.log", "ab")  # noqa: SIM115 - closed in close()
        self._worker = subprocess.Popen([sys.executable, "-m", "transcoder"], env=env, cwd=ROOT,
                                        stdout=self._worker_log, stderr=subprocess.STDOUT)
        return self

    def _credential(self, issue: Any) -> str:
        with self.app.app_context():
            return str(issue("bench-latency"))

    def _serve(self) -> None:
        from werkzeug.serving import make_server

        from tests.support.tools import free_port

        self._server = make_server("127.0.0.1", free_port(), self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="bench-portal", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _add_camera(self, name: str, source_url: str) -> None:
        from portal.models import Camera, db

        with self.app.app_context():
            camera = Camera(name=name, latitude=-3.97, longitude=122.51, source_url=source_url, public=True,
                            enabled=True, recording=False)
            db.session.add(camera)
            db.session.commit()
            self.camera_ids.append(camera.id)
            self.media_keys.append(camera.media_key)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Every camera reported online and has a live playlist with at least two segments."""
        from tests.support.tools import wait_for

        def ready() -> bool:
            if self._worker is not None and self._worker.poll() is not None:
                raise RuntimeError(f"worker exited with {self._worker.returncode}:\n{self.worker_log()}")
            return all(self.online(cid) and self.playlist(key).count(b"#EXTINF") >= 2
                       for cid, key in zip(self.camera_ids, self.media_keys, strict=True))

        try:
            wait_for(ready, timeout=timeout, interval=0.5, message="cameras not live")
        except AssertionError as exc:
            raise RuntimeError(f"{exc}\n--- worker log ---\n{self.worker_log()}") from exc

    def online(self, camera_id: int) -> bool:
        from portal.models import CameraStatus, db

        with self.app.app_context():
            row = db.session.get(CameraStatus, camera_id)
            return row is not None and row.status == "online"

    def playlist_path(self, key: str) -> Path:
        assert self.media_root is not None
        return self.media_root / "hls" / key / "index.m3u8"

    def playlist(self, key: str) -> bytes:
        try:
            return self.playlist_path(key).read_bytes()
        except OSError:
            return b""

    def worker_log(self, lines: int = 40) -> str:
        if self.tmp is None or not (self.tmp / "worker.log").exists():
            return ""
        return "\n".join((self.tmp / "worker.log").read_text(errors="replace").splitlines()[-lines:])

    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    def close(self) -> None:
        """Stop the worker (and any ffmpeg it left), the portal and the simulator; remove the files."""
        worker, self._worker = self._worker, None
        if worker is not None:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if self.media_root is not None:
            for pid in _ffmpeg_under(self.media_root):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._worker_log is not None:
            self._worker_log.close()
            self._worker_log = None
        web, self._web = self._web, None
        if web is not None:
            web.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.app is not None:
            from portal.models import db

            with self.app.app_context():
                db.engine.dispose()
        if self._sim is not None:
            self._sim.close()
            self._sim = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None



def _ffmpeg_under(media_root: Path) -> list[int]:
    """Pids of live ffmpeg processes whose command line names this (temporary, unique) media root."""
    found = []
    marker = str(media_root).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if argv and b"ffmpeg" in argv[0].rsplit(b"/", 1)[-1] and any(marker in a for a in argv) and state != "Z":
            found.append(int(entry.name))
    return found
