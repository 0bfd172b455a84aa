"""The system the soak runs against, as a new deployment would run it, all on loopback: a PostgreSQL of its own,
the portal under gunicorn, the project's nginx in front, two transcoder workers on media nodes of their own (each
its own media folder, served by its own nginx from nginx/media-node.conf.template, named to the portal in the sync
as a real deployment with media nodes does), the jobs process when the portal has one, and simulated RTSP cameras
(some behind a proxy that can freeze them). Each piece can be killed and started again; :meth:`SoakStack.close`
stops everything."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench
from bench.soak.postgres import PrivatePostgres

ROOT = Path(__file__).resolve().parents[2]
PANTAU = Path(sys.executable).with_name("pantau")


@dataclass
class SoakConfig:
    minutes: float = 10.0
    cameras: int = 20
    workers: tuple[str, ...] = ("w1", "w2")
    seed: int = 13
    viewers: int = 50
    held_cameras: int = 4
    disk_pressure: bool = True  # the killed worker comes back with its disk guard forced on (see README)
    stale_after_s: float = 4.0  # a playlist whose newest segment is older than this is not live
    sample_interval_s: float = 1.0
    signed_links: bool = True  # PANTAU_MEDIA_LINK_SECRET set, as docs/deploy.md's production configuration
    stale_auth: bool = False  # an experiment, not the project's config: nginx keeps serving its last access
    # decision when the portal cannot answer (proxy_cache_use_stale on the auth_request cache)
    keep: bool = False  # keep the temporary folder (logs, media) for a post-mortem
    portal_settings: dict[str, Any] = field(default_factory=dict)


REPORT_SECRET = "whsec_soak-shared-secret"
TEMPLATE = ROOT / "nginx" / "pantau.conf.template"
MEDIA_NODE_TEMPLATE = ROOT / "nginx" / "media-node.conf.template"
STALE_AFTER = "proxy_cache_lock on;"  # its first use is in the media access check (/_pantau_auth)
STALE_LINE = "proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;"


def reports_available() -> bool:
    """Does this portal take public reports and dispatch them on receipt (``portal.reports``, ``auto_dispatch``)?"""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("portal.reports", "portal.dispatch.auto"))


def jobs_available() -> bool:
    """Does this portal have a jobs process (``pantau jobs``)?"""
    try:
        done = subprocess.run([str(PANTAU), "jobs", "--help"], capture_output=True, timeout=60, cwd=ROOT,
                              env={**os.environ, "PANTAU_ENV": "test"})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def ffmpeg_pids(media_root: Path, needle: str = "") -> list[int]:
    """Live ffmpeg processes whose argv names this media root (and ``needle``, when given)."""
    found = []
    marker, extra = str(media_root).encode(), needle.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if (argv and b"ffmpeg" in argv[0].rsplit(b"/", 1)[-1] and any(marker in a for a in argv)
                and (not extra or any(extra in a for a in argv)) and state != "Z"):
            found.append(int(entry.name))
    return found


@dataclass
class Camera:
    number: int  # 1-based, as in the fault plan
    id: int
    key: str
    sim_name: str


@dataclass
class SoakStack(bench.Stack):
    config: SoakConfig
    frozen: set[int] = field(default_factory=set)  # camera numbers that get a freezable proxy
    tmp: Path = Path()
    media_root: Path = Path()  # the parent of every node's folder (and the portal's own, unused, media root)
    node_roots: dict[str, Path] = field(default_factory=dict)  # worker name -> its node's media folder
    node_urls: dict[str, str] = field(default_factory=dict)  # worker name -> its node's public media address
    nodes: dict[str, Any] = field(default_factory=dict)  # worker name -> its node's nginx
    cameras: list[Camera] = field(default_factory=list)
    nginx_url: str = ""
    gunicorn_port: int = 0
    hold_spans: list[tuple[int, float, float]] = field(default_factory=list)  # (camera id, start, end) wall clock
    jobs: bool = False
    reports: bool = False  # public reports dispatched on receipt to a webhook receiver of the soak's own
    receiver: Any = None
    app: Any = None
    pg: PrivatePostgres | None = None
    web: Any = None
    sim: Any = None
    proxies: dict[int, Any] = field(default_factory=dict)
    portal_proc: subprocess.Popen[bytes] | None = None
    portal_socket: Any = None  # the portal's listening socket, held across restarts (pantau-portal.socket)
    jobs_proc: subprocess.Popen[bytes] | None = None
    worker_procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)
    _tmpdir: tempfile.TemporaryDirectory[str] | None = None
    _env: dict[str, str] = field(default_factory=dict)

    # -- start --

    def start(self) -> SoakStack:
        from portal.models import Camera as CameraRow
        from portal.models import db
        from tests.conftest import issue_credential, make_settings, migrated_app
        from tests.support.clip import make_test_clip
        from tests.support.nginx import NginxServer
        from tests.support.proxy import FreezableProxy
        from tests.support.rtsp import RtspSimulator
        from tests.support.tools import free_port

        cfg = self.config
        self._tmpdir = tempfile.TemporaryDirectory(prefix="pantau-soak-")
        self.tmp = Path(self._tmpdir.name)
        os.chmod(self.tmp, 0o755)
        self.pg = PrivatePostgres().start()
        clip = make_test_clip(width=640, height=360, fps=25, keyint=25, seconds=10)
        self.sim = RtspSimulator(cameras=cfg.cameras, clip=clip, fps=25).start()
        for number in sorted(self.frozen):
            self.proxies[number] = FreezableProxy(("127.0.0.1", self.sim.port))
        secret_key = "soak-" + os.urandom(16).hex()
        for worker in cfg.workers:
            self.node_urls[worker] = f"http://127.0.0.1:{free_port()}"
        cfg.portal_settings.setdefault("media_origins", ",".join(self.node_urls.values()))
        # production as docs/deploy.md sets it up: public players get signed media links, which nginx checks by
        # itself; without them every playlist asks the portal (auth_request), and a portal or database restart
        # holds every viewer's playlist
        if cfg.signed_links:
            cfg.portal_settings.setdefault("media_link_secret", secrets.token_urlsafe(48))
        link_secrets = [str(cfg.portal_settings["media_link_secret"])] if cfg.portal_settings.get(
            "media_link_secret") else []
        self.jobs = jobs_available()
        self.reports = self.jobs and reports_available()
        if self.reports:
            from tests.support.receiver import Receiver

            self.receiver = Receiver(secret=REPORT_SECRET, validate_cap=False).start()
            self.receiver.hold_s = 0.2  # an agency system takes a moment to answer: deliveries overlap restarts
            cfg.portal_settings.setdefault("auto_dispatch_categories", "fire")  # dispatched on receipt
        settings = make_settings(self.tmp, database_url=self.pg.url, serve_media=False, secret_key=secret_key,
                                 **cfg.portal_settings)
        logging.disable(logging.INFO)
        try:
            self.app = migrated_app(settings)
        finally:
            logging.disable(logging.NOTSET)
        for name in ("alembic", "werkzeug"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.media_root = settings.media_path
        for worker in cfg.workers:
            self.node_roots[worker] = self.media_root / worker
            self.node_roots[worker].mkdir(parents=True, exist_ok=True)
        with self.app.app_context():
            for number in range(1, cfg.cameras + 1):
                name = self.sim.name(number)
                proxy = self.proxies.get(number)
                source = proxy.url(name) if proxy is not None else self.sim.url(number)
                row = CameraRow(name=f"Kamera Soak {number}", latitude=-3.97 + number / 1000,
                                longitude=122.51 + number / 1000, source_url=source, public=True, enabled=True,
                                recording=True)
                db.session.add(row)
                db.session.commit()
                self.cameras.append(Camera(number, row.id, row.media_key, name))
            for worker in cfg.workers:
                self.credentials[worker] = issue_credential(worker)
            if self.reports:
                self._add_agency(secret_key)
            db.session.remove()
            db.engine.dispose()
        nginx_port = free_port()
        self.gunicorn_port = free_port()
        self.nginx_url = f"http://127.0.0.1:{nginx_port}"
        self._env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")},
            "PANTAU_ENV": "production", "PANTAU_DATABASE_URL": self.pg.url, "PANTAU_MEDIA_ROOT": str(self.media_root),
            "PANTAU_INSTANCE_PATH": str(self.tmp / "instance"), "PANTAU_SECRET_KEY": secret_key,
            "PANTAU_SERVE_MEDIA": "false", "PANTAU_PROXY_COUNT": "1", "PANTAU_PUBLIC_URL": self.nginx_url,
            "PANTAU_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png", "PYTHONUNBUFFERED": "1",
            **{f"PANTAU_{k.upper()}": str(v) for k, v in cfg.portal_settings.items()},
        }
        # PANTAU_ENV=test: in production the app refuses to start without the key `keys generate` would make
        keys = subprocess.run([str(PANTAU), "keys", "generate", "--if-missing"], cwd=ROOT,
                              env={**self._env, "PANTAU_ENV": "test"},
                              capture_output=True, text=True, timeout=120)
        if keys.returncode != 0:
            raise RuntimeError(f"pantau keys generate failed: {keys.stderr[-2000:]}")
        self.start_portal()
        template = TEMPLATE
        if cfg.stale_auth:
            template = self.tmp / "pantau-stale-auth.conf.template"
            text = TEMPLATE.read_text()
            if STALE_LINE not in text:  # (the project's config has carried it since the soak showed the need)
                assert STALE_AFTER in text, "the nginx template changed: the stale-auth experiment needs updating"
                text = text.replace(STALE_AFTER, STALE_AFTER + "\n            " + STALE_LINE, 1)
            template.write_text(text)
        self.web = NginxServer(upstream=f"127.0.0.1:{self.gunicorn_port}", media_root=self.media_root,
                               runtime_dir=self.tmp / "nginx", port=nginx_port, template=template,
                               media_link_secrets=link_secrets).start()
        for worker in cfg.workers:
            self.nodes[worker] = NginxServer(
                upstream=f"127.0.0.1:{self.gunicorn_port}", media_root=self.node_roots[worker],
                runtime_dir=self.tmp / f"nginx-{worker}", port=int(self.node_urls[worker].rsplit(":", 1)[1]),
                template=MEDIA_NODE_TEMPLATE, media_node_url=self.node_urls[worker],
                media_link_secrets=link_secrets).start()
        if self.jobs:
            self.start_jobs()
        for worker in cfg.workers:
            self.start_worker(worker)
        return self

    def _add_agency(self, secret_key: str) -> None:
        """The fire brigade, with a webhook on the soak's receiver, and the rule that sends it fires."""
        from portal.dispatch import sealing
        from portal.models import Agency, RoutingRule, db

        agency = Agency(code="damkar", name="DAMKAR Kendari", kind="fire", email="",
                        webhook_url=f"{self.receiver.url}/hook", cap_url=None,
                        webhook_secret=sealing.seal(REPORT_SECRET, secret_key))
        db.session.add(agency)
        db.session.flush()
        db.session.add(RoutingRule(category="fire", agency_id=agency.id, sla_minutes=10))
        db.session.commit()

    def deliveries(self) -> list[tuple[str, str, str]]:
        """(tracking code, event, delivery id) of every webhook that reached the receiver, repeats included."""
        import json

        if self.receiver is None:
            return []
        with self.receiver.lock:
            arrived = list(self.receiver.received)
        found = []
        for item in arrived:
            try:
                body = json.loads(item.body)
                found.append((str(body["incident"]["tracking_code"]), str(body["event"]), item.delivery_id))
            except (ValueError, KeyError, TypeError):
                found.append(("?", "?", item.delivery_id))
        return found

    def _log(self, name: str) -> Any:
        return (self.tmp / f"{name}.log").open("ab")

    def start_portal(self, timeout: float = 60) -> float:
        """Start gunicorn on the portal's port; returns how long until /healthz answered."""
        from tests.support.activation import listening_socket, start_activated
        from tests.support.tools import wait_for

        began = time.monotonic()
        if self.portal_socket is None:  # held here across restarts, as systemd holds pantau-portal.socket
            self.portal_socket = listening_socket(port=self.gunicorn_port)
        with self._log("gunicorn") as sink:
            self.portal_proc = start_activated(
                [sys.executable, "-m", "gunicorn", "wsgi:app", "-w", "2",
                 "--access-logfile", str(self.tmp / "gunicorn-access.log")],
                self.portal_socket, self._env, stdout=sink, stderr=sink, cwd=ROOT)
        url = f"http://127.0.0.1:{self.gunicorn_port}/healthz"

        def healthy() -> bool:
            import requests

            return self.portal_proc is None or self.portal_proc.poll() is not None or \
                requests.get(url, timeout=2).status_code == 200

        wait_for(healthy, timeout=timeout, interval=0.1, message="gunicorn did not answer /healthz")
        if self.portal_proc is None or self.portal_proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {self.log_tail('gunicorn')}")
        return time.monotonic() - began

    def stop_portal(self) -> None:
        proc, self.portal_proc = self.portal_proc, None
        _stop(proc, signal.SIGTERM, 20)

    def restart_portal(self) -> float:
        """Stop gunicorn (SIGTERM: graceful) and start it again; returns the seconds nobody answered."""
        began = time.monotonic()
        self.stop_portal()
        self.start_portal()
        return time.monotonic() - began

    def start_jobs(self) -> None:
        with self._log("jobs") as sink:
            self.jobs_proc = subprocess.Popen([str(PANTAU), "jobs"], cwd=ROOT, env=self._env,
                                              stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)

    def restart_jobs(self) -> None:
        proc, self.jobs_proc = self.jobs_proc, None
        _stop(proc, signal.SIGTERM, 20)
        self.start_jobs()

    def start_worker(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        from tests.support.tools import free_port

        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")},
            "PANTAU_PORTAL_URL": self.nginx_url, "PANTAU_WORKER_CREDENTIAL": self.credentials[name],
            "PANTAU_MEDIA_ROOT": str(self.node_roots[name]), "PANTAU_MEDIA_URL": self.node_urls[name],
            "PANTAU_WORKER_NAME": name,
            "PANTAU_WORKER_METRICS": f"127.0.0.1:{free_port()}", "PYTHONUNBUFFERED": "1", **extra,
        }
        with self._log(f"worker-{name}") as sink:
            proc = subprocess.Popen([sys.executable, "-m", "transcoder"], env=env, cwd=ROOT, stdout=sink,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.worker_procs[name] = proc
        return proc

    def kill_worker(self, name: str) -> int:
        proc = self.worker_procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        return proc.pid

    def restart_worker(self, name: str) -> None:
        extra = {}
        if self.config.disk_pressure:  # the guard wants every byte back: only holds stop it deleting
            extra = {"PANTAU_DISK_MIN_FREE_PERCENT": "100", "PANTAU_HOUSEKEEPING_INTERVAL_S": "2"}
        self.start_worker(name, **extra)

    def stop_workers(self, timeout: float = 30) -> None:
        for proc in self.worker_procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.worker_procs.values():
            _stop(proc, signal.SIGTERM, timeout)

    # -- cameras --

    def camera(self, number: int) -> Camera:
        return self.cameras[number - 1]

    def drop(self, number: int) -> None:
        self.sim.stop_camera(self.camera(number).sim_name)

    def undrop(self, number: int) -> None:
        self.sim.start_camera(self.camera(number).sim_name)

    def freeze(self, number: int) -> None:
        self.proxies[number].freeze()

    def thaw(self, number: int) -> None:
        self.proxies[number].thaw()

    def kill_ffmpeg(self, number: int) -> int:
        pids = ffmpeg_pids(self.media_root, f"/hls/{self.camera(number).key}/")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def status_url(self, number: int) -> str:
        """What an open player polls to learn where the camera runs now (its ``hls_url`` on a media node)."""
        return f"{self.nginx_url}/kamera/{self.camera(number).id}/status.json"

    def playlist_url(self, number: int) -> str:
        """The camera's live playlist where it runs now (asked of the portal, as the player asks)."""
        import requests

        return str(requests.get(self.status_url(number), timeout=5).json()["hls_url"])

    # -- the database --

    def put_hold(self, start: float, end: float) -> None:
        """An admin's legal hold over [start, end] (wall clock) on the first ``held_cameras`` cameras."""
        from portal.footage import holds
        from portal.models import db
        from portal.models.footage import HoldKind

        chosen = self.cameras[:: max(1, len(self.cameras) // max(1, self.config.held_cameras))]
        chosen = chosen[: self.config.held_cameras]
        begin, finish = (dt.datetime.fromtimestamp(t, dt.UTC) for t in (start, end))
        with self.app.app_context():
            for cam in chosen:
                holds.put(cam.id, begin, finish, kind=HoldKind.ADMIN, reason="bench/soak",
                          keep_until=finish + dt.timedelta(days=30))
                self.hold_spans.append((cam.id, start, end))
            db.session.commit()
            db.session.remove()
            db.engine.dispose()

    def leases(self) -> dict[int, int]:
        """camera id -> id of the worker holding its lease."""
        from sqlalchemy import select

        from portal.models import CameraLease, db

        with self.app.app_context():
            rows = db.session.execute(select(CameraLease.camera_id, CameraLease.worker_id)).all()
            db.session.remove()
            db.engine.dispose()
        return {int(c): int(w) for c, w in rows}

    def segments(self) -> list[tuple[int, float, float, str, bool]]:
        """Every indexed recording segment: (camera id, start, end, path, deleted)."""
        from sqlalchemy import select

        from portal.models import RecordingSegment, db

        with self.app.app_context():
            rows = db.session.execute(select(RecordingSegment.camera_id, RecordingSegment.start_at,
                                             RecordingSegment.end_at, RecordingSegment.path,
                                             RecordingSegment.deleted_at)).all()
            db.session.remove()
            db.engine.dispose()
        return [(int(c), _epoch(s), _epoch(e), str(p), d is not None) for c, s, e, p, d in rows]

    def held_files_on_disk(self) -> set[str]:
        """Recording files on disk (relative paths) whose time overlaps a hold span."""
        found = set()
        for (cam_id, start, end), root in ((span, root) for span in self.hold_spans
                                           for root in self.node_roots.values()):
            for file in (root / "recordings" / str(cam_id)).glob("[0-9]*/*.mp4"):
                try:
                    began = dt.datetime.strptime(file.parent.name + file.name[:6], "%Y%m%d%H%M%S")
                    last = file.stat().st_mtime
                except (ValueError, OSError):
                    continue
                if began.replace(tzinfo=dt.UTC).timestamp() <= end and last >= start:
                    found.add(str(file.relative_to(root)))
        return found

    def recordings_on_disk(self) -> set[str]:
        """Every recording file on any node, relative to its node's media folder (as the index names them)."""
        return {str(p.relative_to(root)) for root in self.node_roots.values()
                for p in (root / "recordings").glob("*/*/*.mp4")}

    # -- logs --

    def log_tail(self, name: str, chars: int = 3000) -> str:
        try:
            return (self.tmp / f"{name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def access_log(self) -> str:
        """The front door's access log and every media node's."""
        return "".join(str(web.access_log()) for web in (self.web, *self.nodes.values()) if web is not None)

    # -- stop --

    def close(self) -> None:
        if self.worker_procs:
            self.stop_workers()
        for pid in ffmpeg_pids(self.media_root) if self.media_root != Path() else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc, self.jobs_proc = self.jobs_proc, None
        _stop(proc, signal.SIGTERM, 20)
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        if self.web is not None:
            self.web.close()
            self.web = None
        for node in self.nodes.values():
            node.close()
        self.nodes = {}
        self.stop_portal()
        if self.portal_socket is not None:
            self.portal_socket.close()
            self.portal_socket = None
        for proxy in self.proxies.values():
            proxy.close()
        self.proxies = {}
        if self.sim is not None:
            self.sim.close()
            self.sim = None
        if self.app is not None:
            from portal.models import db

            with self.app.app_context():
                db.engine.dispose()
        if self.pg is not None:
            self.pg.close()
            self.pg = None
        if self._tmpdir is not None:
            if self.config.keep:
                kept = Path(tempfile.mkdtemp(prefix="pantau-soak-kept-"))
                for name in [f"{d}/{f}" for d in ("nginx", *(f"nginx-{w}" for w in self.config.workers))
                             for f in ("access.log", "error.log")]:
                    if (self.tmp / name).exists():
                        shutil.copy(self.tmp / name, kept / name.replace("/", "-"))
                for log in self.tmp.glob("*.log"):
                    shutil.copy(log, kept / log.name)
                print(f"soak: logs kept in {kept}", file=sys.stderr)
            self._tmpdir.cleanup()
            self._tmpdir = None



def _stop(proc: subprocess.Popen[bytes] | None, signum: int, timeout: float) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _epoch(value: dt.datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
