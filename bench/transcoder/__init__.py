"""Transcoder benchmark: the worker against simulated RTSP cameras, in one run.

1. Cost: CPU and PSS per camera of the worker (with its snapshots, cut from the live segments in-process) and
   its ffmpeg children, against the same number of bare ffmpeg processes started directly with the very argv
   the worker builds (``transcoder.ffmpeg.build_argv``: live fMP4 HLS, video copied; the recording is built by the
   worker from those segments, so this baseline leaves the recording out), and against bare
   ``ffmpeg -rtsp_transport tcp -i URL -c copy -f hls`` (live HLS only: the whole job's price), each measured
   in the same windows (three of each) so the ratios isolate the worker from whatever else the machine does.
2. Stall detection and recovery: cameras cut while the worker runs them, two ways. *Freeze*: a TCP proxy
   between worker and simulator drops every byte of the open connection (the camera stops sending but
   doesn't hang up) and refuses new connections; this is the case only the worker's progress check can
   catch. *Disconnect*: the simulator removes the mount (``stop_camera``), the server hangs up and ffmpeg
   exits. Detection is the time from the cut to the worker's log line taking the camera out of ``running``;
   recovery is the time from the camera's return to the first new segment in its live playlist (the
   playlist's mtime), for outages from 2 s to 90 s. Also reported: when the portal's database shows
   offline/online again (sync interval).
3. Density: cameras are added in steps; a step passes if, after warm-up, every camera's live playlist is
   younger than three segment durations at every one-second sample of a sustained window, every camera is
   recording (its open recording file grew within the window's last seconds) and has a snapshot younger than
   the idle snapshot interval, and the snapshots a viewer is looking at (read every 5 s, as the list page does)
   are never older than 10 s. The simulated cameras run on the same 2-core machine and their CPU is reported
   next to the worker's.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.transcoder.harness import (
    CpuWindow,
    Fleet,
    FreezableProxy,
    FreshnessWindow,
    Portal,
    WorkerProc,
    percentile,
    playlist_ages,
    pss_kb,
    start_fleet,
    start_portal,
    start_worker,
    wait_fresh,
)

SEGMENT_S = 1  # the shipped default (contract.media.SEGMENT_SECONDS)
HLS_LIST_SIZE = 6
RECORD_SEGMENT_S = 60
SNAPSHOT_S = 5
SNAPSHOT_IDLE_S = 120  # the shipped default (contract.media.SNAPSHOT_IDLE_INTERVAL_S)
SYNC_S = 5
LEASE_S = 30
FRESH_LIMIT_S = 3 * SEGMENT_S
COST_CAMERAS = 25  # per side: the worker's cameras and each bare fleet
WARMUP_S = 10
COST_WINDOW_S = 30
COST_WINDOWS = 3  # runs of each comparison: the ratios' spread
FRESH_WINDOW_S = 20
RAMP = (100, 150, 200, 250, 300, 350, 400)
WATCHED = 20  # cameras a simulated viewer looks at during each density window
STALL_CAMERAS = 6  # per kind (freeze, disconnect)
TRIALS_PER_CAMERA = 2
OUTAGES_S = (2, 5, 10, 30, 60, 90)  # how long a cut camera stays away; every length is tried by both kinds
GOALS = {"cpu_ratio_vs_bare": {"max": 1.15}, "simpler_baselines.bare_hls_only.worker_cpu_ratio": {"max": 1.3},
         "max_cameras_fresh": {"min": 300}, "stall_detect_s_p95": {"max": 6.0}, "recovery_s_p95": {"max": 3.0},
         "watched_snapshot_age_s_max": {"max": 10.0}}


def say(message: str) -> None:
    print(f"[bench.transcoder {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- cost --


def simulator_class() -> tuple[Any, int]:
    """The simulated cameras and how many one process serves: the light pure-Python server
    (tests/support/rtsp_light.py, about a tenth of the GStreamer simulator's CPU, so the density ramp measures
    the worker more than the cameras), or ``PANTAU_BENCH_SIMULATOR=gstreamer`` for tests/support/rtsp.py."""
    if os.environ.get("PANTAU_BENCH_SIMULATOR", "light") == "gstreamer":
        from tests.support.rtsp import RtspSimulator

        return RtspSimulator, 50
    from tests.support.rtsp_light import LightRtspSimulator

    return LightRtspSimulator, 100


def output_settings() -> Any:
    from transcoder.ffmpeg import OutputSettings

    return OutputSettings(segment_seconds=SEGMENT_S, hls_list_size=HLS_LIST_SIZE,
                          record_segment_seconds=RECORD_SEGMENT_S, snapshot_interval_s=SNAPSHOT_S,
                          snapshot_idle_interval_s=SNAPSHOT_IDLE_S)


def full_argvs(urls: list[str], media_root: Path, recording: bool = True) -> list[tuple[list[str], Path]]:
    """What the worker would run for these cameras: build_argv, byte for byte (live fMP4 HLS; the worker copies
    its segments into the recording, which these bare processes don't do). ``recording=False``: what a camera
    that doesn't record runs (MPEG-TS live HLS)."""
    from transcoder.ffmpeg import CameraSpec, MediaPaths, build_argv, find_ffmpeg

    ffmpeg = find_ffmpeg()
    out = []
    for i, url in enumerate(urls, 1):
        spec = CameraSpec(id=i, key=f"bare{i:04d}", source_url=url, recording=recording)
        paths = MediaPaths(media_root, spec.key, spec.id)
        paths.make_dirs()
        out.append((build_argv(ffmpeg, spec, output_settings(), media_root), paths.playlist))
    return out


def hls_only_argvs(urls: list[str], media_root: Path) -> list[tuple[list[str], Path]]:
    from transcoder.ffmpeg import find_ffmpeg

    ffmpeg = find_ffmpeg()
    out = []
    for i, url in enumerate(urls, 1):
        folder = media_root / "hls" / f"hls{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-rtsp_transport", "tcp",
                "-i", url, "-c", "copy", "-f", "hls", "-hls_time", str(SEGMENT_S),
                "-hls_list_size", str(HLS_LIST_SIZE), "-hls_flags", "delete_segments",
                "-hls_segment_filename", str(folder / "%d.ts"), str(folder / "index.m3u8")]
        out.append((argv, folder / "index.m3u8"))
    return out


def measure_window(groups: Callable[[], dict[str, list[int]]], playlists: list[Path], seconds: float,
                   pss: dict[str, Callable[[], list[int]]] | None = None) -> dict[str, Any]:
    """CPU of each process group over ``seconds``, freshness sampled every second, PSS of each ``pss`` group
    sampled 3 times (mean, in kB)."""
    window = CpuWindow(groups())
    fresh = FreshnessWindow()
    began = time.time()
    samples: dict[str, list[int]] = {name: [] for name in pss or {}}
    window.start()
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        n += 1
        fresh.sample(playlists, FRESH_LIMIT_S)
        if n in (5, int(seconds / 2), int(seconds) - 2):
            for name, pids in (pss or {}).items():
                samples[name].append(sum(pss_kb(pid) for pid in pids()))
        time.sleep(max(0.0, start + n - time.monotonic()))
    result = window.stop(groups())
    result.update(fresh_samples=fresh.samples, stale_samples=fresh.stale_samples,
                  worst_playlist_age_s=round(fresh.worst_age_s, 2), stale_cameras_max=fresh.stale_cameras_max)
    result["pss_kb"] = {name: round(statistics.mean(values)) for name, values in samples.items() if values}
    result["started_at"] = began
    return result


def side_by_side(worker: WorkerProc, worker_playlists: list[Path], fleets: dict[str, list[tuple[list[str], Path]]],
                 sim_pids: list[int], log_dir: Path, windows: int = COST_WINDOWS) -> list[dict[str, Any]]:
    """The worker's cameras and bare ffmpeg fleets measured in the same windows (``windows`` of them, one after
    another), so whatever else the machine does (other processes, disk writeback, CPU steal) weighs on both
    alike."""
    from transcoder.ffmpeg import ffmpeg_env

    started: dict[str, Fleet] = {}
    try:
        for name, argvs in fleets.items():
            started[name] = start_fleet(argvs, ffmpeg_env(), log_dir / name)
        playlists = worker_playlists + [p for fleet in started.values() for p in fleet.playlists]
        ok, fresh = wait_fresh(playlists, FRESH_LIMIT_S, timeout=30)
        if not ok:
            restarted = sum(fleet.restart_stale(FRESH_LIMIT_S) for fleet in started.values())
            say(f"{sorted(fleets)}: {len(playlists) - fresh} playlists not live after 30 s, "
                f"{restarted} bare ffmpeg started again")
            ok, fresh = wait_fresh(playlists, FRESH_LIMIT_S, timeout=30)
        if not ok:
            raise RuntimeError(f"{sorted(fleets)}: only {fresh}/{len(playlists)} live playlists within 60 s")
        time.sleep(WARMUP_S)

        def groups() -> dict[str, list[int]]:
            return {"worker": [worker.pid], "ffmpeg": worker.ffmpegs(), "sim": sim_pids,
                    **{name: fleet.pids for name, fleet in started.items()}}

        pss: dict[str, Callable[[], list[int]]] = {"worker": lambda: [worker.pid, *worker.ffmpegs()],
                                                   "worker_process": lambda: [worker.pid]}
        for name, fleet in started.items():
            pss[name] = lambda fleet=fleet: fleet.pids  # type: ignore[misc]
        results = []
        for _ in range(windows):
            result = measure_window(groups, playlists, COST_WINDOW_S, pss=pss)
            if result["changed_processes"] or any(fleet.alive() != len(fleet.procs) for fleet in started.values()):
                raise RuntimeError(f"{sorted(fleets)}: ffmpeg processes exited or restarted during the window")
            result["cameras_per_group"] = len(worker_playlists)
            result["bare_restarts_before_window"] = sum(fleet.restarts for fleet in started.values())
            results.append(result)
        return results
    finally:
        for fleet in started.values():
            fleet.stop()


# -- stalls --


@dataclass
class Trial:
    kind: str
    camera_id: int
    cut_at: float
    detected_at: float | None = None
    detected_as: str = ""
    restored_at: float | None = None
    recovered_at: float | None = None
    portal_offline_at: float | None = None
    portal_online_at: float | None = None
    restarted_at: float | None = None  # the worker started the ffmpeg that made the first new segment
    outage_s: float = 0.0
    restarts: int = 0  # ffmpeg starts while the camera was away (a long outage should cost probes, not restarts)

    def figures(self) -> dict[str, Any]:
        def delta(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(a - b, 3)

        return {"kind": self.kind, "camera": self.camera_id, "detect_s": delta(self.detected_at, self.cut_at),
                "recovery_s": delta(self.recovered_at, self.restored_at), "detected_as": self.detected_as,
                "restart_s": delta(self.restarted_at, self.restored_at),
                "first_segment_s": delta(self.recovered_at, self.restarted_at),
                "portal_offline_s": delta(self.portal_offline_at, self.cut_at),
                "portal_online_s": delta(self.portal_online_at, self.restored_at), "outage_s": self.outage_s,
                "restarts_while_away": self.restarts}


class StallRun:
    """Cut and restore cameras concurrently, each from its own thread; a log reader and a portal poller
    timestamp what the worker and the portal see."""

    def __init__(self, portal: Portal, worker: WorkerProc) -> None:
        self.portal = portal
        self.worker = worker
        self.trials: list[Trial] = []
        self.errors: list[str] = []
        self.status_log: list[tuple[float, int, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def watch(self, camera_ids: list[int]) -> list[threading.Thread]:
        def read_log() -> None:
            while not self.stop.is_set():
                self.worker.read_log()
                self.stop.wait(0.05)

        def poll_portal() -> None:
            last: dict[int, str] = {}
            while not self.stop.is_set():
                now = time.time()
                for cam_id, status in self.portal.statuses(camera_ids).items():
                    if last.get(cam_id) != status:
                        last[cam_id] = status
                        self.status_log.append((now, cam_id, status))
                self.stop.wait(0.2)

        threads = [threading.Thread(target=read_log, daemon=True), threading.Thread(target=poll_portal, daemon=True)]
        for thread in threads:
            thread.start()
        return threads

    def transition_after(self, cam_id: int, since: float, before: str | None = None,
                         after: str | None = None) -> Any:
        for t in list(self.worker.transitions):
            if t.camera_id == cam_id and t.at >= since and (before is None or t.before == before) \
                    and (after is None or t.after == after):
                return t
        return None

    def camera(self, kind: str, cam_id: int, playlist: Path, cut: Callable[[], None], restore: Callable[[], None],
               delay: float, seed: int, outages: list[float]) -> None:
        rng = random.Random(seed)
        time.sleep(delay)
        try:
            for outage in outages:
                self._trial(kind, cam_id, playlist, cut, restore, rng, outage)
                time.sleep(3.0)
        except Exception as exc:  # noqa: BLE001 - reported in the figures
            self.errors.append(repr(exc))

    def _trial(self, kind: str, cam_id: int, playlist: Path, cut: Callable[[], None], restore: Callable[[], None],
               rng: random.Random, outage: float) -> None:
        self._wait(lambda: playlist_ages([playlist])[0] < 1.0, 60, f"camera {cam_id} not live")
        # each trial starts from a camera the portal shows online, so the portal-visible times belong to it
        self._wait(lambda: self.portal.statuses([cam_id]).get(cam_id) == "online", 60,
                   f"camera {cam_id} not online in the portal", interval=0.25)
        time.sleep(rng.uniform(0, SEGMENT_S))  # cut at a random point of a segment
        trial = Trial(kind, cam_id, cut_at=time.time(), outage_s=outage)
        with self.lock:
            self.trials.append(trial)
        cut()
        seen = self._wait(lambda: self.transition_after(cam_id, trial.cut_at, before="running"), 60,
                          f"camera {cam_id}: cut not detected")
        trial.detected_at, trial.detected_as = seen.at, f"{seen.after}: {seen.reason}"
        # the old ffmpeg is gone (backoff) before the camera comes back, after a random outage
        self._wait(lambda: self.transition_after(cam_id, trial.cut_at, after="backoff"), 30,
                   f"camera {cam_id}: never reached backoff")
        # the camera stays away for the trial's outage, counted from the cut
        time.sleep(max(0.0, trial.cut_at + outage - time.time()))
        before = _last_segment(playlist)
        restored = trial.restored_at = time.time()
        trial.restarts = sum(1 for t in list(self.worker.transitions) if t.camera_id == cam_id
                             and t.after == "starting" and trial.cut_at <= t.at <= restored)
        restore()
        recovered = trial.recovered_at = self._wait(lambda: _new_segment_mtime(playlist, restored, before), 60,
                                                    f"camera {cam_id}: no new segment after it came back")
        time.sleep(1.0)  # the log line of that start is written by now
        starts = [t.at for t in list(self.worker.transitions)
                  if t.camera_id == cam_id and t.after == "starting" and t.at <= recovered]
        trial.restarted_at = starts[-1] if starts else None

    def _wait(self, predicate: Callable[[], Any], timeout: float, message: str, interval: float = 0.02) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(message)

    def portal_times(self) -> None:
        for trial in self.trials:
            for at, cam_id, status in self.status_log:
                if cam_id != trial.camera_id:
                    continue
                if trial.portal_offline_at is None and at >= trial.cut_at and status != "online":
                    trial.portal_offline_at = at
                if trial.restored_at is not None and trial.portal_online_at is None and at >= trial.restored_at \
                        and status == "online":
                    trial.portal_online_at = at


def _last_segment(playlist: Path) -> str | None:
    try:
        lines = [line for line in playlist.read_text().splitlines() if line and not line.startswith("#")]
    except OSError:
        return None
    return lines[-1] if lines else None


def _new_segment_mtime(playlist: Path, since: float, before: str | None) -> float | None:
    try:
        mtime = os.stat(playlist).st_mtime
    except OSError:
        return None
    if mtime <= since:
        return None
    last = _last_segment(playlist)
    return mtime if last is not None and last != before else None


def summarize(values: list[float | None]) -> dict[str, float | int | None]:
    clean = [v for v in values if v is not None]
    p50, p95 = percentile(clean, 50), percentile(clean, 95)
    return {"p50": None if p50 is None else round(p50, 2), "p95": None if p95 is None else round(p95, 2),
            "max": round(max(clean), 2) if clean else None, "n": len(clean)}


# -- the run --


def run() -> dict[str, Any]:
    from tests.support.clip import make_test_clip

    simulator, per_process = simulator_class()
    keep = os.environ.get("PANTAU_BENCH_TMP")
    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="pantau-bench-transcoder-"))
    tmp.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    code = code_version()
    figures: dict[str, Any] = {}
    with ExitStack() as stack:
        if not keep:
            stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        clip = make_test_clip(width=1280, height=720, fps=25, bitrate="2M", keyint=25)
        sims = []
        for _ in range(-(-max(RAMP) // per_process)):
            sim = simulator(cameras=per_process, clip=clip)
            stack.callback(sim.close)
            sims.append(sim.start())
        sim_pids = [sim.pid for sim in sims]
        urls = [sim.url(i) for sim in sims for i in range(1, per_process + 1)]
        figures["simulator"] = f"{simulator.__module__}.{simulator.__name__}"
        say(f"{len(sims)} x {simulator.__name__}, {len(urls)} cameras, clip {clip.name}")

        # 1. cost: the worker's cameras next to bare ffmpeg doing the same job, in the same window
        portal = start_portal(tmp, sync_interval_s=SYNC_S, lease_seconds=LEASE_S, segment_seconds=SEGMENT_S,
                              hls_list_size=HLS_LIST_SIZE, record_segment_seconds=RECORD_SEGMENT_S,
                              snapshot_interval_s=SNAPSHOT_S, snapshot_idle_interval_s=SNAPSHOT_IDLE_S)
        stack.callback(portal.close)
        n = COST_CAMERAS
        cameras = portal.add_cameras(urls[:n])
        worker = start_worker(portal, "bench", tmp, PANTAU_WORKER_CAPACITY="1000")
        stack.callback(worker.stop)
        playlists = [portal.playlist(key) for _, key in cameras]
        ok, fresh = wait_fresh(playlists, FRESH_LIMIT_S, timeout=60)
        if not ok:
            raise RuntimeError(f"worker: only {fresh}/{len(playlists)} cameras live within 60 s")
        versus_bare = side_by_side(worker, playlists, {"bare": full_argvs(urls[n:2 * n], tmp / "bare")},
                                   sim_pids, tmp / "fleet-logs")
        say(f"worker vs bare: {versus_bare}")
        # cameras no fleet has used yet: a simulated camera is not reused right after its client left
        simpler = {"bare_hls_only": hls_only_argvs(urls[2 * n:3 * n], tmp / "bare-hls"),
                   "worker_argv_without_recording": full_argvs(urls[3 * n:4 * n], tmp / "no-rec", recording=False)}
        versus_simpler = side_by_side(worker, playlists, simpler, sim_pids, tmp / "fleet-logs")
        say(f"worker vs simpler: {versus_simpler}")
        figures.update(cost_figures(versus_bare, versus_simpler))

        # 2. stalls (extra cameras on their own simulator; the worker's cameras keep running)
        # 3. stalls (extra cameras on their own simulator; the 50 keep running)
        figures.update(stall_phase(stack, portal, worker, clip, simulator))

        # 3. density
        ramp = density_phase(portal, worker, urls, cameras, sim_pids)
        passed = [step for step in ramp if step["passed"]]
        best = max(passed, key=lambda step: step["cameras"]) if passed else None
        figures["max_cameras_fresh"] = best["cameras"] if best else 0
        if best:  # what the same per-camera CPU would allow with the machine to itself (an estimate)
            per_camera = (best["worker_core_pct"] + best["ffmpeg_core_pct"]) / best["cameras"]
            cores = len(os.sched_getaffinity(0))
            figures["estimated_cameras_cpu_bound_without_simulator"] = int(0.9 * 100 * cores / per_camera)
        figures["ramp"] = ramp
        figures["watched_snapshot_age_s_max"] = best["watched_snapshot_age_s_max"] if best else None
        worker.stop()
        figures["worker_exit_code"] = worker.proc.returncode
    figures["duration_s"] = round(time.monotonic() - started, 1)
    figures["code"] = {**code, "changed_during_run": code_version() != code}
    figures["method"] = method()
    figures["goals"] = GOALS
    figures["settings"] = settings()
    return figures


def settings() -> dict[str, Any]:
    from transcoder.ffmpeg import SMALL_PROBE

    return {"segment_seconds": SEGMENT_S, "hls_list_size": HLS_LIST_SIZE, "record_segment_seconds": RECORD_SEGMENT_S,
            "snapshot_interval_s": SNAPSHOT_S, "snapshot_idle_interval_s": SNAPSHOT_IDLE_S, "sync_interval_s": SYNC_S,
            "lease_seconds": LEASE_S, "cost_cameras": COST_CAMERAS, "cost_window_s": COST_WINDOW_S,
            "cost_windows": COST_WINDOWS, "warmup_s": WARMUP_S, "fresh_window_s": FRESH_WINDOW_S, "ramp": RAMP,
            "watched_cameras": WATCHED, "stall_cameras_per_kind": STALL_CAMERAS,
            "trials_per_camera": TRIALS_PER_CAMERA, "outages_s": OUTAGES_S, "input_probe": SMALL_PROBE,
            "clip": "testsrc2 1280x720 25 fps 2 Mb/s H.264, keyframe every second",
            "simulator": os.environ.get("PANTAU_BENCH_SIMULATOR", "light")}


def cost_figures(versus_bare: list[dict[str, Any]], versus_simpler: list[dict[str, Any]]) -> dict[str, Any]:
    n = COST_CAMERAS

    def cpu(window: dict[str, Any], *groups: str) -> float:
        """% of one core per camera used by these process groups in this window."""
        return 100 * sum(window[f"{g}_cpu_s"] for g in groups) / window["window_s"] / n

    def pss(window: dict[str, Any], group: str) -> float:
        return float(window["pss_kb"][group]) / 1024 / n

    def med(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    bare_ratios = [cpu(w, "worker", "ffmpeg") / cpu(w, "bare") for w in versus_bare]
    hls_ratios = [cpu(w, "worker", "ffmpeg") / cpu(w, "bare_hls_only") for w in versus_simpler]

    def pooled(windows: list[dict[str, Any]], baseline: str) -> float:
        """CPU over all the windows together (a snapshot burst counts for the time it takes, not per window)."""
        ours = sum(w["worker_cpu_s"] + w["ffmpeg_cpu_s"] for w in windows)
        return round(ours / sum(w[f"{baseline}_cpu_s"] for w in windows), 3)

    first = versus_bare[0]
    return {
        "cost_cameras": n,
        "cpu_ratio_vs_bare": pooled(versus_bare, "bare"),
        "cpu_ratio_vs_bare_runs": [round(r, 3) for r in bare_ratios],
        "pss_ratio_vs_bare": med([pss(w, "worker") / pss(w, "bare") for w in versus_bare]),
        "cpu_core_pct_per_camera": med([cpu(w, "worker", "ffmpeg") for w in versus_bare]),
        "cpu_core_pct_per_camera_ffmpeg_only": med([cpu(w, "ffmpeg") for w in versus_bare]),
        "cpu_core_pct_worker_process": med([w["worker_core_pct"] for w in versus_bare]),
        "bare_cpu_core_pct_per_camera": med([cpu(w, "bare") for w in versus_bare]),
        "pss_mb_per_camera": round(pss(first, "worker"), 2),
        "worker_process_pss_mb": round(first["pss_kb"]["worker_process"] / 1024, 1),
        "bare_pss_mb_per_camera": round(pss(first, "bare"), 2),
        "simulator_cpu_core_pct_per_camera": med([cpu(w, "sim") / 2 for w in versus_bare]),
        "simpler_baselines": {
            "cpu_core_pct_per_camera_worker_same_window": med([cpu(w, "worker", "ffmpeg") for w in versus_simpler]),
            "bare_hls_only": {"cpu_core_pct_per_camera": med([cpu(w, "bare_hls_only") for w in versus_simpler]),
                              "pss_mb_per_camera": round(pss(versus_simpler[0], "bare_hls_only"), 2),
                              "worker_cpu_ratio": pooled(versus_simpler, "bare_hls_only"),
                              "worker_cpu_ratio_runs": [round(r, 3) for r in hls_ratios]},
            "worker_argv_without_recording": {
                "cpu_core_pct_per_camera": med([cpu(w, "worker_argv_without_recording") for w in versus_simpler]),
                "worker_cpu_ratio": pooled(versus_simpler, "worker_argv_without_recording")},
        },
        "cost_windows": {"versus_bare": versus_bare, "versus_simpler": versus_simpler},
    }


def step_figures(cameras: int, window: dict[str, Any], worker: WorkerProc, **extra: Any) -> dict[str, Any]:
    try:
        states = worker.states()
    except OSError:
        states = {}
    return {
        "cameras": cameras,
        # every sample fresh, (nearly) one sample a second, no ffmpeg replaced during the window
        "passed": window["fresh_samples"] >= 0.8 * FRESH_WINDOW_S and window["stale_samples"] == 0
        and window["changed_processes"] == 0,
        "worst_playlist_age_s": window["worst_playlist_age_s"],
        "stale_samples": window["stale_samples"],
        "fresh_samples": window["fresh_samples"],
        "stale_cameras_max": window["stale_cameras_max"],
        "worker_core_pct": window["worker_core_pct"],
        "ffmpeg_core_pct": window["ffmpeg_core_pct"],
        "simulator_core_pct": window["sim_core_pct"],
        "machine_busy_pct": window["machine_busy_pct"],
        "other_core_pct": window["other_core_pct"],
        "pss_mb_per_camera": round(window["pss_kb"]["worker"] / 1024 / cameras, 2) if window["pss_kb"] else None,
        "worker_states": {k: v for k, v in states.items() if v},
        **extra,
    }


def stall_phase(stack: ExitStack, portal: Portal, worker: WorkerProc, clip: Path, simulator: Any) -> dict[str, Any]:
    sim = simulator(cameras=2 * STALL_CAMERAS, clip=clip)
    stack.callback(sim.close)
    sim.start()
    proxies = [FreezableProxy(("127.0.0.1", sim.port)) for _ in range(STALL_CAMERAS)]
    for proxy in proxies:
        stack.callback(proxy.close)
    frozen = portal.add_cameras([p.url(sim.name(i)) for i, p in enumerate(proxies, 1)], prefix="Freeze")
    direct = portal.add_cameras([sim.url(i) for i in range(STALL_CAMERAS + 1, 2 * STALL_CAMERAS + 1)],
                                prefix="Disconnect")
    ids = [cam_id for cam_id, _ in frozen + direct]
    ok, fresh = wait_fresh([portal.playlist(key) for _, key in frozen + direct], FRESH_LIMIT_S, timeout=60)
    if not ok:
        raise RuntimeError(f"stall cameras: only {fresh}/{len(ids)} live within 60 s")
    say("stall trials")
    stall = StallRun(portal, worker)
    stall.stop.clear()
    watchers = stall.watch(ids)
    threads = []
    def outages(n: int) -> list[float]:  # each camera one short and one long outage; every length twice a kind
        return [float(OUTAGES_S[(n + k * len(OUTAGES_S) // TRIALS_PER_CAMERA) % len(OUTAGES_S)])
                for k in range(TRIALS_PER_CAMERA)]

    for n, (proxy, (cam_id, key)) in enumerate(zip(proxies, frozen, strict=True)):
        threads.append(threading.Thread(target=stall.camera, args=(
            "freeze", cam_id, portal.playlist(key), proxy.freeze, proxy.thaw, n * 1.3, n, outages(n)), daemon=True))
    for n, (cam_id, key) in enumerate(direct):
        index = STALL_CAMERAS + 1 + n
        threads.append(threading.Thread(target=stall.camera, args=(
            "disconnect", cam_id, portal.playlist(key), lambda i=index: sim.stop_camera(i),
            lambda i=index: sim.start_camera(i), 0.65 + n * 1.3, 100 + n, outages(n)), daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    time.sleep(SYNC_S + 1)  # let the portal catch up with the last recoveries
    stall.stop.set()
    for thread in watchers:
        thread.join(timeout=5)
    stall.portal_times()
    stopping = stopping_times(worker, [cam_id for cam_id, _ in frozen])
    portal.set_enabled(ids, False)
    rows = [t.figures() for t in stall.trials]
    freeze = [r for r in rows if r["kind"] == "freeze"]
    disconnect = [r for r in rows if r["kind"] == "disconnect"]
    f_detect, f_recover = summarize([r["detect_s"] for r in freeze]), summarize([r["recovery_s"] for r in freeze])
    d_detect = summarize([r["detect_s"] for r in disconnect])
    d_recover = summarize([r["recovery_s"] for r in disconnect])

    def breakdown(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"restart_s": summarize([r["restart_s"] for r in rows]),
                "first_segment_s": summarize([r["first_segment_s"] for r in rows]),
                "portal_offline_s": summarize([r["portal_offline_s"] for r in rows]),
                "portal_online_s": summarize([r["portal_online_s"] for r in rows])}

    every = rows
    by_outage = {f"{int(o)}s": {"recovery_s": summarize([r["recovery_s"] for r in every if r["outage_s"] == o]),
                                "restarts_while_away": sum(r["restarts_while_away"] for r in every
                                                           if r["outage_s"] == o)}
                 for o in OUTAGES_S}
    figures = {
        "stall_detect_s_p50": f_detect["p50"],
        "stall_detect_s_p95": f_detect["p95"],
        "recovery_s_p50": f_recover["p50"],
        "recovery_s_p95": f_recover["p95"],
        "recovery_s_p95_all_trials": summarize([r["recovery_s"] for r in every])["p95"],
        "stall_trials": {
            "freeze": {"detect_s": f_detect, "recovery_s": f_recover, **breakdown(freeze),
                       "stopping_s": summarize(stopping)},
            "disconnect": {"detect_s": d_detect, "recovery_s": d_recover, **breakdown(disconnect)},
            "all": {"detect_s": summarize([r["detect_s"] for r in every]),
                    "recovery_s": summarize([r["recovery_s"] for r in every])},
            "by_outage": by_outage,
            "cameras_running_meanwhile": COST_CAMERAS,
            "errors": stall.errors,
            "trials": rows,
        },
    }
    say(f"stalls: freeze detect {f_detect} recover {f_recover}; disconnect detect {d_detect} recover {d_recover}; "
        f"errors {stall.errors}")
    # the stall cameras leave before the density ramp
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(worker.ffmpegs()) > COST_CAMERAS:
        time.sleep(0.5)
    for proxy in proxies:
        proxy.close()
    sim.close()
    return figures


def lease_expiries(worker: WorkerProc) -> int:
    """How often the worker has stopped every camera because no sync succeeded within the lease."""
    try:
        return worker.log_path.read_text(errors="replace").count("lease and grace expired without a successful sync")
    except OSError:
        return 0


def stopping_times(worker: WorkerProc, camera_ids: list[int]) -> list[float | None]:
    """Seconds each stalled ffmpeg took from the worker's SIGTERM (running -> stopping) to being gone."""
    times: list[float | None] = []
    log = list(worker.transitions)
    for i, t in enumerate(log):
        if t.camera_id in camera_ids and t.before == "running" and t.after == "stopping":
            gone = next((u for u in log[i + 1:] if u.camera_id == t.camera_id and u.before == "stopping"), None)
            times.append(None if gone is None else gone.at - t.at)
    return times


class SnapshotViewer:
    """Someone looking at the list page: reads these snapshots every 5 s (as static/js/snapshots.js does) and
    notes how old each was when read."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.measuring = False
        self.worst_age: float | None = None
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in self.paths:
                try:
                    with path.open("rb") as handle:  # a read moves the access time: the worker sees a viewer
                        handle.read()
                    age = time.time() - path.stat().st_mtime
                except OSError:
                    age = float("inf")
                if self.measuring:
                    self.reads += 1
                    self.worst_age = age if self.worst_age is None else max(self.worst_age, age)
            self._stop.wait(5.0)


def archive_check(portal: Portal, cameras: list[tuple[int, str]]) -> dict[str, Any]:
    """Every camera records (its open recording file grew in the last 5 s) and has a snapshot younger than the
    idle interval (plus 15 s of slack)."""
    now = time.time()
    recording_ages, snapshot_ages = [], []
    for cam_id, key in cameras:
        incoming = portal.media_root / "recordings" / str(cam_id) / "incoming"
        try:
            newest = max((entry.stat().st_mtime for entry in os.scandir(incoming) if entry.name.endswith(".mp4")),
                         default=0.0)
        except OSError:
            newest = 0.0
        recording_ages.append(now - newest)
        try:
            snapshot_ages.append(now - (portal.media_root / "snapshots" / f"{key}.jpg").stat().st_mtime)
        except OSError:
            snapshot_ages.append(float("inf"))
    return {"recording_stale": sum(1 for age in recording_ages if age > 5.0),
            "recording_age_s_max": round(max(recording_ages), 1),
            "snapshot_stale": sum(1 for age in snapshot_ages if age > SNAPSHOT_IDLE_S + 15),
            "snapshot_age_s_max": round(max(snapshot_ages), 1) if snapshot_ages else None}


def density_phase(portal: Portal, worker: WorkerProc, urls: list[str], cameras: list[tuple[int, str]],
                  sim_pids: list[int]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    passed_at = len(cameras)

    def groups() -> dict[str, list[int]]:
        return {"worker": [worker.pid], "ffmpeg": worker.ffmpegs(), "sim": sim_pids}

    def measure(n: int) -> dict[str, Any]:
        leases_before = lease_expiries(worker)
        playlists = [portal.playlist(key) for _, key in cameras[:n]]
        t0 = time.monotonic()
        ok, fresh = wait_fresh(playlists, FRESH_LIMIT_S, timeout=60)
        up_s = round(time.monotonic() - t0, 1)
        if not ok:
            return {"cameras": n, "passed": False, "up_within_60s": fresh, "up_s": up_s,
                    "lease_expired": lease_expiries(worker) - leases_before}
        viewer = SnapshotViewer([portal.media_root / "snapshots" / f"{key}.jpg" for _, key in cameras[:WATCHED]])
        viewer.start()  # during the warm-up too: the worker needs one read to notice someone looks
        try:
            time.sleep(WARMUP_S)
            viewer.measuring = True
            window = measure_window(groups, playlists, FRESH_WINDOW_S,
                                    pss={"worker": lambda: [worker.pid, *worker.ffmpegs()]})
        finally:
            viewer.stop()
        archive = archive_check(portal, cameras[:n])
        syncs = portal.sync_seconds(window["started_at"])
        step = step_figures(n, window, worker, up_s=up_s, restarts_in_window=window["changed_processes"],
                            portal_sync_s_max=round(max(syncs), 2) if syncs else None, portal_syncs=len(syncs),
                            lease_expired=lease_expiries(worker) - leases_before, **archive,
                            watched_snapshot_age_s_max=viewer.worst_age, watched_reads=viewer.reads)
        step["passed"] = bool(step["passed"] and archive["recording_stale"] == 0 and archive["snapshot_stale"] == 0
                              and viewer.worst_age is not None and viewer.worst_age <= 10.0)
        return step

    for target in (t for t in RAMP if t > passed_at):
        if len(cameras) < target:
            cameras += portal.add_cameras(urls[len(cameras):target])
        step = measure(target)
        say(f"ramp {target}: {step}")
        steps.append(step)
        if not step["passed"]:
            half = (passed_at + target) // 2
            if half > passed_at:
                portal.set_enabled([cam_id for cam_id, _ in cameras[half:]], False)
                del cameras[half:]
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and len(worker.ffmpegs()) > half:
                    time.sleep(0.5)
                step = measure(half)
                say(f"ramp {half}: {step}")
                steps.append(step)
            break
        passed_at = target
    return steps


def code_version() -> dict[str, Any]:
    """The commit measured, and whether transcoder/ differed from it (the figures belong to that code)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "transcoder"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "transcoder_modified": bool(dirty)}


def method() -> str:
    return (
        "One run on this machine, cameras simulated by the server named in `simulator` (by default "
        "tests/support/rtsp_light.py, a pure-Python RTSP server sending pre-packetized RTP over TCP, 100 "
        "cameras per process; PANTAU_BENCH_SIMULATOR=gstreamer uses tests/support/rtsp_server.py, 50 per "
        "process), looping a 1280x720 25 fps 2 Mbps H.264 clip with a keyframe every second; worker started "
        "as `python -m transcoder` against an in-process portal "
        f"(SQLite, sync {SYNC_S} s, segments {SEGMENT_S} s, playlist {HLS_LIST_SIZE}, recording segments "
        f"{RECORD_SEGMENT_S} s, snapshots every {SNAPSHOT_S} s while looked at and every {SNAPSHOT_IDLE_S} s "
        "otherwise, cut from the newest live segment in the worker), media on the local disk. "
        f"Cost: {COST_CAMERAS} cameras under the worker and, in the same {COST_WINDOW_S} s windows after "
        f"{WARMUP_S} s of warm-up ({COST_WINDOWS} windows; the ratios are the CPU of all windows together, *_runs "
        "each window's, the other cost figures the median window), "
        f"{COST_CAMERAS} bare ffmpeg started directly with the worker's own argv "
        "(transcoder.ffmpeg.build_argv: fMP4 live HLS, -c:v copy; the worker builds the recording from those "
        "segments in its own process, which the bare processes don't do, so cpu_ratio_vs_bare includes the "
        "recording's whole cost) on other simulated cameras, so "
        "whatever else loads the machine weighs on both alike; CPU is utime+stime from /proc/<pid>/stat of the "
        "worker (snapshots included) and its ffmpeg children versus the bare ffmpegs, PSS from "
        "/proc/<pid>/smaps_rollup (mean of 3 samples). Another set of windows puts the worker next to "
        "`ffmpeg -rtsp_transport tcp -i URL -c copy -f hls` (live HLS only: simpler_baselines.bare_hls_only). "
        f"Stalls: {STALL_CAMERAS} cameras behind a TCP proxy that freezes (open connection silently dropped, "
        f"new connections refused) and {STALL_CAMERAS} cameras whose simulator mount is removed (stop_camera: the "
        f"server hangs up), {TRIALS_PER_CAMERA} trials each, run concurrently while {COST_CAMERAS} other cameras "
        f"stream, cut at a random point of a segment, camera back after an outage of {OUTAGES_S} s (each camera "
        "one short and one long; by_outage groups the trials); detection = cut to "
        "the worker's log line taking the camera out of running (ms timestamps), recovery = camera back to the "
        "mtime of the first live playlist naming a new segment; the headline stall_* and recovery_* figures "
        "are the freeze trials (the case only the progress check catches), disconnect and portal-visible "
        "(database status, includes the sync interval) figures are under stall_trials; percentiles are "
        "nearest-rank. "
        f"Density: cameras added in steps ({', '.join(map(str, RAMP))}); a step passes if, after every playlist "
        f"is live and {WARMUP_S} s of warm-up, all playlists are younger than {FRESH_LIMIT_S} s (3 segments) at each "
        f"1 s sample for {FRESH_WINDOW_S} s (at least 80 % of the samples taken, no ffmpeg replaced in the "
        "window), every camera recording (open recording file written in the last 5 s) and with a snapshot "
        f"younger than {SNAPSHOT_IDLE_S + 15} s, and the {WATCHED} snapshots a simulated viewer reads every 5 s "
        "never older than 10 s when read (watched_snapshot_age_s_max); at the first failing step one step halfway "
        "back is measured. Each step also reports how long "
        "the portal (in this benchmark's process, on the same machine) took to answer the worker's syncs and "
        "how often the worker's lease and grace expired (it then stops every camera). "
        "The simulator shares the 2 cores (its CPU is reported per step: simulator_core_pct), so "
        "max_cameras_fresh is a lower bound for a machine that only runs the worker; "
        "estimated_cameras_cpu_bound_without_simulator = 90 % of the machine's cores divided by the worker's "
        "and its ffmpegs' CPU per camera at the best passing step (an extrapolation, not a measurement)."
    )
