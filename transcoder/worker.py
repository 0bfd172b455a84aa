"""The worker process: sync with the portal, supervise one ffmpeg per leased camera, keep the archive.

``pantau-transcoder`` / ``python -m transcoder``. Configuration comes from ``PANTAU_*`` variables
(:mod:`transcoder.config`). SIGTERM or SIGINT stops every ffmpeg (SIGKILL after a deadline), hands the
last segments to the portal and exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

from contract import limits
from contract.redaction import install_log_redaction
from transcoder import __version__
from transcoder.archive import Archive
from transcoder.camera import Camera, State, Timing
from transcoder.client import PortalClient, SyncError
from transcoder.config import ConfigError, WorkerConfig
from transcoder.digests import Digests, lower_priority
from transcoder.export import Exporter
from transcoder.ffmpeg import (
    CameraSpec,
    MediaPaths,
    OutputSettings,
    build_argv,
    ffmpeg_env,
    find_ffmpeg,
    records_from_live,
)
from transcoder.holds import HoldList
from transcoder.metrics import CameraFigures, CpuMeter, WorkerFigures, serve_metrics
from transcoder.probe import reachable
from transcoder.process import ProcessFactory, start_ffmpeg
from transcoder.public import clear_all as clear_public_markers
from transcoder.public import set_public
from transcoder.recorder import LiveRecorder
from transcoder.recordings import DiskGuard, Segment, collect, discard_incoming, leftovers
from transcoder.snapshots import PriorityPool, Snapshotter
from transcoder.status import camera_report
from transcoder.sync import SyncSession

log = logging.getLogger("pantau.transcoder")
HOLD_SLACK_S = 15.0  # a recording segment may run past its nominal length by up to a keyframe interval
LEFTOVER_EVERY_S = 10.0  # how often to look for recordings a killed ffmpeg left of a camera that moved away
LEFTOVER_QUIET_S = 15.0  # ... once nothing wrote into them for this long

class Worker:
    def __init__(self, config: WorkerConfig, *, client: PortalClient | None = None,
                 factory: ProcessFactory = start_ffmpeg, clock: Callable[[], float] = time.monotonic,
                 ffmpeg: str | None = None) -> None:
        self.config = config
        self.client = client or PortalClient(config.portal_url, config.credential, config.http_timeout_s)
        self.factory = factory
        self.clock = clock
        self.ffmpeg = ffmpeg or find_ffmpeg(config.ffmpeg)
        self.env = ffmpeg_env()
        self.out = OutputSettings()
        self.cameras: dict[int, Camera] = {}
        self.recorders: dict[int, LiveRecorder] = {}  # each camera's recording from its live segments
        self.stopping = threading.Event()
        self.figures = WorkerFigures(states=tuple(s.value for s in State))
        self.cpu = CpuMeter()
        self._probes: dict[int, Future[bool]] = {}
        self._next_probe: dict[int, float] = {}
        self._pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="worker-io")
        self._sync_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync")
        self._snapshot_pool = PriorityPool()
        self.snapshots = Snapshotter(self._snapshot_pool, ffmpeg=self.ffmpeg, media_root=config.media_root,
                                     clock=clock)
        self.wake = threading.Event()  # set when a probe answers, so a camera found back starts in this turn
        self._portal_name: str | None = None
        self.sync = SyncSession(self.client, self._sync_pool, grace_s=config.lease_grace_s)
        guard = DiskGuard(config.media_root, config.disk_min_free_bytes, config.disk_min_free_percent)
        self.archive = Archive(config.media_root, guard, self._pool, interval_s=config.housekeeping_interval_s,
                               retention_interval_s=config.retention_interval_s, clock=clock,
                               retention_max_s=config.retention_max_s)
        # Export jobs one at a time, beside the cameras (a copy costs little CPU; two at once would share the disk).
        self._export_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
        # the SHA-256 of held segments, computed when the hold is learnt (before any approval), for the exports
        self.digests = Digests(config.media_root)
        self._digest_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest", initializer=lower_priority)
        self.exports = Exporter(config.media_root, self.ffmpeg, self._export_pool, clock=clock, digests=self.digests)
        if self.archive.held is not None:
            self._hash_held(self.archive.held)
        self._export_receipt: tuple[list[int], int] = ([], 0)
        self._leftovers_at = 0.0
        self.left = False  # the last sync at shutdown told the portal this worker is leaving, and it answered

    # -- cameras --

    def _timing(self) -> Timing:
        c = self.config
        stall = max(c.stall_min_s, c.stall_segments * self.out.segment_seconds)
        return Timing(stall_s=stall, stall_segments=c.stall_segments,
                      start_timeout_s=max(c.start_timeout_s, 3 * self.out.segment_seconds),
                      stop_timeout_s=c.stop_timeout_s, backoff_base_s=c.backoff_base_s,
                      backoff_max_s=c.backoff_max_s, restart_budget_per_hour=c.restart_budget_per_hour)

    def _paths(self, spec: CameraSpec) -> MediaPaths:
        return MediaPaths(self.config.media_root, spec.key, spec.id)

    def _argv(self, spec: CameraSpec, hints: frozenset[str]) -> list[str]:
        paths = self._paths(spec)
        paths.make_dirs()
        return build_argv(self.ffmpeg, spec, self.out, self.config.media_root, hints)

    def _new_camera(self, spec: CameraSpec) -> Camera:
        paths = self._paths(spec)
        paths.make_dirs()
        self._take(collect(paths, final=True))  # leftovers of an ffmpeg that died with an earlier worker
        _clear_stale_hls(paths.hls_dir)

        recorder = LiveRecorder(paths)
        self.recorders[spec.id] = recorder

        def argv(spec: CameraSpec, hints: frozenset[str]) -> list[str]:
            built = self._argv(spec, hints)
            recorder.paths = self._paths(spec)
            if records_from_live(spec):
                recorder.begin_run(time.time(), self.out.record_segment_seconds)  # the new run's recording
            else:
                recorder.end_run()
            return built

        def progress() -> int | None:
            try:
                mtime: int | None = os.stat(self._paths(camera.spec).playlist).st_mtime_ns
            except OSError:
                mtime = None
            recorder.poll(mtime)  # new live segments go into the recording
            return mtime

        def on_exit(cam: Camera) -> None:
            recorder.end_run()  # the last segments the run's playlist names, and the file closed
            if cam.run_segments == 0:  # a run that made no live segment leaves no recording worth reporting
                discard_incoming(self._paths(cam.spec))
                return
            self._take(collect(self._paths(cam.spec), final=True))

        camera = Camera(spec, argv=argv, factory=self.factory, env=self.env, timing=self._timing(),
                        progress=progress, on_exit=on_exit)
        return camera

    @property
    def pending_segments(self) -> list[Segment]:
        return self.sync.pending_segments

    def _hash_held(self, held: HoldList) -> None:
        """Hash the held segments on disk whose SHA-256 is not stored yet, in the background at low priority."""
        self._digest_pool.submit(lambda: self.digests.fill(held.on_disk(self.config.media_root)))

    def _take(self, segments: list[Segment]) -> None:
        held = self.archive.held
        if held is not None and (finished := [s.path for s in segments if s.path in held]):
            self._digest_pool.submit(self.digests.fill, finished)  # footage recorded inside a held span
        self.sync.pending_segments.extend(segments)
        self.figures.segments_recorded += len(segments)
        self.figures.bytes_written += sum(s.bytes for s in segments)

    def apply_assignment(self, response: dict[str, Any], now: float) -> None:
        out = OutputSettings.from_api(response.get("settings"))
        settings_changed = out != self.out
        self.out = out
        # a segment's end is not in its name: it lasts about record_segment_seconds, cut on the next keyframe
        margin = out.record_segment_seconds + HOLD_SLACK_S
        held = HoldList.from_api(response.get("held_segments"), response.get("holds"), margin)
        if held != self.archive.held:
            self._hash_held(held)
        self.archive.set_held(held)
        self.exports.apply(response.get("exports"), response.get("expired_exports"))
        wanted: dict[int, CameraSpec] = {}
        public: dict[int, bool] = {}
        for item in response.get("cameras") or []:
            try:
                spec = CameraSpec.from_api(item)
            except ValueError as exc:
                log.warning("assignment skipped: %s", exc)
                continue
            wanted[spec.id] = spec
            public[spec.id] = item.get("public") is True  # absent (an older portal): not public, fail closed
        for cam_id, spec in wanted.items():
            camera = self.cameras.get(cam_id)
            if camera is None:
                self.cameras[cam_id] = self._new_camera(spec)
                log.info("camera %s: assigned", cam_id)
            else:
                camera.timing = self._timing()
                camera.update(spec, now, force=settings_changed)
            set_public(self._paths(spec).hls_dir, public[cam_id])
        for cam_id, camera in self.cameras.items():
            if cam_id not in wanted:
                set_public(self._paths(camera.spec).hls_dir, False)  # its signed playlist is no longer ours to serve
                if camera.want_running:
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
                self.recorders.pop(camera.spec.id, None)
        self.snapshots.fast_s, self.snapshots.idle_s = self.out.snapshot_interval_s, self.out.snapshot_idle_interval_s
        self.snapshots.step(now, ((c.spec.id, self._paths(c.spec), c.since) for c in self.cameras.values()
                                  if c.state is State.RUNNING))
        self.sync.pending_deleted.extend(
            self.archive.step(now, lambda: [(c.spec.id, c.spec.retention_days) for c in self.cameras.values()]))
        if now >= self._leftovers_at:
            self._leftovers_at = now + LEFTOVER_EVERY_S
            self._take(leftovers(self.config.media_root, set(self.cameras), LEFTOVER_QUIET_S, time.time()))
        receipt = self._export_receipt  # what the sync in flight carried (one in flight at a time)
        answer = self.sync.step(now, lambda: self.body(now), stopping=self.stopping.is_set())
        if answer is not None:
            self.exports.delivered(receipt)
            self._check_name(answer.get("worker_name"))
            self.apply_assignment(answer, now)
        if self.sync.expired(now):
            if any(c.want_running for c in self.cameras.values()):
                log.warning("%s: stopping all cameras", "the portal refused this worker" if self.sync.refused
                            else "lease and grace expired without a successful sync")
            for camera in self.cameras.values():
                camera.stop()
                set_public(self._paths(camera.spec).hls_dir, False)
            self.sync.lease_deadline = None
            self.sync.refused = False

    def _check_name(self, name: object) -> None:
        """The portal knows this worker by its credential; a different configured name is a mistake to see."""
        if isinstance(name, str) and name != self.config.name and name != self._portal_name:
            log.warning("the portal knows this worker's credential as %r, not %r (PANTAU_WORKER_NAME)",
                        name, self.config.name)
        if isinstance(name, str):
            self._portal_name = name

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
                self._probes[cam_id] = future = self._pool.submit(reachable, camera.spec.source_url, 2.0)
                future.add_done_callback(lambda _: self.wake.set())

    @property
    def guard_active(self) -> bool:
        return self.archive.guard_active

    # -- sync --

    def body(self, now: float, leaving: bool = False) -> dict[str, Any]:
        for camera in self.cameras.values():
            if camera.proc is not None:
                self._take(collect(self._paths(camera.spec), final=False))
        self._refresh_figures(now)
        report = self.archive.report
        exports, deleted_exports, self._export_receipt = self.exports.body()
        return {
            "worker": {
                "name": self.config.name, "version": __version__, "hostname": socket.gethostname(),
                "capacity": self.config.capacity, "disk_free_bytes": report.free_bytes or None,
                "disk_total_bytes": report.total_bytes or None, "disk_guard_active": self.guard_active,
                "health": self.figures.health(),
                "media_url": self.config.media_url,
                **({"leaving": True} if leaving else {}),
            },
            "cameras": [camera_report(c, self.config.media_root, now) for c in self.cameras.values()
                        if c.want_running],
            # a backlog (after an outage) goes in batches the portal accepts, oldest first
            "segments": [s.to_api() for s in self.sync.pending_segments[:limits.MAX_SYNC_SEGMENTS]],
            "deleted_segments": self.sync.pending_deleted[:limits.MAX_SYNC_DELETED],
            "exports": exports,
            "deleted_exports": deleted_exports,
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
        report = self.archive.report
        self.figures.disk_free_bytes = report.free_bytes
        self.figures.disk_total_bytes = report.total_bytes
        self.figures.disk_guard_active = self.guard_active
        self.figures.disk_guard_exhausted = report.exhausted
        self.figures.disk_guard_deleted_total = self.archive.guard_deleted_total
        self.figures.retention_deleted_total = self.archive.retention_deleted_total
        self.figures.sync_failures_total = self.sync.failures_total
        cpu = self.cpu.percent()
        if cpu is not None:
            self.figures.cpu_percent = cpu
        try:
            self.figures.load1 = round(os.getloadavg()[0], 2)
        except OSError:
            self.figures.load1 = None

    # -- life --

    def run(self) -> int:
        self.config.media_root.mkdir(parents=True, exist_ok=True)
        clear_public_markers(self.config.media_root)  # a previous run's: nothing is public here until a sync says so
        metrics = None
        if self.config.metrics_port:
            metrics = serve_metrics(self.config.metrics_host, self.config.metrics_port, self.render_metrics)
        log.info("worker %s started (ffmpeg %s, media %s, portal %s)", self.config.name, self.ffmpeg,
                 self.config.media_root, self.config.portal_url)
        try:
            while not self.stopping.is_set():
                self.tick(self.clock())
                self.wake.wait(self.config.tick_s)
                self.wake.clear()
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
            set_public(self._paths(camera.spec).hls_dir, False)
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
        self.sync.wait(self.config.http_timeout_s)  # the final sync below resends what this one carried
        try:
            # hand over the last segments, and the cameras: the other workers take them on their next sync
            self.client.sync(self.body(self.clock(), leaving=True))
            self.left = True
        except SyncError as exc:
            log.warning("final sync failed: %s", exc)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sync_pool.shutdown(wait=False, cancel_futures=True)
        self.exports.stop()
        self._export_pool.shutdown(wait=False, cancel_futures=True)
        self._digest_pool.shutdown(wait=False, cancel_futures=True)
        self._snapshot_pool.shutdown(wait=False, cancel_futures=True)
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
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="pantau-transcoder", description="A Pantau transcoder worker "
                                     "(configured by PANTAU_* environment variables).")
    parser.add_argument("--check", action="store_true", help="check this worker's configuration, ffmpeg, media "
                        "folder and the portal's answer to its credential; exit 1 on a problem")
    parser.add_argument("--farewell", action="store_true", help="tell the portal this worker is gone, so the other "
                        "workers take its cameras at once (the systemd unit's ExecStopPost); exit 1 if it could not")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.farewell:
        from transcoder import farewell as last_word

        install_log_redaction()
        logging.basicConfig(level="INFO", format="%(levelname)s %(name)s: %(message)s")
        return last_word.say(retry_for_s=10.0)
    if args.check:
        from transcoder.check import report, run_checks

        return report(run_checks(os.environ), print)
    install_log_redaction()
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
        worker.wake.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    from transcoder import farewell

    watcher = farewell.start()  # speaks for this worker if it dies without a word (SIGKILL, OOM)
    try:
        return worker.run()
    finally:
        if watcher is not None:
            watcher.done(worker.left)
