"""The worker's figures: Prometheus text at ``/metrics`` and the small health object sent on each sync."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("pantau.transcoder.metrics")


@dataclass
class CameraFigures:
    camera_id: int
    state: str
    restarts_total: int
    newest_segment_age_s: float | None


class CpuMeter:
    """The machine's CPU use (all cores, percent) since the last reading, from /proc/stat; None elsewhere."""

    def __init__(self, path: str = "/proc/stat") -> None:
        self.path = path
        self._last: tuple[int, int] | None = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            with open(self.path) as fh:
                fields = [int(v) for v in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    def percent(self) -> float | None:
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[0] <= last[0]:
            return None
        total, idle = now[0] - last[0], now[1] - last[1]
        return round(100.0 * (total - idle) / total, 1)


@dataclass
class WorkerFigures:
    cameras: list[CameraFigures] = field(default_factory=list)
    states: tuple[str, ...] = ()
    bytes_written: int = 0
    segments_recorded: int = 0
    disk_free_bytes: int = 0
    disk_total_bytes: int = 0
    disk_guard_active: bool = False
    disk_guard_exhausted: bool = False
    disk_guard_deleted_total: int = 0
    retention_deleted_total: int = 0
    sync_failures_total: int = 0
    cpu_percent: float | None = None
    load1: float | None = None

    def by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(self.states, 0)
        for cam in self.cameras:
            counts[cam.state] = counts.get(cam.state, 0) + 1
        return counts

    def health(self) -> dict[str, object]:
        ages = [c.newest_segment_age_s for c in self.cameras if c.newest_segment_age_s is not None]
        return {
            "cameras_by_state": {k: v for k, v in self.by_state().items() if v},
            "restarts_total": sum(c.restarts_total for c in self.cameras),
            "bytes_written": self.bytes_written,
            "segments_recorded": self.segments_recorded,
            "newest_segment_age_s_max": round(max(ages), 1) if ages else None,
            "disk_free_bytes": self.disk_free_bytes,
            "disk_guard_active": self.disk_guard_active,
            "disk_guard_exhausted": self.disk_guard_exhausted,
            "disk_guard_deleted_total": self.disk_guard_deleted_total,
            "retention_deleted_total": self.retention_deleted_total,
            "sync_failures_total": self.sync_failures_total,
            "cpu_percent": self.cpu_percent,
            "load1": self.load1,
        }

    def prometheus(self, worker: str) -> str:
        label = worker.replace("\\", "\\\\").replace('"', '\\"')
        lines = [
            "# HELP pantau_worker_cameras Cameras on this worker by supervisor state.",
            "# TYPE pantau_worker_cameras gauge",
        ]
        lines += [f'pantau_worker_cameras{{worker="{label}",state="{state}"}} {count}'
                  for state, count in self.by_state().items()]
        lines += ["# HELP pantau_worker_camera_restarts_total ffmpeg restarts per camera.",
                  "# TYPE pantau_worker_camera_restarts_total counter"]
        lines += [f'pantau_worker_camera_restarts_total{{worker="{label}",camera="{c.camera_id}"}} {c.restarts_total}'
                  for c in self.cameras]
        lines += ["# HELP pantau_worker_newest_segment_age_seconds Age of each camera's newest live segment.",
                  "# TYPE pantau_worker_newest_segment_age_seconds gauge"]
        lines += [f'pantau_worker_newest_segment_age_seconds{{worker="{label}",camera="{c.camera_id}"}} '
                  f"{c.newest_segment_age_s:.3f}" for c in self.cameras if c.newest_segment_age_s is not None]
        scalars = [
            ("pantau_worker_recorded_bytes_total", "counter", "Bytes of recording segments finished.",
             self.bytes_written),
            ("pantau_worker_recorded_segments_total", "counter", "Recording segments finished.",
             self.segments_recorded),
            ("pantau_worker_disk_free_bytes", "gauge", "Free bytes on the media disk.", self.disk_free_bytes),
            ("pantau_worker_disk_total_bytes", "gauge", "Size of the media disk.", self.disk_total_bytes),
            ("pantau_worker_disk_guard_active", "gauge", "1 while the free-space guard is deleting footage.",
             int(self.disk_guard_active)),
            ("pantau_worker_disk_guard_deleted_total", "counter", "Segments deleted by the free-space guard.",
             self.disk_guard_deleted_total),
            ("pantau_worker_retention_deleted_total", "counter", "Segments deleted by retention.",
             self.retention_deleted_total),
            ("pantau_worker_sync_failures_total", "counter", "Failed syncs with the portal.",
             self.sync_failures_total),
        ]
        for name, kind, help_text, value in scalars:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f'{name}{{worker="{label}"}} {value}']
        return "\n".join(lines) + "\n"


def serve_metrics(host: str, port: int, render: Callable[[], str]) -> ThreadingHTTPServer | None:
    """Serve ``GET /metrics`` on a daemon thread; a port in use is logged, not fatal."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        log.warning("metrics not served on %s:%s: %s", host, port, exc.strerror or exc)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%s/metrics", host, server.server_port)
    return server
