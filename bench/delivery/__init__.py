"""``python -m bench delivery``: how many HLS viewers the project's nginx serves, and what the private-camera
``auth_request`` costs.

One real worker (ffmpeg, ``-c copy``) turns simulated RTSP cameras (720p, 2 Mbps, a keyframe a second) into live
HLS with 1 s segments; the portal runs under gunicorn. Two nginx serve the same media folder in the same run:

- **auth**: the project's configuration (``nginx/render.py``, plain mode), every playlist and segment behind
  ``auth_request`` to the portal, answers cached 1 s per camera and session;
- **static**: the same configuration with the ``auth_request`` lines taken out (plain static files).

Simulated viewers (``bench/delivery/viewers.py``: asyncio, keep-alive, hls.js's reload rhythm) watch the
cameras through one nginx, then the other, alternating for ``TRIALS`` trials. Each nginx runs one worker
process; its CPU (and, with auth, the portal's CPU above what it spends on the same phase without viewers)
is read from ``/proc``. Figures:

- ``segments_per_s`` per mode, and per CPU second (``segments_per_cpu_s``);
- ``auth_vs_static_ratio``: segments per CPU second with auth / without (goal >= 0.9, moonshot 0.97);
- ``portal_requests_per_viewer_minute``: requests that reached gunicorn's ``/_auth/media/`` per viewer-minute
  with auth (goal <= 0.2, moonshot 0.05). With the 1 s auth cache keyed on the camera and the session, an
  anonymous crowd costs the portal at most one request a second per camera watched, whatever its size:
  the figure is 60 x cameras / viewers, so it is measured with a crowd of ``VIEWERS`` on ``CAMERAS`` cameras;
- ``viewers_per_core``: 2 Mbps viewers one fully busy core serves through the auth configuration
  (viewers / CPU cores used by nginx and the portal's share).

The machine this runs on is shared and busy, and CPU time read from ``/proc`` is noisy at these small amounts
(a fraction of a CPU second per phase): the phases alternate (static then auth, auth then static, ...) in
short trials, and the headline ratios are over all trials together (total segments / total CPU seconds);
each trial's own figures are kept (``*_runs``) for the spread.

A run takes about 2-3 minutes. Settings: ``PANTAU_BENCH_DELIVERY_VIEWERS`` (default 400),
``..._CAMERAS`` (1), ``..._TRIALS`` (6), ``..._SECONDS`` (10 per trial and mode).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.delivery.stack import DeliveryStack
from bench.delivery.viewers import Tally, crowd
from bench.latency import percentile

GOALS = {"auth_vs_static_ratio": {"min": 0.9}, "portal_requests_per_viewer_minute": {"max": 0.2}}
MOONSHOTS = {"auth_vs_static_ratio": 0.97, "portal_requests_per_viewer_minute": 0.05}
VIEWERS = int(os.environ.get("PANTAU_BENCH_DELIVERY_VIEWERS", "400"))
CAMERAS = int(os.environ.get("PANTAU_BENCH_DELIVERY_CAMERAS", "1"))
TRIALS = int(os.environ.get("PANTAU_BENCH_DELIVERY_TRIALS", "6"))
SECONDS = float(os.environ.get("PANTAU_BENCH_DELIVERY_SECONDS", "10"))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _phase(stack: DeliveryStack, mode: str, viewers: int, seconds: float) -> dict[str, Any]:
    web = stack.auth_web if mode == "auth" else stack.static_web
    nginx_pids = stack.nginx_pids(web)
    portal_pids = stack.portal_pids()
    hits_before = stack.portal_auth_hits()
    nginx_before, portal_before = cpu_seconds(nginx_pids), cpu_seconds(portal_pids)
    started = time.monotonic()
    tally: Tally = crowd("127.0.0.1", web.port, stack.playlists(), viewers, seconds)
    wall = time.monotonic() - started
    nginx_cpu = cpu_seconds(nginx_pids) - nginx_before
    portal_cpu = cpu_seconds(portal_pids) - portal_before
    return {"mode": mode, "wall_s": round(wall, 2), "viewers": viewers, "segments": tally.segments,
            "playlists": tally.playlists, "segment_bytes": tally.segment_bytes, "errors": tally.errors,
            "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
            "nginx_cpu_s": round(nginx_cpu, 3), "portal_cpu_s": round(portal_cpu, 3),
            "portal_auth_requests": stack.portal_auth_hits() - hits_before}


def _trial(stack: DeliveryStack, viewers: int, seconds: float, order: tuple[str, str]) -> dict[str, Any]:
    phases = {mode: _phase(stack, mode, viewers, seconds) for mode in order}
    static, auth = phases["static"], phases["auth"]
    # the portal works in both phases (the worker's syncs): what the auth phase adds is the auth answers' cost
    portal_extra = max(0.0, auth["portal_cpu_s"] - static["portal_cpu_s"])
    static_cpu = static["nginx_cpu_s"]
    auth_cpu = auth["nginx_cpu_s"] + portal_extra
    per_cpu_static = static["segments"] / static_cpu if static_cpu > 0 else None
    per_cpu_auth = auth["segments"] / auth_cpu if auth_cpu > 0 else None
    viewer_minutes = viewers * auth["wall_s"] / 60
    return {
        "static": static, "auth": auth,
        "segments_per_s": {"static": round(static["segments"] / static["wall_s"], 1),
                           "auth": round(auth["segments"] / auth["wall_s"], 1)},
        "segments_per_cpu_s": {"static": round(per_cpu_static, 1) if per_cpu_static else None,
                               "auth": round(per_cpu_auth, 1) if per_cpu_auth else None},
        "auth_vs_static_ratio": round(per_cpu_auth / per_cpu_static, 3) if per_cpu_auth and per_cpu_static else None,
        "throughput_ratio": round(auth["segments"] / static["segments"], 3) if static["segments"] else None,
        "portal_requests_per_viewer_minute": round(auth["portal_auth_requests"] / viewer_minutes, 4),
        "viewers_per_core": round(viewers / (auth_cpu / auth["wall_s"]), 0) if auth_cpu > 0 else None,
    }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(percentile(present, 0.5), 3) if present else None  # type: ignore[arg-type]


def run() -> dict[str, Any]:
    load_before = list(os.getloadavg())
    with DeliveryStack(cameras=CAMERAS) as stack:
        stack.wait_live()
        bitrate = stack.measured_bitrate_bps()
        crowd("127.0.0.1", stack.auth_web.port, stack.playlists(), min(VIEWERS, 20), 3)  # warm both up
        crowd("127.0.0.1", stack.static_web.port, stack.playlists(), min(VIEWERS, 20), 3)
        trials = []
        for i in range(TRIALS):
            order = ("static", "auth") if i % 2 == 0 else ("auth", "static")
            trials.append(_trial(stack, VIEWERS, SECONDS, order))
    figures: dict[str, Any] = {}
    for name in ("auth_vs_static_ratio", "portal_requests_per_viewer_minute", "viewers_per_core",
                 "throughput_ratio"):
        runs = [t[name] for t in trials]
        figures[name] = _median(runs)
        figures[f"{name}_runs"] = runs
        figures[f"{name}_median"] = _median(runs)
    # headline figures over all trials together: total work / total CPU, which is steadier than a median of
    # small noisy quotients
    static_segments = sum(t["static"]["segments"] for t in trials)
    auth_segments = sum(t["auth"]["segments"] for t in trials)
    static_cpu = sum(t["static"]["nginx_cpu_s"] for t in trials)
    portal_extra = max(0.0, sum(t["auth"]["portal_cpu_s"] - t["static"]["portal_cpu_s"] for t in trials))
    auth_cpu = sum(t["auth"]["nginx_cpu_s"] for t in trials) + portal_extra
    auth_wall = sum(t["auth"]["wall_s"] for t in trials)
    if static_cpu > 0 and auth_cpu > 0:
        figures["auth_vs_static_ratio"] = round((auth_segments / auth_cpu) / (static_segments / static_cpu), 3)
        figures["viewers_per_core"] = round(VIEWERS / (auth_cpu / auth_wall))
    figures["portal_requests_per_viewer_minute"] = round(
        sum(t["auth"]["portal_auth_requests"] for t in trials) / (VIEWERS * auth_wall / 60), 4)
    figures["cpu_s"] = {"static_nginx": round(static_cpu, 2), "auth_nginx": round(auth_cpu - portal_extra, 2),
                        "auth_portal_extra": round(portal_extra, 2)}
    for name in ("segments_per_s", "segments_per_cpu_s"):
        figures[name] = {mode: _median([t[name][mode] for t in trials]) for mode in ("static", "auth")}
    expected_segments_per_s = VIEWERS  # 1 s segments: a viewer keeping up fetches one a second
    figures.update({
        "expected_segments_per_s": expected_segments_per_s,
        "stream_bitrate_mbps": round(bitrate / 1e6, 2) if bitrate else None,
        "moonshots": MOONSHOTS,
        "moonshots_met": {name: (figures[name] is not None and (figures[name] >= goal if name.endswith("ratio")
                                                                 else figures[name] <= goal))
                          for name, goal in MOONSHOTS.items()},
        "goals": GOALS,
        "trials": trials,
        "settings": {"viewers": VIEWERS, "cameras": CAMERAS, "trials": TRIALS, "seconds_per_phase": SECONDS,
                     "segment_seconds": 1, "clip": "1280x720 25 fps H.264 2 Mbps, keyframe every second",
                     "auth_cache_seconds": 1, "nginx_worker_processes": 1,
                     "client": "asyncio HTTP/1.1 keep-alive, one connection per viewer, hls.js reload rhythm"},
        "load_before": load_before,
    })
    return figures
