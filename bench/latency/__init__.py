"""Live latency benchmark (issue 4.7): camera to browser, measured in the browser. Goal: p50 under 4 s.

Three simulated RTSP cameras (GStreamer, 25 fps, keyframe every 25 frames = 1 s) are read by one real worker
(``python -m transcoder``, ffmpeg copying H.264 into HLS with ``segment_seconds=1``); the real portal serves the
camera page and the playlists. Headless Debian Chromium opens ``/kamera/<id>``, presses play, and once a second
reads ``Date.now() - window.PantauPlayer.playingDate`` (hls.js; the playing date comes from the playlist's
EXT-X-PROGRAM-DATE-TIME). Cameras are watched one after another, each in a fresh browser context, while all
three keep streaming. The server-side floor (wall clock minus the end of the newest segment in the playlist on
disk) is sampled over the same window for comparison.

``PANTAU_BENCH_LATENCY_SECONDS`` (default 60) sets the seconds watched per camera.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from typing import Any

from bench.latency.browser import CameraRun, Viewer
from bench.latency.playlist import DiskSampler
from bench.latency.stack import Stack, StackConfig

GOALS = {"p50_s": 4.0}
SETTLE_S = 10.0  # samples after this many seconds of playback make the "settled" figures


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: list[float]) -> dict[str, float | int]:
    return {"n": len(values), "p50_s": round(percentile(values, 0.5), 3), "p95_s": round(percentile(values, 0.95), 3),
            "min_s": round(min(values), 3) if values else float("nan"),
            "max_s": round(max(values), 3) if values else float("nan")}


def _settled(run: CameraRun) -> list[float]:
    if not run.samples:
        return []
    first = run.samples[0]["now"]
    return [(s["now"] - s["playing"]) / 1000 for s in run.samples
            if s.get("playing") is not None and s["now"] - first >= SETTLE_S * 1000]


def measure(config: StackConfig, seconds: float, hls_config: dict[str, Any] | None = None) -> dict[str, Any]:
    with Stack(config) as stack:
        stack.wait_ready()
        keys = dict(zip(stack.camera_ids, stack.media_keys, strict=True))
        sampler = DiskSampler({key: stack.playlist_path(key) for key in stack.media_keys}).start()
        viewer = Viewer()
        runs: list[CameraRun] = []
        try:
            for camera_id in stack.camera_ids:
                runs.append(viewer.watch(stack.url, camera_id, seconds, hls_config=hls_config))
        finally:
            viewer.close()
            sampler.stop()
        browser_version = viewer.version

    latencies = [x for run in runs for x in run.latencies()]
    settled = [x for run in runs for x in _settled(run)]
    floors = [x for values in sampler.floors.values() for x in values]
    lags = [x for values in sampler.pdt_lags.values() for x in values]
    durations = [x for values in sampler.durations.values() for x in values]
    last = runs[-1].samples[-1] if runs and runs[-1].samples else {}
    per_camera = []
    for run in runs:
        values = run.latencies()
        hls_latency = [s["hls_latency"] for s in run.samples if isinstance(s.get("hls_latency"), int | float)]
        per_camera.append({
            "camera_id": run.camera_id, "startup_s": run.startup_s, **summary(values),
            "settled_p50_s": round(percentile(_settled(run), 0.5), 3),
            "server_floor_p50_s": round(percentile(sampler.floors.get(keys[run.camera_id], []), 0.5), 3),
            "hls_js_latency_p50_s": round(percentile(hls_latency, 0.5), 3),
            "stalls": sum(1 for s in run.samples if s.get("ready_state", 4) < 3),
            "rate_above_1": sum(1 for s in run.samples if (s.get("rate") or 1) > 1.0),
        })
    overall = summary(latencies)
    return {
        "p50_s": overall["p50_s"],
        "p95_s": overall["p95_s"],
        "samples": overall["n"],
        "min_s": overall["min_s"],
        "max_s": overall["max_s"],
        "settled_p50_s": round(percentile(settled, 0.5), 3),
        "settled_p95_s": round(percentile(settled, 0.95), 3),
        "startup_p50_s": round(percentile([r.startup_s for r in runs], 0.5), 3),
        "server_floor_p50_s": round(percentile(floors, 0.5), 3),
        "server_floor_p95_s": round(percentile(floors, 0.95), 3),
        "pdt_lag_p50_s": round(percentile(lags, 0.5), 3),
        "segment_duration_mean_s": round(statistics.fmean(durations), 3) if durations else None,
        "segment_duration_max_s": round(max(durations), 3) if durations else None,
        "playlist_target_durations": sorted(sampler.target_durations),
        "hls_js_target_duration": last.get("target_duration"),
        "hls_js_target_latency_s": round(last["target_latency"], 3) if last.get("target_latency") else None,
        "hls_js_config": last.get("config"),
        "per_camera": per_camera,
        "browser": f"Chromium {browser_version}",
    }


def run() -> dict[str, Any]:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    seconds = float(os.environ.get("PANTAU_BENCH_LATENCY_SECONDS", "60"))
    config = StackConfig()
    started = time.monotonic()
    figures = measure(config, seconds)
    figures["cameras"] = config.cameras
    figures["seconds_per_camera"] = seconds
    figures["stream"] = {"fps": config.fps, "keyframe_interval_s": config.keyint / config.fps,
                         "segment_seconds": config.segment_seconds, "hls_list_size": config.hls_list_size,
                         "clip": "testsrc2 1280x720 H.264 2 Mb/s, no B-frames"}
    figures["method"] = (
        "3 GStreamer RTSP cameras (1 s keyframe interval) -> 1 real worker (ffmpeg copy -> HLS MPEG-TS, "
        "segment_seconds=1, program_date_time) -> real portal (werkzeug, in-process, serves the playlist and "
        "segments from disk) -> the real camera page /kamera/<id> in headless Debian Chromium (Playwright), play "
        "pressed as a viewer does, player.js' own hls.js config (window.PantauPlayer is its hls.js instance). "
        "Once a second per camera: Date.now() - hls.playingDate.getTime(); cameras watched one after another "
        f"for {seconds:g} s each from the first playingDate; p50/p95 over all samples (linear interpolation). "
        f"settled_* leave out each camera's first {SETTLE_S:g} s. server_floor_* = wall clock - (newest "
        "segment's EXT-X-PROGRAM-DATE-TIME + EXTINF) in the playlist on disk, once a second for every camera over "
        "the same window; pdt_lag = segment file mtime - (its program date-time + duration)."
    )
    figures["goals"] = GOALS
    figures["goals_met"] = bool(figures["p50_s"] < GOALS["p50_s"])
    figures["wall_s"] = round(time.monotonic() - started, 1)
    return figures
