"""``make soak`` / ``python -m bench.soak [--minutes N]``: the whole system under a schedule of faults.

PostgreSQL (an instance of its own, so restarting it harms nobody else's tests), the portal under gunicorn, the
project's nginx, the jobs process when the portal has one, two transcoder workers and 20 simulated RTSP cameras
(10 minutes by default). Faults (``bench/soak/schedule.py``): cameras dropping and freezing, ffmpeg killed, a
worker killed and restarted (with its disk guard forced on, so only legal holds keep footage), the portal
restarted, PostgreSQL restarted, a burst of public viewers (and of reports when reporting and jobs exist).

Figures (``bench/results/soak.json``): availability of each camera against the time its source was up (sampled
through nginx every second), orphan ffmpeg processes after shutdown, recording gaps beyond the outage plus 5 s,
held segments deleted, portal 5xx in nginx's access log, reports lost or delivered twice (when measurable).
Not part of ``make test`` or ``make bench``: it takes the machine for the whole run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.soak import measure, schedule
from bench.soak.load import ReportBurst, Sampler, ViewerBurst
from bench.soak.schedule import Fault, Plan
from bench.soak.stack import SoakConfig, SoakStack, ffmpeg_pids, jobs_available, reports_available
from contract import worker_api

ONLY_WHEN_NAMED = True  # `python -m bench` alone (make bench) leaves the soak out
GOALS: dict[str, dict[str, float]] = {
    "availability_min": {"min": 0.99},
    "orphan_ffmpeg_after_shutdown": {"max": 0},
    "recording_gaps_beyond_outage": {"max": 0},
    "held_segments_deleted": {"max": 0},
    "portal_5xx": {"max": 0},
}
MOONSHOTS: dict[str, dict[str, float]] = {"availability_min": {"min": 0.995}}
REPORT_GOALS = {"reports_lost": {"max": 0}, "reports_delivered_twice": {"max": 0}}
GAP_ALLOWANCE_S = 5.0


class Runner:
    """Carries out a plan against a stack and records what was done, when (wall clock)."""

    def __init__(self, stack: SoakStack, plan: Plan) -> None:
        self.stack = stack
        self.plan = plan
        self.t0 = 0.0
        self.log: list[dict[str, Any]] = []
        self.outages: dict[int, list[list[float]]] = {}  # camera number -> [start, end] as applied
        self.windows: dict[str, list[tuple[float, float]]] = {}  # fault kind -> wall-clock spans
        self.bursts: list[ViewerBurst] = []
        self.reports: list[ReportBurst] = []
        self.held_seen: set[str] = set()
        self.load1: list[float] = []  # the machine's 1-minute load average every 10 s (it is shared)
        self.orphans_after_worker_kill: int | None = None
        self._timers: list[threading.Timer] = []
        self._threads: list[threading.Thread] = []
        self._killed_at = 0.0
        self._pg_began = 0.0

    def note(self, kind: str, **what: Any) -> None:
        self.log.append({"t": round(time.time() - self.t0, 1), "kind": kind, **what})

    def events(self) -> list[tuple[float, str, Callable[[], None]]]:
        """Each fault as timed actions (a fault with a duration has an end action too)."""
        out: list[tuple[float, str, Callable[[], None]]] = []
        for f in self.plan.faults:
            out += self._actions(f)
        return sorted(out, key=lambda e: e[0])

    def _actions(self, f: Fault) -> list[tuple[float, str, Callable[[], None]]]:
        s = self.stack
        if f.kind == schedule.CAMERA_DROP:
            cam = int(f.target or 0)
            return [(f.at, f"drop {cam}", lambda: self._source(cam, s.drop, True)),
                    (f.end, f"undrop {cam}", lambda: self._source(cam, s.undrop, False))]
        if f.kind == schedule.CAMERA_FREEZE:
            cam = int(f.target or 0)
            return [(f.at, f"freeze {cam}", lambda: self._source(cam, s.freeze, True)),
                    (f.end, f"thaw {cam}", lambda: self._source(cam, s.thaw, False))]
        if f.kind == schedule.FFMPEG_KILL:
            cam = int(f.target or 0)
            return [(f.at, f"kill ffmpeg {cam}", lambda: self.note(f.kind, camera=cam, killed=s.kill_ffmpeg(cam)))]
        if f.kind == schedule.WORKER_KILL:
            name = str(f.target)
            return [(f.at, f"kill {name}", lambda: self._kill_worker(name)),
                    (f.end, f"restart {name}", lambda: self._restart_worker(name))]
        if f.kind == schedule.PORTAL_RESTART:  # in the background: it takes seconds, other faults go on
            return [(f.at, "restart portal", lambda: self._background(self._restart_portal))]
        if f.kind == schedule.POSTGRES_RESTART:
            return [(f.at, "stop postgres", self._pg_down), (f.end, "start postgres", self._pg_up)]
        if f.kind == schedule.JOBS_RESTART:
            return [(f.at, "restart jobs", lambda: self._timed(f.kind, s.restart_jobs))]
        if f.kind == schedule.VIEWER_BURST:
            return [(f.at, "viewers", lambda: self._viewers(f))]
        if f.kind == schedule.REPORT_BURST and getattr(s, "reports", False):
            return [(f.at, "reports", lambda: self._reports(f))]
        return [(f.at, f.kind, lambda: self.note(f.kind, skipped="not available in this portal"))]

    def _window(self, kind: str, start: float, end: float) -> None:
        # nginx's log has whole seconds: a window opens at the start of its second
        self.windows.setdefault(kind, []).append((float(int(start)), end))

    def _source(self, cam: int, action: Callable[[int], None], down: bool) -> None:
        action(cam)
        now = time.time()
        if down:
            self.outages.setdefault(cam, []).append([now, now])
        elif self.outages.get(cam):
            self.outages[cam][-1][1] = now
        self.note("source_down" if down else "source_up", camera=cam)

    def _timed(self, kind: str, action: Callable[[], Any]) -> Any:
        began = time.time()
        result = action()
        self._window(kind, began, time.time() + 15)  # effects may trail the action by a few syncs
        self.note(kind, seconds=round(time.time() - began, 2))
        return result

    def _kill_worker(self, name: str) -> None:
        proc = self.stack.worker_procs[name]
        children = [p for p in ffmpeg_pids(self.stack.media_root) if _ppid(p) == proc.pid]
        self.stack.kill_worker(name)
        self._killed_at = time.time()
        self.note(schedule.WORKER_KILL, worker=name, ffmpeg_children=len(children))

        def count() -> None:
            self.orphans_after_worker_kill = sum(1 for p in children if _alive(p))

        timer = threading.Timer(10.0, count)
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def _restart_worker(self, name: str) -> None:
        self.stack.restart_worker(name)
        self._window(schedule.WORKER_KILL, self._killed_at, time.time() + 15)
        self.note("worker_restart", worker=name, disk_pressure=self.stack.config.disk_pressure)

    def _background(self, action: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                action()
            except Exception as exc:
                self.note("fault_failed", action=getattr(action, "__name__", "?"), error=repr(exc)[:300])

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _restart_portal(self) -> None:
        began = time.time()
        down = self.stack.restart_portal()
        self._window(schedule.PORTAL_RESTART, began, time.time() + 15)
        self.note(schedule.PORTAL_RESTART, unavailable_s=round(down, 2))

    def _pg_down(self) -> None:
        assert self.stack.pg is not None
        self._pg_began = time.time()
        self.stack.pg.down()
        self.note("postgres_down")

    def _pg_up(self) -> None:
        assert self.stack.pg is not None
        self.stack.pg.up()
        self._window(schedule.POSTGRES_RESTART, self._pg_began, time.time() + 15)
        self.note("postgres_up", down_s=round(time.time() - self._pg_began, 2))

    def _viewers(self, f: Fault) -> None:
        burst = ViewerBurst(self.stack.nginx_url, [c.id for c in self.stack.cameras], f.count, f.duration_s)
        self.bursts.append(burst.start())
        self._window(schedule.VIEWER_BURST, time.time(), time.time() + f.duration_s)
        self.note(schedule.VIEWER_BURST, viewers=f.count, duration_s=f.duration_s)

    def _scan(self) -> None:
        self.held_seen |= self.stack.held_files_on_disk()
        self.load1.append(round(os.getloadavg()[0], 2))

    def _reports(self, f: Fault) -> None:
        self.reports.append(ReportBurst(self.stack.nginx_url, f.count).start())
        self.note(schedule.REPORT_BURST, reports=f.count)

    def run(self, t0: float) -> None:
        self.t0 = t0
        next_scan = 0.0
        for at, label, action in self.events():
            while time.time() < t0 + at:
                if time.time() >= next_scan:
                    self._scan()
                    next_scan = time.time() + 10
                time.sleep(min(0.2, max(0.0, t0 + at - time.time())))
            try:
                action()
            except Exception as exc:  # a fault that could not be applied is reported, the soak goes on
                self.note("fault_failed", action=label, error=repr(exc)[:300])
        while time.time() < t0 + self.plan.duration_s:
            if time.time() >= next_scan:
                self._scan()
                next_scan = time.time() + 10
            time.sleep(0.2)
        self.held_seen |= self.stack.held_files_on_disk()
        for timer in self._timers:
            timer.join(timeout=15)
        for thread in self._threads:
            thread.join(timeout=90)


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_settled(stack: SoakStack, timeout: float = 180, steady_s: float = 12.0) -> float:
    """Until every camera is leased, every worker holds some, and no lease moved for ``steady_s`` (the first
    worker to sync takes every camera and sheds the excess when the second arrives: not a fault)."""
    began = time.monotonic()
    last: dict[int, int] = {}
    since = began
    while True:
        leases = stack.leases()
        if leases != last:
            last, since = leases, time.monotonic()
        spread = len(leases) == len(stack.cameras) and len(set(leases.values())) == len(stack.config.workers)
        if spread and time.monotonic() - since >= steady_s:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"leases did not settle within {timeout:g} s: {leases}")
        time.sleep(1.0)


def wait_live(stack: SoakStack, timeout: float = 180) -> float:
    """Until every camera's playlist answers through nginx with at least two segments; returns the seconds."""
    import requests

    began = time.monotonic()
    pending = set(range(1, len(stack.cameras) + 1))
    while pending:
        for cam in list(pending):
            try:
                answer = requests.get(stack.playlist_url(cam), timeout=2)
            except requests.RequestException:
                continue
            if answer.status_code == 200 and answer.text.count("#EXTINF") >= 2:
                pending.discard(cam)
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"cameras {sorted(pending)} not live after {timeout:g} s\n"
                               f"{stack.log_tail('worker-w1')}\n{stack.log_tail('worker-w2')}")
        time.sleep(0.5)
    return time.monotonic() - began


def run(minutes: float | None = None, cameras: int | None = None, seed: int = 13, keep: bool = False,
        viewers: int | None = None, stale_auth: bool = False, signed_links: bool = True) -> dict[str, Any]:
    minutes = float(minutes if minutes is not None else os.environ.get("PANTAU_SOAK_MINUTES", "10"))
    cameras = int(cameras if cameras is not None else os.environ.get("PANTAU_SOAK_CAMERAS", "20"))
    config = SoakConfig(minutes=minutes, cameras=cameras, seed=seed, keep=keep, stale_auth=stale_auth,
                        signed_links=signed_links,
                        viewers=viewers if viewers is not None else max(10, cameras * 5 // 2))
    duration = minutes * 60
    jobs = jobs_available()
    plan = schedule.plan(duration, cameras, workers=config.workers, seed=seed, jobs=jobs,
                         reports=jobs and reports_available(), viewers=config.viewers)
    began = time.time()
    with SoakStack(config, frozen=plan.frozen_cameras()) as stack:
        warmup_s = wait_live(stack) + wait_settled(stack)
        warmup_s += wait_live(stack)
        t0 = time.time()
        stack.put_hold(t0 - 60, t0 + 0.3 * duration)  # early: the first third of the run, and the minute before
        sampler = Sampler([stack.status_url(c.number) for c in stack.cameras], config.sample_interval_s).start()
        runner = Runner(stack, plan)
        try:
            runner.run(t0)
        finally:
            end = time.time()
            sampler.stop()
        bursts = [b.join() for b in runner.bursts]
        report_bursts = [b.join() for b in runner.reports]
        reports = _await_deliveries(stack, runner, 90.0) if runner.reports else None
        # shutdown: every worker stops (SIGTERM) and hands over its last segments; no ffmpeg may outlive them
        stack.stop_workers()
        orphans = _settle(lambda: len(ffmpeg_pids(stack.media_root)), 10.0)
        segments = stack.segments()
        present = stack.recordings_on_disk()
        access = measure.access_entries(stack.access_log())
        figures = _figures(stack, plan, runner, sampler, segments, present, access, t0, end, orphans, bursts)
        if reports is not None:
            figures.update(reports_lost=reports["lost"], reports_delivered_twice=reports["delivered_twice"])
            figures["reports"] = {**reports, "bursts": report_bursts,
                                  "how": "public /lapor reports (category fire, dispatched on receipt by the jobs "
                                         "process) to a webhook receiver; lost: accepted, never delivered; "
                                         "delivered_twice: a report whose dispatch alert came under two delivery "
                                         "ids; arrived_again_same_id: at-least-once repeats the receiver dropped"}
        figures["warmup_s"] = round(warmup_s, 1)
        figures["jobs_process"] = stack.jobs
    figures["wall_s"] = round(time.time() - began, 1)
    return figures


def _await_deliveries(stack: SoakStack, runner: Runner, timeout: float) -> dict[str, Any]:
    """Wait (up to ``timeout``) until every accepted report's dispatch alert reached the receiver."""
    sent = {code for burst in runner.reports for code in burst.accepted}
    deadline = time.monotonic() + timeout
    while True:
        created = [(code, ident) for code, event, ident in stack.deliveries() if event == "dispatch.created"]
        if sent <= {code for code, _ in created} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    distinct = sorted(set(created))
    outcome = measure.report_outcome(sent, [code for code, _ in distinct])
    return {**outcome, "arrived_again_same_id": len(created) - len(distinct),
            "waited_s": round(timeout - max(0.0, deadline - time.monotonic()), 1)}


def _settle(count: Callable[[], int], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = count()
        if n == 0 or time.monotonic() > deadline:
            return n
        time.sleep(0.2)


def _figures(stack: SoakStack, plan: Plan, runner: Runner, sampler: Sampler,
             segments: list[tuple[int, float, float, str, bool]], present: set[str],
             access: list[tuple[float, str, str, int]], t0: float, end: float, orphans: int,
             bursts: list[dict[str, Any]]) -> dict[str, Any]:
    config = stack.config
    per_camera: dict[str, Any] = {}
    ratios: list[float] = []
    recovered: list[float | None] = []
    all_gaps: list[dict[str, Any]] = []
    for cam in stack.cameras:
        outages = [(a, b) for a, b in runner.outages.get(cam.number, [])]
        avail = measure.camera_availability(sampler.samples[cam.number - 1], outages, t0, end,
                                            config.stale_after_s)
        back = measure.recoveries(sampler.samples[cam.number - 1], outages)
        recovered += back
        spans = [(s, e) for c, s, e, _, _ in segments if c == cam.id]
        gaps = measure.recording_gaps(spans, outages, t0, end, GAP_ALLOWANCE_S)
        for gap in gaps:
            gap["camera"] = cam.number
            gap["at_s"] = round(gap["start"] - t0, 1)
            gap["during"] = _faults_during(runner.windows, gap["start"], gap["end"])
        all_gaps += gaps
        if avail["availability"] is not None:
            ratios.append(avail["availability"])
        per_camera[str(cam.number)] = {
            "availability": avail["availability"], "samples_source_up": avail["samples_source_up"],
            "source_outage_s": round(sum(b - a for a, b in outages), 1),
            "live_again_after_source_s": back,
            "unavailable": [{"at_s": round(a - t0, 1), "seconds": s, "during": _faults_during(runner.windows, a, b),
                             "why": why} for (a, b, s), why in zip(avail["unavailable"], avail["why"], strict=True)],
            "status_lookups": dict(sampler.followers[cam.number - 1].lookups),
            "recording_gaps": len(gaps),
        }
    lost_by_cause: dict[str, float] = {}
    for cam in per_camera.values():
        for stretch in cam["unavailable"]:
            cause = "+".join(stretch["during"]) or "no_fault"
            lost_by_cause[cause] = round(lost_by_cause.get(cause, 0.0) + stretch["seconds"], 1)
    held_ids = {c for c, _, _ in stack.hold_spans}
    held_index = {p for c, s, e, p, _ in segments if c in held_ids and any(
        hc == c and s < he and e > hs for hc, hs, he in stack.hold_spans)}
    held_all = runner.held_seen | held_index
    held_gone = measure.held_deleted(held_all, present)
    held_marked = sorted(p for c, s, e, p, deleted in segments if p in held_index and deleted)
    errors = measure.server_errors(access, t0, end, runner.windows)
    avail_summary = measure.summary(ratios)
    figures: dict[str, Any] = {
        "availability_min": avail_summary["min"],
        "availability_p50": avail_summary["p50"],
        "availability_mean": avail_summary["mean"],
        "unavailable_camera_seconds_by_fault": dict(sorted(lost_by_cause.items(), key=lambda kv: -kv[1])),
        "live_again_after_source_s": {**measure.summary([r for r in recovered if r is not None]),
                                      "max": max((r for r in recovered if r is not None), default=None),
                                      "not_within_120_s": sum(1 for r in recovered if r is None),
                                      "outages": len(recovered)},
        "orphan_ffmpeg_after_shutdown": orphans,
        "orphan_ffmpeg_after_worker_kill": runner.orphans_after_worker_kill,
        "recording_gaps_beyond_outage": len(all_gaps),
        "held_segments_deleted": len(set(held_gone) | set(held_marked)),
        "portal_5xx": errors["total"],
        "reports_lost": None,
        "reports_delivered_twice": None,
        "reports": "not measured: this portal has no public reporting with delivery through the jobs process",
        "held": {"cameras": len(held_ids), "segments_seen": len(held_all), "gone_from_disk": held_gone[:20],
                 "marked_deleted_in_index": held_marked[:20],
                 "unheld_segments_deleted": sum(1 for *_, deleted in segments if deleted)},
        "recording": {"segments_indexed": len(segments), "gaps": all_gaps[:40]},
        "portal_5xx_detail": errors,
        "viewer_bursts": bursts,
        "sampler_late_ticks": sampler.late_ticks,
        "machine_load1": {"min": min(runner.load1, default=None), "max": max(runner.load1, default=None),
                          "mean": round(sum(runner.load1) / len(runner.load1), 2) if runner.load1 else None,
                          "cores": os.cpu_count()},
        "cameras": per_camera,
        "faults": runner.log,
        "plan": [{"at_s": f.at, "kind": f.kind, "target": f.target, "duration_s": f.duration_s,
                  **({"count": f.count} if f.count else {})} for f in plan.faults],
        "goals": dict(GOALS),
        "moonshots": dict(MOONSHOTS),
        "settings": {"minutes": config.minutes, "cameras": config.cameras, "workers": list(config.workers),
                     "seed": config.seed, "viewers": config.viewers,
                     "nginx": ("EXPERIMENT: the project's config plus proxy_cache_use_stale on the media access check"
                               if config.stale_auth else "the project's nginx/pantau.conf.template as is"),
                     "held_cameras": config.held_cameras,
                     "disk_pressure_after_worker_restart": config.disk_pressure,
                     "stale_after_s": config.stale_after_s, "sample_interval_s": config.sample_interval_s,
                     "gap_allowance_s": GAP_ALLOWANCE_S, "database": "PostgreSQL (own instance, loopback)",
                     "portal": "gunicorn -w 2 behind the project's nginx (PANTAU_ENV=production)",
                     "portal_restart": ("SIGTERM to gunicorn, then a new gunicorn on the same listening socket, "
                                        "held by the harness as systemd holds pantau-portal.socket"),
                     "postgres_restart": "pg_ctl stop -m fast, down for the planned seconds, pg_ctl start",
                     "media": "each worker on a media node of its own: its own media folder served by its own nginx "
                              "(nginx/media-node.conf.template, PANTAU_MEDIA_URL); viewers and the sampler follow "
                              "each camera to its node through /kamera/<id>/status.json (hls_url), as the player does",
                     "media_links": ("signed (PANTAU_MEDIA_LINK_SECRET set, as in docs/deploy.md): public "
                                     "playlists and segments are checked by each node's nginx alone"
                                     if config.signed_links else "unsigned: every playlist asks the portal"),
                     "portal_defaults": f"sync {worker_api.SYNC_INTERVAL_S} s, lease {worker_api.LEASE_SECONDS} s, "
                                        "1 s HLS segments, 60 s recording segments",
                     "clip": "640x360 25 fps H.264, 1 s GOP, GStreamer RTSP simulator"},
        "spread": "one run; each availability figure is the spread over cameras (min, p50, mean, per camera)",
    }
    if stack.reports:
        figures["goals"].update(REPORT_GOALS)
    figures["moonshots_met"] = not [m for m in _missed(figures, MOONSHOTS)]
    return figures


def _missed(figures: dict[str, Any], goals: dict[str, dict[str, float]]) -> list[str]:
    from bench import missed_goals

    return missed_goals({**figures, "goals": goals})


def _faults_during(windows: dict[str, list[tuple[float, float]]], start: float, end: float) -> list[str]:
    return sorted({kind for kind, spans in windows.items() if any(a <= end and start <= b for a, b in spans)})
