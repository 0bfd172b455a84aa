"""``python -m bench delivery``: how many HLS viewers the project's nginx serves, and what the private-camera
``auth_request`` costs.

One real worker (ffmpeg, ``-c copy``) turns simulated RTSP cameras (720p, 2 Mbps, a keyframe a second) into live
HLS with 1 s segments; the portal runs under gunicorn. Two nginx serve the same media folder in the same run,
and viewers watch in three modes:

- **auth** (the headline): the project's configuration (``nginx/render.py``, plain mode) as a player uses it: the
  playlist URL the camera's status feed gives, a signed media link (``portal/media/links.py``); nginx checks the
  link itself (``secure_link``) and asks the portal (``auth_request``, cached 1 s per camera and session) about
  the playlist only;
- **checked**: the same nginx on the plain URLs, every playlist and segment behind the cached ``auth_request``
  (what every viewer paid before signed links; kept for comparison);
- **static**: the same configuration with the ``auth_request`` lines taken out (plain static files).

Simulated viewers (``bench/delivery/viewers.py``: asyncio, keep-alive, hls.js's reload rhythm) watch the
cameras in each mode in turn for ``TRIALS`` trials, the order rotated every trial (so no mode always follows
another). Each nginx runs one worker process; its CPU (and, with auth, the portal's CPU above what it spends in
the static phase of the same trial) is read from ``/proc/<pid>/schedstat`` (nanoseconds of CPU time, not the
10 ms ticks of ``/proc/<pid>/stat``, which were a few percent of a phase's ~0.5 s). Figures:

- ``segments_per_s`` per mode, and per CPU second (``segments_per_cpu_s``);
- ``auth_vs_static_ratio``: segments per CPU second with auth / without (goal >= 0.9, moonshot 0.97);
- ``portal_requests_per_viewer_minute``: requests that reached gunicorn's ``/_auth/media/`` per viewer-minute
  with auth (goal <= 0.2, moonshot 0.05). With the 1 s auth cache keyed on the camera and the session, an
  anonymous crowd costs the portal at most one request a second per camera watched, whatever its size:
  the figure is 60 x cameras / viewers, so it is measured with a crowd of ``VIEWERS`` on ``CAMERAS`` cameras;
- ``viewers_per_core``: 2 Mbps viewers one fully busy core serves through the auth configuration
  (viewers / CPU cores used by nginx and the portal's share).

The machine this runs on is shared and busy, and nginx's CPU per phase is small (about 1 s in a 20 s phase):
phases are 20 s, the modes are interleaved in rotated order, the headline ratios are over all trials together
(total segments / total CPU seconds), and each trial's own figures are kept (``*_runs``) with their spread
(``*_spread``: min, quartiles, max) so a reader can see how far one trial may stray.

A run takes about 6-7 minutes. Settings: ``PANTAU_BENCH_DELIVERY_VIEWERS`` (default 400),
``..._CAMERAS`` (1), ``..._TRIALS`` (6), ``..._SECONDS`` (20 per trial and mode).
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


def _phase(stack: DeliveryStack, mode: str, viewers: int, seconds: float) -> dict[str, Any]:
    web = stack.static_web if mode == "static" else stack.auth_web
    # a player's playlist: the status feed's signed link (fetched before the phase, as a page load would)
    playlists = stack.player_playlists() if mode == "auth" else stack.playlists()
    nginx_pids = stack.nginx_pids(web)
    portal_pids = stack.portal_pids()
    hits_before = stack.portal_auth_hits()
    nginx_before, portal_before = cpu_seconds(nginx_pids), cpu_seconds(portal_pids)
    started = time.monotonic()
    tally: Tally = crowd("127.0.0.1", web.port, playlists, viewers, seconds)
    wall = time.monotonic() - started
    nginx_cpu = cpu_seconds(nginx_pids) - nginx_before
    portal_cpu = cpu_seconds(portal_pids) - portal_before
    return {"mode": mode, "wall_s": round(wall, 2), "viewers": viewers, "segments": tally.segments,
            "playlists": tally.playlists, "segment_bytes": tally.segment_bytes, "errors": tally.errors,
            "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
            "nginx_cpu_s": round(nginx_cpu, 4), "portal_cpu_s": round(portal_cpu, 4),
            "portal_auth_requests": stack.portal_auth_hits() - hits_before,
            "playlist_url": playlists[0].split("/hls/")[0] + "/hls/...", }


def _cost(phase: dict[str, Any], static: dict[str, Any]) -> float:
    """CPU seconds of a phase: nginx's, plus what the portal spent above the static phase of the same trial
    (the portal works in every phase: the worker's syncs)."""
    if phase["mode"] == "static":
        return float(phase["nginx_cpu_s"])
    return float(phase["nginx_cpu_s"]) + max(0.0, phase["portal_cpu_s"] - static["portal_cpu_s"])


def _trial(stack: DeliveryStack, viewers: int, seconds: float, order: tuple[str, ...]) -> dict[str, Any]:
    phases = {mode: _phase(stack, mode, viewers, seconds) for mode in order}
    static = phases["static"]
    per_cpu = {mode: (p["segments"] / _cost(p, static) if _cost(p, static) > 0 else None)
               for mode, p in phases.items()}
    auth = phases["auth"]
    viewer_minutes = viewers * auth["wall_s"] / 60
    auth_cpu = _cost(auth, static)

    def ratio(mode: str) -> float | None:
        a, b = per_cpu[mode], per_cpu["static"]
        return round(a / b, 3) if a and b else None

    return {
        "order": list(order), **{mode: phases[mode] for mode in MODES},
        "segments_per_s": {mode: round(p["segments"] / p["wall_s"], 1) for mode, p in phases.items()},
        "segments_per_cpu_s": {mode: round(v, 1) if v else None for mode, v in per_cpu.items()},
        "auth_vs_static_ratio": ratio("auth"),
        "checked_vs_static_ratio": ratio("checked"),
        "throughput_ratio": round(auth["segments"] / static["segments"], 3) if static["segments"] else None,
        "portal_requests_per_viewer_minute": round(auth["portal_auth_requests"] / viewer_minutes, 4),
        "viewers_per_core": round(viewers / (auth_cpu / auth["wall_s"]), 0) if auth_cpu > 0 else None,
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
    cpu = {"static": sum(t["static"]["nginx_cpu_s"] for t in trials),
           mode: sum(t[mode]["nginx_cpu_s"] for t in trials)
           + max(0.0, sum(t[mode]["portal_cpu_s"] - t["static"]["portal_cpu_s"] for t in trials))}
    if cpu["static"] <= 0 or cpu[mode] <= 0:
        return None
    return round((segments[mode] / cpu[mode]) / (segments["static"] / cpu["static"]), 3)


def run() -> dict[str, Any]:
    load_before = list(os.getloadavg())
    with DeliveryStack(cameras=CAMERAS) as stack:
        stack.wait_live()
        bitrate = stack.measured_bitrate_bps()
        crowd("127.0.0.1", stack.auth_web.port, stack.player_playlists(), min(VIEWERS, 20), 3)  # warm both up
        crowd("127.0.0.1", stack.auth_web.port, stack.playlists(), min(VIEWERS, 20), 3)
        crowd("127.0.0.1", stack.static_web.port, stack.playlists(), min(VIEWERS, 20), 3)
        trials = []
        for i in range(TRIALS):
            order = MODES[i % len(MODES):] + MODES[:i % len(MODES)]  # rotated: each mode first, second, third
            if (i // len(MODES)) % 2:
                order = tuple(reversed(order))
            trials.append(_trial(stack, VIEWERS, SECONDS, order))
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
    cpu = {mode: round(sum(t[mode]["nginx_cpu_s"] for t in trials), 3) for mode in MODES}
    portal_extra = {mode: round(max(0.0, sum(t[mode]["portal_cpu_s"] - t["static"]["portal_cpu_s"]
                                             for t in trials)), 3) for mode in ("auth", "checked")}
    auth_wall = sum(t["auth"]["wall_s"] for t in trials)
    auth_cpu = cpu["auth"] + portal_extra["auth"]
    if auth_cpu > 0:
        figures["viewers_per_core"] = round(VIEWERS / (auth_cpu / auth_wall))
    figures["portal_requests_per_viewer_minute"] = round(
        sum(t["auth"]["portal_auth_requests"] for t in trials) / (VIEWERS * auth_wall / 60), 4)
    figures["portal_requests_per_viewer_minute_checked"] = round(
        sum(t["checked"]["portal_auth_requests"] for t in trials)
        / (VIEWERS * sum(t["checked"]["wall_s"] for t in trials) / 60), 4)
    figures["cpu_s"] = {"nginx": cpu, "portal_extra": portal_extra}
    figures["requests"] = {mode: {"playlists": sum(t[mode]["playlists"] for t in trials),
                                  "segments": sum(t[mode]["segments"] for t in trials),
                                  "errors": sum(t[mode]["errors"] for t in trials)} for mode in MODES}
    for name in ("segments_per_s", "segments_per_cpu_s"):
        figures[name] = {mode: _median([t[name][mode] for t in trials]) for mode in MODES}
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
                     "modes": list(MODES), "order": "rotated every trial, reversed every second round",
                     "cpu_clock": "/proc/<pid>/schedstat (ns)",
                     "segment_seconds": 1, "clip": "1280x720 25 fps H.264 2 Mbps, keyframe every second",
                     "auth_cache_seconds": 1, "media_link_seconds": 20, "nginx_worker_processes": 1,
                     "client": "asyncio HTTP/1.1 keep-alive, one connection per viewer, hls.js reload rhythm"},
        "load_before": load_before,
    })
    return figures
