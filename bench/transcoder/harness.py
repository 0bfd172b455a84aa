"""Plumbing for the transcoder benchmark: an in-process portal, the worker process, bare ffmpeg fleets,
/proc accounting, a freezable TCP proxy in front of a simulated camera and a reader of the worker's log."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from tests.support.proxy import FreezableProxy  # noqa: F401 (used by the stall phase)

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- /proc accounting --


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of one process (all its threads), in seconds; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_ppid(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[1])


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and proc_ppid(int(entry)) == parent:
            found.append(int(entry))
    return found


def system_busy() -> tuple[float, float]:
    """(busy jiffies, total jiffies) of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return float(total - idle), float(total)


class CpuWindow:
    """CPU seconds used by named groups of processes between ``start()`` and ``stop()``.

    Only processes alive at both ends count (a process that restarts inside the window is reported in
    ``changed``, so a window can be rejected); the machine's overall busy share comes from /proc/stat.
    """

    def __init__(self, groups: Mapping[str, Sequence[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self.before: dict[int, float] = {}
        self.t0 = 0.0
        self.sys0 = (0.0, 0.0)

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.sys0 = system_busy()
        self.before = {}
        for pids in self.groups.values():
            for pid in pids:
                value = proc_cpu_s(pid)
                if value is not None:
                    self.before[pid] = value

    def stop(self, groups: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
        seconds = time.monotonic() - self.t0
        busy1, total1 = system_busy()
        now_groups = groups or self.groups
        result: dict[str, Any] = {"window_s": round(seconds, 2)}
        changed = 0
        for name, pids in now_groups.items():
            used = 0.0
            for pid in pids:
                value = proc_cpu_s(pid)
                if value is None or pid not in self.before:
                    changed += 1
                    continue
                used += value - self.before[pid]
            gone = len(set(self.groups.get(name, [])) - set(pids))
            changed += gone
            result[f"{name}_cpu_s"] = round(used, 3)
            result[f"{name}_core_pct"] = round(100 * used / seconds, 2)
        result["changed_processes"] = changed
        busy = (busy1 - self.sys0[0]) / max(1.0, total1 - self.sys0[1])
        result["machine_busy_pct"] = round(100 * busy, 1)
        # everything else on the machine, this benchmark's own process (portal, samplers) included
        cores = len(os.sched_getaffinity(0))
        ours = sum(v for k, v in result.items() if k.endswith("_core_pct"))
        result["other_core_pct"] = round(max(0.0, 100 * busy * cores - ours), 1)
        return result


# -- freshness of live playlists --


def playlist_ages(playlists: Iterable[Path], wall: float | None = None) -> list[float]:
    """Age in seconds of each playlist's last write; a missing playlist counts as infinitely old."""
    now = time.time() if wall is None else wall
    ages = []
    for path in playlists:
        try:
            ages.append(max(0.0, now - os.stat(path).st_mtime))
        except OSError:
            ages.append(float("inf"))
    return ages


def wait_fresh(playlists: list[Path], limit_s: float, timeout: float) -> tuple[bool, int]:
    """Wait until every playlist is younger than ``limit_s``; returns (all fresh, how many fresh)."""
    deadline = time.monotonic() + timeout
    while True:
        fresh = sum(1 for age in playlist_ages(playlists) if age < limit_s)
        if fresh == len(playlists):
            return True, fresh
        if time.monotonic() > deadline:
            return False, fresh
        time.sleep(0.5)


@dataclass
class FreshnessWindow:
    samples: int = 0
    worst_age_s: float = 0.0
    stale_samples: int = 0  # samples in which at least one playlist was too old
    stale_cameras_max: int = 0

    def sample(self, playlists: list[Path], limit_s: float) -> None:
        ages = playlist_ages(playlists)
        stale = sum(1 for age in ages if age >= limit_s)
        self.samples += 1
        self.worst_age_s = max(self.worst_age_s, max(ages) if ages else 0.0)
        if stale:
            self.stale_samples += 1
            self.stale_cameras_max = max(self.stale_cameras_max, stale)

    @property
    def all_fresh(self) -> bool:
        return self.samples > 0 and self.stale_samples == 0


# -- the portal, in process --


@dataclass
class Portal:
    app: Flask
    url: str
    media_root: Path
    server: BaseWSGIServer
    syncs: list[tuple[float, float]] = field(default_factory=list)  # (wall clock at the end, seconds taken)
    credentials: dict[str, str] = field(default_factory=dict)

    def sync_seconds(self, since: float) -> list[float]:
        return [taken for end, taken in list(self.syncs) if end >= since]

    def add_cameras(self, urls: Sequence[str], prefix: str = "Bench") -> list[tuple[int, str]]:
        """Insert enabled, recorded cameras; returns (id, media key) of each, in order."""
        from portal.models import Camera, db

        with self.app.app_context():
            rows = [Camera(name=f"{prefix} {i}", latitude=-3.97, longitude=122.51, source_url=url, public=True,
                           enabled=True, recording=True) for i, url in enumerate(urls, 1)]
            db.session.add_all(rows)
            db.session.commit()
            return [(row.id, row.media_key) for row in rows]

    def set_enabled(self, ids: Sequence[int], enabled: bool) -> None:
        from sqlalchemy import update

        from portal.models import Camera, db

        with self.app.app_context():
            db.session.execute(update(Camera).where(Camera.id.in_(list(ids))).values(enabled=enabled))
            db.session.commit()

    def statuses(self, ids: Sequence[int]) -> dict[int, str]:
        from sqlalchemy import select

        from portal.models import CameraStatus, db

        with self.app.app_context():
            rows = db.session.execute(select(CameraStatus.camera_id, CameraStatus.status)
                                      .where(CameraStatus.camera_id.in_(list(ids)))).all()
            db.session.remove()
        return {int(cam_id): str(status) for cam_id, status in rows}

    def playlist(self, key: str) -> Path:
        return self.media_root / "hls" / key / "index.m3u8"

    def credential(self, name: str) -> str:
        """Worker ``name``'s own credential (``pantau workers add``), issued once."""
        if name not in self.credentials:
            from portal.models import db
            from portal.workers import credentials

            with self.app.app_context():
                self.credentials[name] = credentials.issue(name)
                db.session.commit()
        return self.credentials[name]

    def close(self) -> None:
        self.server.shutdown()
        from portal.models import db

        with self.app.app_context():
            db.engine.dispose()


def start_portal(tmp: Path, **settings: Any) -> Portal:
    import logging

    from flask_migrate import upgrade

    from portal import create_app
    from portal.settings import Settings

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = Settings(env="test", instance_path=str(tmp / "instance"), media_root=str(tmp / "media"),
                      secret_key="bench",
                      tile_url="http://127.0.0.1:9/tiles/{z}/{x}/{y}.png", **settings).validated()
    app = create_app(config)
    with app.app_context():
        upgrade()
    syncs: list[tuple[float, float]] = []
    inner = app.wsgi_app

    def timed(environ: dict[str, Any], start_response: Any) -> Any:
        """How long the portal takes to answer each worker sync (the worker gives up after 10 s)."""
        began = time.monotonic()
        body = list(inner(environ, start_response))
        if environ.get("PATH_INFO", "").endswith("/sync"):
            syncs.append((time.time(), time.monotonic() - began))
        return body

    app.wsgi_app = timed  # type: ignore[method-assign]
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, name="portal", daemon=True).start()
    return Portal(app=app, url=f"http://127.0.0.1:{server.server_port}", media_root=config.media_path,
                  server=server, syncs=syncs)


# -- the worker --


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ pantau\.transcoder: camera (\d+): "
                      r"(\w+) -> (\w+)(?: \((.*)\))?$")


@dataclass
class Transition:
    at: float  # wall clock
    camera_id: int
    before: str
    after: str
    reason: str


@dataclass
class WorkerProc:
    proc: subprocess.Popen[bytes]
    log_path: Path
    metrics_url: str
    transitions: list[Transition] = field(default_factory=list)
    _offset: int = 0
    _partial: bytes = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ffmpegs(self) -> list[int]:
        return children(self.proc.pid)

    def read_log(self) -> list[Transition]:
        """Parse new lines of the worker's log into supervisor transitions (also kept in ``transitions``)."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        new = []
        for raw in lines:
            match = LOG_LINE.match(raw.decode("utf-8", "replace").rstrip())
            if match:
                stamp = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                new.append(Transition(stamp, int(match.group(2)), match.group(3), match.group(4),
                                      match.group(5) or ""))
        self.transitions.extend(new)
        return new

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:  # noqa: S310
            return str(response.read().decode())

    def states(self) -> dict[str, int]:
        counts = {}
        for match in re.finditer(r'pantau_worker_cameras\{[^}]*state="(\w+)"\} (\d+)', self.metrics()):
            counts[match.group(1)] = int(match.group(2))
        return counts

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_worker(portal: Portal, name: str, log_dir: Path, **extra: str) -> WorkerProc:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")},
        "PANTAU_PORTAL_URL": portal.url,
        "PANTAU_WORKER_CREDENTIAL": portal.credential(name),
        "PANTAU_MEDIA_ROOT": str(portal.media_root),
        "PANTAU_WORKER_NAME": name,
        "PANTAU_WORKER_METRICS": f"127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    log_path = log_dir / f"worker-{name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "transcoder"], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return WorkerProc(proc=proc, log_path=log_path, metrics_url=f"http://127.0.0.1:{port}/metrics")


# -- bare ffmpeg fleets (no worker) --


@dataclass
class Fleet:
    procs: list[subprocess.Popen[bytes]]
    playlists: list[Path]
    argvs: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = Path()
    restarts: int = 0

    def restart_stale(self, limit_s: float) -> int:
        """Start again every ffmpeg whose playlist is missing or too old (bare ffmpeg has no supervisor, and
        about one fresh simulated camera in a hundred never sends its first frames); returns how many."""
        count = 0
        for i, age in enumerate(playlist_ages(self.playlists)):
            if age < limit_s:
                continue
            proc = self.procs[i]
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self.procs[i] = _spawn(self.argvs[i], self.env, self.log_dir / f"ffmpeg-{i + 1}.log")
            count += 1
        self.restarts += count
        return count

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def alive(self) -> int:
        return sum(1 for p in self.procs if p.poll() is None)

    def stop(self, timeout: float = 10.0) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_fleet(argvs: Sequence[tuple[list[str], Path]], env: dict[str, str], log_dir: Path) -> Fleet:
    """One ffmpeg per argv, each stderr to its own file (as cheap as the worker's pipe)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = [_spawn(argv, env, log_dir / f"ffmpeg-{i}.log") for i, (argv, _) in enumerate(argvs, 1)]
    return Fleet(procs, [playlist for _, playlist in argvs], [argv for argv, _ in argvs], env, log_dir)


def _spawn(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)


# -- a camera that freezes: a TCP proxy in front of the simulator --


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]
