"""The worker process: sync with the portal, supervise one ffmpeg per leased camera, keep the archive.

``pantau-transcoder`` / ``python -m transcoder``. Configuration comes from ``PANTAU_*`` variables
(:mod:`transcoder.config`). SIGTERM or SIGINT stops every ffmpeg (SIGKILL after a deadline), hands the
last segments to the portal and exits 0.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from transcoder import __version__
from transcoder.camera import Camera, State, Timing
from transcoder.client import PortalClient, SyncError
from transcoder.config import ConfigError, WorkerConfig
from transcoder.ffmpeg import CameraSpec, MediaPaths, OutputSettings, build_argv, ffmpeg_env, find_ffmpeg
from transcoder.metrics import CameraFigures, CpuMeter, WorkerFigures, serve_metrics
from transcoder.probe import reachable
from transcoder.process import ProcessFactory, start_ffmpeg
from transcoder.recordings import DiskGuard, GuardReport, Segment, apply_retention, collect
from transcoder.status import camera_report

log = logging.getLogger("pantau.transcoder")


class Worker:
    def __init__(self, config: WorkerConfig, *, client: PortalClient | None = None,
                 factory: ProcessFactory = start_ffmpeg, clock: Callable[[], float] = time.monotonic,
                 ffmpeg: str | None = None) -> None:
        self.config = config
        self.client = client or PortalClient(config.portal_url, config.worker_token, config.http_timeout_s)
        self.factory = factory
        self.clock = clock
        self.ffmpeg = ffmpeg or find_ffmpeg(config.ffmpeg)
        self.env = ffmpeg_env()
        self.out = OutputSettings()
        self.cameras: dict[int, Camera] = {}
        self.pending_segments: list[Segment] = []
        self.pending_deleted: list[str] = []
        self.held: frozenset[str] | None = self._load_held()  # None: holds unknown, so nothing is deleted
        self.lease_deadline: float | None = None
        self.sync_interval = 5.0
        self.next_sync = 0.0
        self.stopping = threading.Event()
        self.figures = WorkerFigures(states=tuple(s.value for s in State))
        self.cpu = CpuMeter()
        self.guard = DiskGuard(config.media_root, config.disk_min_free_bytes, config.disk_min_free_percent)
        self.guard_report = GuardReport()
        self._guard_acted_at: float | None = None
        self._sync: Future[dict[str, Any]] | None = None
        self._sync_sent: tuple[int, int, float] = (0, 0, 0.0)
        self._house: Future[tuple[GuardReport, list[str]]] | None = None
        self._next_house = 0.0
        self._next_retention = 0.0
        self._probes: dict[int, Future[bool]] = {}
        self._next_probe: dict[int, float] = {}
        self._pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="worker-io")
        self._sync_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync")
        self._last_sync_warning = -1e9
        self._last_guard_log = -1e9

    # -- cameras --

    def _timing(self) -> Timing:
        c = self.config
        stall = max(c.stall_min_s, c.stall_segments * self.out.segment_seconds)
        return Timing(stall_s=stall, start_timeout_s=max(c.start_timeout_s, 3 * self.out.segment_seconds),
                      stop_timeout_s=c.stop_timeout_s, backoff_base_s=c.backoff_base_s,
                      backoff_max_s=c.backoff_max_s, restart_budget_per_hour=c.restart_budget_per_hour)

    def _paths(self, spec: CameraSpec) -> MediaPaths:
        return MediaPaths(self.config.media_root, spec.key, spec.id)

    def _argv(self, spec: CameraSpec, codec_hint: str | None) -> list[str]:
        paths = self._paths(spec)
        paths.make_dirs()
        return build_argv(self.ffmpeg, spec, self.out, self.config.media_root, codec_hint)

    def _new_camera(self, spec: CameraSpec) -> Camera:
        paths = self._paths(spec)
        paths.make_dirs()
        self._take(collect(paths, final=True))  # leftovers of an ffmpeg that died with an earlier worker
        _clear_stale_hls(paths.hls_dir)

        def progress() -> int | None:
            try:
                return os.stat(self._paths(camera.spec).playlist).st_mtime_ns
            except OSError:
                return None

        def on_exit(cam: Camera) -> None:
            self._take(collect(self._paths(cam.spec), final=True))

        camera = Camera(spec, argv=self._argv, factory=self.factory, env=self.env, timing=self._timing(),
                        progress=progress, on_exit=on_exit)
        return camera

    def _take(self, segments: list[Segment]) -> None:
        self.pending_segments.extend(segments)
        self.figures.segments_recorded += len(segments)
        self.figures.bytes_written += sum(s.bytes for s in segments)

    def apply_assignment(self, response: dict[str, Any], now: float) -> None:
        out = OutputSettings.from_api(response.get("settings"))
        settings_changed = out != self.out
        self.out = out
        interval = response.get("sync_interval_s")
        if isinstance(interval, int | float) and interval > 0:
            self.sync_interval = float(interval)
        held = frozenset(p for p in response.get("held_segments") or [] if isinstance(p, str))
        if held != self.held:
            self._save_held(held)
        self.held = held
        wanted: dict[int, CameraSpec] = {}
        for item in response.get("cameras") or []:
            try:
                spec = CameraSpec.from_api(item)
            except ValueError as exc:
                log.warning("assignment skipped: %s", exc)
                continue
            wanted[spec.id] = spec
        for cam_id, spec in wanted.items():
            camera = self.cameras.get(cam_id)
            if camera is None:
                self.cameras[cam_id] = self._new_camera(spec)
                log.info("camera %s: assigned", cam_id)
            else:
                camera.timing = self._timing()
                camera.update(spec, now, force=settings_changed)
        for cam_id, camera in self.cameras.items():
            if cam_id not in wanted and camera.want_running:
                log.info("camera %s: no longer assigned, stopping", cam_id)
                camera.stop()

    # -- one turn of the loop --

    def tick(self, now: float) -> None:
        self._probe(now)  # first, so a camera found back is restarted in this very turn
        for camera in list(self.cameras.values()):
            before = camera.state
            after = camera.transition(now)
            if after is not before:
                log.info("camera %s: %s -> %s%s", camera.spec.id, before, after,
                         f" ({camera.failure})" if after in (State.BACKOFF, State.FAILED, State.STOPPING)
                         and camera.failure else "")
            if after is State.STOPPED and not camera.want_running:
                del self.cameras[camera.spec.id]
        self._housekeeping(now)
        self._sync_step(now)
        if self.lease_deadline is not None and now > self.lease_deadline:
            if any(c.want_running for c in self.cameras.values()):
                log.warning("lease expired without a successful sync: stopping all cameras")
            for camera in self.cameras.values():
                camera.stop()
            self.lease_deadline = None

    def _probe(self, now: float) -> None:
        for cam_id, camera in self.cameras.items():
            future = self._probes.get(cam_id)
            if future is not None:
                if not future.done():
                    continue
                del self._probes[cam_id]
                if camera.state is State.BACKOFF and not future.exception():
                    camera.probe_result(future.result())
            if camera.state is State.BACKOFF and now >= self._next_probe.get(cam_id, 0.0):
                self._next_probe[cam_id] = now + self.config.probe_interval_s
                self._probes[cam_id] = self._pool.submit(reachable, camera.spec.source_url, 2.0)

    def _housekeeping(self, now: float) -> None:
        if self._house is not None:
            if not self._house.done():
                return
            try:
                report, expired = self._house.result()
            except Exception:
                log.exception("housekeeping failed")
            else:
                self.guard_report = report
                if report.deleted:
                    self._guard_acted_at = now
                    self.figures.disk_guard_deleted_total += len(report.deleted)
                if (report.deleted or report.exhausted) and now - self._last_guard_log >= 60:
                    self._last_guard_log = now
                    log.warning("disk guard: free space below %d bytes, deleted %d oldest segments%s",
                                report.threshold_bytes, len(report.deleted),
                                " and found nothing more to delete" if report.exhausted else "")
                self.pending_deleted.extend(report.deleted + expired)
                self.figures.retention_deleted_total += len(expired)
            self._house = None
        if now < self._next_house or self.held is None:
            return
        self._next_house = now + self.config.housekeeping_interval_s
        retention: list[tuple[int, int]] = []
        if now >= self._next_retention:
            self._next_retention = now + self.config.retention_interval_s
            retention = [(c.spec.id, c.spec.retention_days) for c in self.cameras.values()]
        self._house = self._pool.submit(self._housekeeping_job, retention, self.held)

    def _housekeeping_job(self, retention: list[tuple[int, int]],
                          held: frozenset[str]) -> tuple[GuardReport, list[str]]:
        expired: list[str] = []
        wall = datetime.now(UTC)
        for cam_id, days in retention:
            expired += apply_retention(self.config.media_root, cam_id, days, wall, held)
        return self.guard.check(held), expired

    @property
    def _held_file(self) -> Path:
        return self.config.media_root / "recordings" / ".held.json"

    def _load_held(self) -> frozenset[str] | None:
        """Holds from the last sync, kept on disk so a worker that restarts while the portal is away still
        knows what it must never delete."""
        try:
            data = json.loads(self._held_file.read_text())
        except (OSError, ValueError):
            return None
        return frozenset(p for p in data if isinstance(p, str)) if isinstance(data, list) else None

    def _save_held(self, held: frozenset[str]) -> None:
        try:
            self._held_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._held_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(sorted(held)))
            os.replace(tmp, self._held_file)
        except OSError as exc:
            log.warning("could not keep the list of held segments on disk: %s", exc.strerror or exc)

    @property
    def guard_active(self) -> bool:
        recent = self._guard_acted_at is not None and self.clock() - self._guard_acted_at < 600
        return self.guard_report.active or recent

    # -- sync --

    def body(self, now: float) -> dict[str, Any]:
        for camera in self.cameras.values():
            if camera.proc is not None:
                self._take(collect(self._paths(camera.spec), final=False))
        self._refresh_figures(now)
        report = self.guard_report
        return {
            "worker": {
                "name": self.config.name, "version": __version__, "hostname": socket.gethostname(),
                "capacity": self.config.capacity, "disk_free_bytes": report.free_bytes or None,
                "disk_total_bytes": report.total_bytes or None, "disk_guard_active": self.guard_active,
                "health": self.figures.health(),
            },
            "cameras": [camera_report(c, self.config.media_root, now) for c in self.cameras.values()
                        if c.want_running],
            "segments": [s.to_api() for s in self.pending_segments],
            "deleted_segments": list(self.pending_deleted),
        }

    def _refresh_figures(self, now: float) -> None:
        wall = time.time()
        figures = []
        for camera in self.cameras.values():
            try:
                mtime = os.stat(self._paths(camera.spec).playlist).st_mtime
                age: float | None = max(0.0, wall - mtime) if camera.state is State.RUNNING else None
            except OSError:
                age = None
            figures.append(CameraFigures(camera.spec.id, camera.state.value, camera.restarts_total, age))
        self.figures.cameras = figures
        self.figures.disk_free_bytes = self.guard_report.free_bytes
        self.figures.disk_total_bytes = self.guard_report.total_bytes
        self.figures.disk_guard_active = self.guard_active
        self.figures.disk_guard_exhausted = self.guard_report.exhausted
        cpu = self.cpu.percent()
        if cpu is not None:
            self.figures.cpu_percent = cpu
        try:
            self.figures.load1 = round(os.getloadavg()[0], 2)
        except OSError:
            self.figures.load1 = None

    def _sync_step(self, now: float) -> None:
        if self._sync is not None:
            if not self._sync.done():
                return
            future, self._sync = self._sync, None
            sent_segments, sent_deleted, sent_at = self._sync_sent
            try:
                response = future.result()
            except SyncError as exc:
                self.figures.sync_failures_total += 1
                if now - self._last_sync_warning > 30:
                    log.warning("sync failed: %s (keeping cameras until the lease runs out)", exc)
                    self._last_sync_warning = now
                self.next_sync = now + min(self.sync_interval, 2.0)
            else:
                del self.pending_segments[:sent_segments]
                del self.pending_deleted[:sent_deleted]
                lease = response.get("lease_seconds")
                lease_s = float(lease) if isinstance(lease, int | float) and lease > 0 else 30.0
                self.lease_deadline = sent_at + lease_s
                self.apply_assignment(response, now)
                self.next_sync = sent_at + self.sync_interval
        if self._sync is None and now >= self.next_sync and not self.stopping.is_set():
            body = self.body(now)
            self._sync_sent = (len(body["segments"]), len(body["deleted_segments"]), now)
            self._sync = self._sync_pool.submit(self.client.sync, body)

    # -- life --

    def run(self) -> int:
        self.config.media_root.mkdir(parents=True, exist_ok=True)
        metrics = None
        if self.config.metrics_port:
            metrics = serve_metrics(self.config.metrics_host, self.config.metrics_port, self.render_metrics)
        log.info("worker %s started (ffmpeg %s, media %s, portal %s)", self.config.name, self.ffmpeg,
                 self.config.media_root, self.config.portal_url)
        try:
            while not self.stopping.is_set():
                self.tick(self.clock())
                self.stopping.wait(self.config.tick_s)
        finally:
            self.shutdown()
            if metrics is not None:
                metrics.shutdown()
        return 0

    def render_metrics(self) -> str:
        return self.figures.prometheus(self.config.name)

    def shutdown(self) -> None:
        for camera in self.cameras.values():
            camera.stop()
        deadline = self.clock() + self.config.stop_timeout_s + 3
        while self.cameras and self.clock() < deadline:
            now = self.clock()
            for camera in list(self.cameras.values()):
                camera.transition(now)
                if camera.state is State.STOPPED:
                    del self.cameras[camera.spec.id]
            if self.cameras:
                time.sleep(0.05)
        for camera in self.cameras.values():  # past every deadline: make sure nothing outlives us
            if camera.proc is not None:
                camera.proc.kill()
        if self._sync is not None:
            try:
                self._sync.result(timeout=self.config.http_timeout_s)
            except Exception:  # noqa: S110 (the final sync below resends what this one carried)
                pass
        try:
            self.client.sync(self.body(self.clock()))  # hand over the last segments
        except SyncError as exc:
            log.warning("final sync failed: %s", exc)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sync_pool.shutdown(wait=False, cancel_futures=True)
        log.info("worker %s stopped", self.config.name)


def _clear_stale_hls(directory: Path, older_than_s: float = 120.0) -> None:
    cutoff = time.time() - older_than_s
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.endswith((".ts", ".m4s", ".tmp")):
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("PANTAU_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = WorkerConfig.from_env()
        worker = Worker(config)
    except (ConfigError, FileNotFoundError) as exc:
        log.error("cannot start: %s", exc)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        worker.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return worker.run()
