"""``python -m bench delivery``: how many HLS viewers the project's nginx serves, and what the private-camera
``auth_request`` costs.

One real worker (ffmpeg, ``-c copy``) turns simulated RTSP cameras (720p, 2 Mbps, a keyframe a second) into live
HLS with 1 s segments; the portal runs under gunicorn. Three nginx serve the same media folder in the same run,
one per mode:

- **auth** (the headline): the project's configuration (``nginx/render.py``, plain mode) as a player uses it: the
  playlist URL the camera's status feed gives, a signed media link (``portal/media/links.py``); nginx checks the
  link itself (``secure_link``) and asks the portal nothing: the signed playlist needs only the worker's public
  marker ``hls/<key>/.public`` (``transcoder/public.py``); it is charged the portal's CPU only for access
  checks its crowd caused (below: none, ``portal_requests`` per mode in each trial shows it);
- **checked**: the same configuration on the plain URLs, every playlist and segment behind the cached
  ``auth_request`` (what every viewer paid before signed links; kept for comparison);
- **static**: the same configuration with the ``auth_request`` lines and the signed-link locations taken out
  (plain static files; the signed-link locations come first in the project's configuration, and a plain
  server would not make its own requests try them first).

Simulated viewers (``bench/delivery/viewers.py``: asyncio, keep-alive, hls.js's reload rhythm) watch the
cameras, ``VIEWERS`` per mode, **the three crowds at the same time** (paired design): the machine is shared and
busy, and CPU time per request rises and falls with what the neighbours do; measured side by side, the three
nginx see the same conditions, so their ratio keeps little of that noise (measured one after the other, the same
static phase varied by +-10 % between trials). Each nginx runs one worker process; its CPU is read from
``/proc/<pid>/schedstat`` (nanoseconds, not the 10 ms ticks of ``/proc/<pid>/stat``); the portal's CPU above
its idle rate (measured with nobody watching, before and after) is charged to each mode in proportion to the
access checks its crowd caused: each crowd sends its own User-Agent, nginx passes it on in the ``auth_request``
subrequest, and the portal's access log names it (until 2026-12-01 half went to auth and half to checked,
although the signed links ask the portal nothing; that cost auth ~0.04 of its ratio). Figures:

- ``segments_per_s`` per mode, and per CPU second (``segments_per_cpu_s``);
- ``auth_vs_static_ratio``: segments per CPU second with auth / without (goal >= 0.9, moonshot 0.97);
- ``portal_requests_per_viewer_minute``: requests that reached gunicorn's ``/_auth/media/`` per viewer-minute
  with auth (goal <= 0.2, moonshot 0.05). With the 1 s auth cache keyed on the camera and the session, an
  anonymous crowd costs the portal at most one request a second per camera watched, whatever its size:
  the figure is at most 60 x cameras / viewers per nginx, so it is measured with crowds of ``VIEWERS`` on
  ``CAMERAS`` cameras (the requests of the auth and checked nginx over both their crowds' viewer-minutes);
- ``viewers_per_core``: 2 Mbps viewers one fully busy core serves through the auth configuration
  (viewers / CPU cores used by nginx and the portal's share).

The headline ratios are over all trials together (total segments / total CPU seconds); each trial's own figures
are kept (``*_runs``) with their spread (``*_spread``: min, quartiles, max).

A run takes about 4 minutes. Settings: ``PANTAU_BENCH_DELIVERY_VIEWERS`` (default 300 per mode),
``..._CAMERAS`` (1), ``..._TRIALS`` (8), ``..._SECONDS`` (20 per trial).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.delivery.stack import DeliveryStack
from bench.delivery.viewers import crowds
from bench.latency import percentile

GOALS = {"auth_vs_static_ratio": {"min": 0.9}, "portal_requests_per_viewer_minute": {"max": 0.2}}
MOONSHOTS = {"auth_vs_static_ratio": 0.97, "portal_requests_per_viewer_minute": 0.05}
VIEWERS = int(os.environ.get("PANTAU_BENCH_DELIVERY_VIEWERS", "300"))  # per mode
CAMERAS = int(os.environ.get("PANTAU_BENCH_DELIVERY_CAMERAS", "1"))
TRIALS = int(os.environ.get("PANTAU_BENCH_DELIVERY_TRIALS", "8"))
SECONDS = float(os.environ.get("PANTAU_BENCH_DELIVERY_SECONDS", "20"))
MODES = ("static", "auth", "checked")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of these processes: nanoseconds from schedstat where the kernel has it, else clock ticks."""
    total = 0.0
    for pid in pids:
        try:
            total += int(open(f"/proc/{pid}/schedstat").read().split()[0]) / 1e9  # noqa: SIM115
            continue
        except (OSError, IndexError, ValueError):
            pass
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return total


def _trial(stack: DeliveryStack, viewers: int, seconds: float, idle_portal_cpu_per_s: float) -> dict[str, Any]:
    """All modes at once: one crowd per nginx, in the same seconds, so they share the machine's conditions."""
    webs = {"static": stack.static_web, "auth": stack.auth_web, "checked": stack.checked_web}
    # a player's playlist: the status feed's signed link (fetched before the trial, as a page load would)
    playlists = {"static": stack.playlists(), "auth": stack.player_playlists(), "checked": stack.playlists()}
    pids = {mode: stack.nginx_pids(web) for mode, web in webs.items()}
    portal_pids = stack.portal_pids()
    agents = {mode: f"bench-delivery-{mode}" for mode in MODES}
    hits_before = stack.portal_auth_hits(agents.values())
    before = {mode: cpu_seconds(p) for mode, p in pids.items()}
    portal_before = cpu_seconds(portal_pids)
    started = time.monotonic()
    tallies = crowds("127.0.0.1", [(webs[m].port, playlists[m], viewers) for m in MODES], seconds,
                     agents=[agents[m] for m in MODES])
    wall = time.monotonic() - started
    nginx_cpu = {mode: cpu_seconds(p) - before[mode] for mode, p in pids.items()}
    portal_cpu = cpu_seconds(portal_pids) - portal_before
    hits_after = stack.portal_auth_hits(agents.values())
    hits_by_mode = {mode: hits_after[agent] - hits_before[agent] for mode, agent in agents.items()}
    hits = sum(hits_by_mode.values())
    # what the portal spent above its idle rate (the worker's syncs) went to the access checks: each nginx is
    # charged its share by the checks its crowd caused (the portal's access log names the crowd); with no check
    # at all, what is left is noise, charged half to each of the two nginx that could ask
    extra = max(0.0, portal_cpu - idle_portal_cpu_per_s * wall)
    share = {mode: (hits_by_mode[mode] / hits if hits else (0.5 if mode != "static" else 0.0)) for mode in MODES}
    phases: dict[str, dict[str, Any]] = {}
    for mode, tally in zip(MODES, tallies, strict=True):
        cost = nginx_cpu[mode] + extra * share[mode]
        phases[mode] = {"segments": tally.segments, "playlists": tally.playlists,
                        "segment_bytes": tally.segment_bytes, "errors": tally.errors,
                        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
                        "nginx_cpu_s": round(nginx_cpu[mode], 4), "cpu_s": round(cost, 4),
                        "portal_cpu_s": round(extra * share[mode], 4), "portal_requests": hits_by_mode[mode],
                        "segments_per_cpu_s": round(tally.segments / cost, 1) if cost > 0 else None,
                        "playlist_url": playlists[mode][0].split("/hls/")[0] + "/hls/..."}

    def ratio(mode: str) -> float | None:
        a, b = phases[mode]["segments_per_cpu_s"], phases["static"]["segments_per_cpu_s"]
        return round(a / b, 3) if a and b else None

    auth_cpu = phases["auth"]["cpu_s"]
    viewer_minutes = 2 * viewers * wall / 60  # the auth and checked crowds: both nginx ask the portal
    return {
        "wall_s": round(wall, 2), "viewers_per_mode": viewers, **phases,
        "portal_cpu_s": round(portal_cpu, 4), "portal_extra_cpu_s": round(extra, 4),
        "portal_auth_requests": hits,
        "segments_per_s": {mode: round(phases[mode]["segments"] / wall, 1) for mode in MODES},
        "auth_vs_static_ratio": ratio("auth"),
        "checked_vs_static_ratio": ratio("checked"),
        "throughput_ratio": (round(phases["auth"]["segments"] / phases["static"]["segments"], 3)
                             if phases["static"]["segments"] else None),
        "portal_requests_per_viewer_minute": round(hits / viewer_minutes, 4),
        "portal_requests_per_viewer_minute_by_mode": {mode: round(hits_by_mode[mode] / (viewers * wall / 60), 4)
                                                      for mode in MODES},
        "viewers_per_core": round(viewers / (auth_cpu / wall), 0) if auth_cpu > 0 else None,
    }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(percentile(present, 0.5), 3) if present else None  # type: ignore[arg-type]


def _spread(values: list[float | None]) -> dict[str, float] | None:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    return {"min": present[0], "p25": round(percentile(present, 0.25), 3),  # type: ignore[arg-type]
            "median": round(percentile(present, 0.5), 3), "p75": round(percentile(present, 0.75), 3),  # type: ignore[arg-type]
            "max": present[-1], "n": len(present)}


def _pooled_ratio(trials: list[dict[str, Any]], mode: str) -> float | None:
    segments = {m: sum(t[m]["segments"] for t in trials) for m in (mode, "static")}
    cpu = {m: sum(t[m]["cpu_s"] for t in trials) for m in (mode, "static")}
    if cpu["static"] <= 0 or cpu[mode] <= 0:
        return None
    return round((segments[mode] / cpu[mode]) / (segments["static"] / cpu["static"]), 3)


def _idle_portal_cpu_per_s(stack: DeliveryStack, seconds: float) -> float:
    """The portal's CPU per second with nobody watching (the worker's syncs go on)."""
    pids = stack.portal_pids()
    before, started = cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)  # a measurement window, not a wait for something to happen
    return (cpu_seconds(pids) - before) / (time.monotonic() - started)


def run() -> dict[str, Any]:
    load_before = list(os.getloadavg())
    with DeliveryStack(cameras=CAMERAS) as stack:
        stack.wait_live()
        bitrate = stack.measured_bitrate_bps()
        warm = min(VIEWERS, 20)
        crowds("127.0.0.1", [(stack.static_web.port, stack.playlists(), warm),
                             (stack.auth_web.port, stack.player_playlists(), warm),
                             (stack.checked_web.port, stack.playlists(), warm)], 3)
        # the portal's idle rate: the least of a few quiet windows (one right after start-up or the warm-up can
        # still carry their work, which would hide the access checks' cost)
        idle = [_idle_portal_cpu_per_s(stack, 5) for _ in range(3)]
        trials = [_trial(stack, VIEWERS, SECONDS, min(idle)) for _ in range(TRIALS)]
    figures: dict[str, Any] = {}
    for name in ("auth_vs_static_ratio", "checked_vs_static_ratio", "portal_requests_per_viewer_minute",
                 "viewers_per_core", "throughput_ratio"):
        runs = [t[name] for t in trials]
        figures[name] = _median(runs)
        figures[f"{name}_runs"] = runs
        figures[f"{name}_median"] = _median(runs)
        figures[f"{name}_spread"] = _spread(runs)
    # headline figures over all trials together: total work / total CPU, steadier than a median of small quotients
    figures["auth_vs_static_ratio"] = _pooled_ratio(trials, "auth")
    figures["checked_vs_static_ratio"] = _pooled_ratio(trials, "checked")
    wall = sum(t["wall_s"] for t in trials)
    auth_cpu = sum(t["auth"]["cpu_s"] for t in trials)
    if auth_cpu > 0:
        figures["viewers_per_core"] = round(VIEWERS / (auth_cpu / wall))
    figures["portal_requests_per_viewer_minute"] = round(
        sum(t["portal_auth_requests"] for t in trials) / (2 * VIEWERS * wall / 60), 4)
    figures["portal_requests_per_viewer_minute_by_mode"] = {
        m: round(sum(t[m]["portal_requests"] for t in trials) / (VIEWERS * wall / 60), 4) for m in MODES}
    figures["cpu_s"] = {"nginx": {m: round(sum(t[m]["nginx_cpu_s"] for t in trials), 3) for m in MODES},
                        "portal_extra": {m: round(sum(t[m]["portal_cpu_s"] for t in trials), 3) for m in MODES},
                        "portal_idle_per_s": [round(v, 4) for v in idle]}
    figures["requests"] = {mode: {"playlists": sum(t[mode]["playlists"] for t in trials),
                                  "segments": sum(t[mode]["segments"] for t in trials),
                                  "errors": sum(t[mode]["errors"] for t in trials)} for mode in MODES}
    figures["segments_per_s"] = {mode: _median([t["segments_per_s"][mode] for t in trials]) for mode in MODES}
    figures["segments_per_cpu_s"] = {mode: _median([t[mode]["segments_per_cpu_s"] for t in trials])
                                     for mode in MODES}
    figures.update({
        "expected_segments_per_s": VIEWERS,  # per mode; 1 s segments: a viewer keeping up fetches one a second
        "stream_bitrate_mbps": round(bitrate / 1e6, 2) if bitrate else None,
        "moonshots": MOONSHOTS,
        "moonshots_met": {name: (figures[name] is not None and (figures[name] >= goal if name.endswith("ratio")
                                                                 else figures[name] <= goal))
                          for name, goal in MOONSHOTS.items()},
        "goals": GOALS,
        "trials": trials,
        "settings": {"viewers_per_mode": VIEWERS, "cameras": CAMERAS, "trials": TRIALS,
                     "seconds_per_trial": SECONDS, "modes": list(MODES),
                     "design": "paired: the three modes' crowds at once, each on its own nginx (one worker process)",
                     "cpu_clock": "/proc/<pid>/schedstat (ns)",
                     "segment_seconds": 1, "clip": "1280x720 25 fps H.264 2 Mbps, keyframe every second",
                     "auth_cache_seconds": 1, "media_link_seconds": 20, "nginx_worker_processes": 1,
                     "client": "asyncio HTTP/1.1 keep-alive, one connection per viewer, hls.js reload rhythm"},
        "load_before": load_before,
    })
    return figures
