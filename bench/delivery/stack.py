"""What the viewers watch: simulated RTSP cameras (720p, 2 Mbps), a real worker writing live HLS, the portal
under gunicorn, and two nginx over the same media folder: the project's configuration (``auth_request``) and the
same configuration without its ``auth_request`` lines and signed-link locations (plain static files), and a
third copy of the project's for viewers on the plain, checked URLs at the same time. All on loopback."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench

ROOT = Path(__file__).resolve().parents[2]
LINK_SECRET = "bench-delivery-media-link-secret-0123456789"  # a throwaway, for this run's nginx and portal only


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry.name))
    return found


@dataclass
class DeliveryStack(bench.Stack):
    cameras: int = 1
    tmp: Path | None = None
    media_root: Path | None = None
    media_keys: list[str] = field(default_factory=list)
    camera_ids: list[int] = field(default_factory=list)
    gunicorn_url: str = ""
    auth_web: Any = None
    static_web: Any = None
    checked_web: Any = None
    _tmpdir: tempfile.TemporaryDirectory[str] | None = None
    _sim: Any = None
    _gunicorn: subprocess.Popen[bytes] | None = None
    _worker: subprocess.Popen[bytes] | None = None
    _logs: list[Any] = field(default_factory=list)

    def start(self) -> DeliveryStack:
        from portal.models import Camera, db
        from tests.conftest import issue_credential, make_settings, migrated_app
        from tests.e2e.test_nginx_gunicorn import start_gunicorn
        from tests.support.clip import make_test_clip
        from tests.support.nginx import TEMPLATE, NginxServer
        from tests.support.rtsp import RtspSimulator
        from tests.support.tools import free_port

        self._tmpdir = tempfile.TemporaryDirectory(prefix="pantau-bench-delivery-")
        self.tmp = tmp = Path(self._tmpdir.name)
        clip = make_test_clip(width=1280, height=720, fps=25, keyint=25, seconds=10, bitrate="2M")
        self._sim = RtspSimulator(cameras=self.cameras, clip=clip, fps=25).start()
        database_url = f"sqlite:///{tmp / 'pantau.db'}"
        settings = make_settings(tmp, database_url=database_url, serve_media=False, sync_interval_s=2,
                                 lease_seconds=20, segment_seconds=1, hls_list_size=6, snapshot_interval_s=5)
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
                camera = Camera(name=f"Kamera Ramai {i}", latitude=-3.97, longitude=122.51 + i / 100,
                                source_url=self._sim.url(i), public=True, enabled=True, recording=False)
                db.session.add(camera)
                db.session.commit()
                self.media_keys.append(camera.media_key)
                self.camera_ids.append(camera.id)
            credential = issue_credential("bench-delivery")
            db.session.remove()
            db.engine.dispose()
        env = {**os.environ, "PANTAU_ENV": "test", "PANTAU_DATABASE_URL": database_url,
               "PANTAU_MEDIA_ROOT": str(self.media_root), "PANTAU_INSTANCE_PATH": str(tmp / "instance"),
               "PANTAU_SECRET_KEY": "bench-delivery-secret", "PANTAU_SERVE_MEDIA": "false",
               "PANTAU_PROXY_COUNT": "1", "PANTAU_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png",
               "PANTAU_SYNC_INTERVAL_S": "2", "PANTAU_LEASE_SECONDS": "20", "PANTAU_SEGMENT_SECONDS": "1",
               "PANTAU_HLS_LIST_SIZE": "6", "PANTAU_SNAPSHOT_INTERVAL_S": "5", "PYTHONUNBUFFERED": "1",
               "PANTAU_MEDIA_LINK_SECRET": LINK_SECRET, "PANTAU_MEDIA_LINK_SECONDS": "20"}
        self._gunicorn, self.gunicorn_url = start_gunicorn(env, tmp / "gunicorn.log")
        upstream = self.gunicorn_url.removeprefix("http://")
        self.auth_web = NginxServer(upstream=upstream, media_root=self.media_root, runtime_dir=tmp / "nginx-auth",
                                    worker_processes=1, media_link_secrets=[LINK_SECRET]).start()
        # the same configuration again, for viewers on the plain (checked) URLs at the same time
        self.checked_web = NginxServer(upstream=upstream, media_root=self.media_root,
                                       runtime_dir=tmp / "nginx-checked", worker_processes=1,
                                       media_link_secrets=[LINK_SECRET]).start()
        static_template = tmp / "static.conf.template"
        # the same configuration, no access check: public answers, as the portal would say for a public camera
        text = re.sub(r"auth_request_set \$pantau_cache_scope [^;]+;", "set $pantau_cache_scope public;",
                      TEMPLATE.read_text())
        # and without the signed-link locations, which come first: a plain static server matches its own first
        signed = text.index("        # -- live HLS behind a signed media link")
        text = text[:signed] + text[text.index("        # -- live HLS: playlist (changes every segment) --"):]
        text = re.sub(r"\n    map \$link_kid \$pantau_link_secret \{\n.*?\n    \}\n", "\n", text, flags=re.S)
        static_template.write_text("".join(line for line in text.splitlines(keepends=True)
                                           if not re.match(r"\s*auth_request\s", line)))
        self.static_web = NginxServer(upstream=upstream, media_root=self.media_root, template=static_template,
                                      runtime_dir=tmp / "nginx-static", worker_processes=1).start()
        worker_env = {**os.environ, "PANTAU_PORTAL_URL": self.gunicorn_url, "PANTAU_WORKER_CREDENTIAL": credential,
                      "PANTAU_MEDIA_ROOT": str(self.media_root), "PANTAU_WORKER_NAME": "bench-delivery",
                      "PANTAU_WORKER_METRICS": f"127.0.0.1:{free_port()}", "PYTHONUNBUFFERED": "1"}
        log = open(tmp / "worker.log", "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(log)
        self._worker = subprocess.Popen([sys.executable, "-m", "transcoder"], env=worker_env, cwd=ROOT,
                                        stdout=log, stderr=subprocess.STDOUT)
        return self

    def playlists(self) -> list[str]:
        """The plain (checked) playlist URLs."""
        return [f"/media/hls/{key}/index.m3u8" for key in self.media_keys]

    def player_playlists(self) -> list[str]:
        """What a player is given now: the camera's status feed's ``hls_url`` (a signed media link)."""
        import requests

        urls = []
        for camera_id in self.camera_ids:
            answer = requests.get(f"{self.gunicorn_url}/kamera/{camera_id}/status.json", timeout=10)
            answer.raise_for_status()
            urls.append(str(answer.json()["hls_url"]))
        return urls

    def playlist(self, key: str) -> str:
        assert self.media_root is not None
        try:
            return (self.media_root / "hls" / key / "index.m3u8").read_text()
        except OSError:
            return ""

    def wait_live(self, timeout: float = 120) -> None:
        from tests.support.tools import wait_for

        def live() -> bool:
            if self._worker is not None and self._worker.poll() is not None:
                raise RuntimeError(f"worker exited: {self.worker_log()}")
            return all(self.playlist(k).count("#EXTINF") >= 4 for k in self.media_keys)

        wait_for(live, timeout=timeout, interval=0.5, message="cameras not live")

    def measured_bitrate_bps(self) -> float | None:
        """The live stream's bitrate, from the segments on disk and their durations in the playlist."""
        assert self.media_root is not None
        key = self.media_keys[0]
        text = self.playlist(key)
        seconds = sum(float(d) for d in re.findall(r"#EXTINF:([0-9.]+)", text))
        names = [line for line in text.splitlines() if line and not line.startswith("#")]
        size = 0
        for name in names:
            try:
                size += (self.media_root / "hls" / key / name).stat().st_size
            except OSError:
                return None
        return size * 8 / seconds if seconds else None

    def nginx_pids(self, web: Any) -> list[int]:
        master = web.proc.pid
        return [master, *children(master)]

    def portal_pids(self) -> list[int]:
        assert self._gunicorn is not None
        return [self._gunicorn.pid, *children(self._gunicorn.pid)]

    def portal_auth_hits(self, agents: Iterable[str]) -> dict[str, int]:
        """Access checks that reached gunicorn so far, for requests with each of these User-Agents (one read)."""
        assert self.tmp is not None
        try:
            text = (self.tmp / "gunicorn-access.log").read_text(errors="replace")
        except OSError:
            text = ""
        checks = [line for line in text.splitlines() if "/_auth/media/" in line]
        return {agent: sum(1 for line in checks if f'"{agent}"' in line) for agent in agents}

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
        for web in (self.auth_web, self.static_web, self.checked_web):
            if web is not None:
                web.close()
        self.auth_web = self.static_web = self.checked_web = None
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

