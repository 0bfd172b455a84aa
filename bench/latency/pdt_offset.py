"""``python -m bench.latency.pdt_offset``: why ffmpeg's EXT-X-PROGRAM-DATE-TIME runs late, with evidence.

ffmpeg's HLS muxer stamps the first segment with the wall clock at the moment the muxer starts, then adds
segment durations. With an RTSP input, ffmpeg first probes the stream (``avformat_find_stream_info``, bounded
by ``-analyzeduration``/``-probesize``); the packets read while probing are captured *before* the muxer starts,
so every program date-time is late by the probing time. A latency computed from program date-times (hls.js
``playingDate``) is then too small by that much. Copying means the live stream itself is not delayed.

This runs the worker's own ffmpeg command line (``transcoder.ffmpeg.build_argv``) against one simulated camera,
as shipped (a brief input probe: ``transcoder.ffmpeg.SMALL_PROBE``) and with the hint ``full_probe`` (ffmpeg's
default probing, what the worker falls back to for a stream the brief probe can't describe), and reports for
each how late the segment files are finished relative to the end their program date-time claims (negative:
the date-times are late). ``bench.latency`` runs it and records the figures.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.latency.playlist import parse


def trial(source_url: str, hints: frozenset[str], seconds: float = 12.0) -> dict[str, float | int | None]:
    from transcoder.ffmpeg import CameraSpec, MediaPaths, OutputSettings, build_argv, ffmpeg_env, find_ffmpeg

    with tempfile.TemporaryDirectory(prefix="pantau-pdt-") as tmp:
        root = Path(tmp)
        spec = CameraSpec(id=1, key="k", source_url=source_url, recording=False)
        paths = MediaPaths(root, "k", 1)
        paths.make_dirs()
        argv = build_argv(find_ffmpeg(), spec, OutputSettings(segment_seconds=1, hls_list_size=5), root, hints)
        spawned = time.time()
        proc = subprocess.Popen(argv, env=ffmpeg_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lags: list[float] = []
        seen: set[str] = set()
        first_pdt = None
        try:
            while time.time() - spawned < seconds:
                time.sleep(0.02)
                try:
                    segments = parse(paths.playlist.read_text()).segments
                except OSError:
                    continue
                if not segments:
                    continue
                if first_pdt is None:
                    first_pdt = segments[0].start - spawned
                newest = segments[-1]
                if newest.uri in seen:
                    continue
                seen.add(newest.uri)
                if len(seen) > 1:  # the first one seen may be old
                    try:
                        lags.append((paths.hls_dir / newest.uri).stat().st_mtime - newest.end)
                    except OSError:
                        pass
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    lags.sort()
    return {"first_pdt_after_spawn_s": round(first_pdt, 3) if first_pdt is not None else None,
            "pdt_lag_p50_s": round(lags[len(lags) // 2], 3) if lags else None, "segments": len(lags)}


def probe_experiment(runs: int = 2) -> dict[str, dict[str, float | int | None]]:
    from tests.support.clip import make_test_clip
    from tests.support.rtsp import RtspSimulator

    clip = make_test_clip(fps=25, keyint=25)
    results = {}
    with RtspSimulator(cameras=1, clip=clip, fps=25) as sim:
        for attempt in range(1, runs + 1):
            results[f"shipped_{attempt}"] = trial(sim.url(1), frozenset())
            results[f"full_probe_{attempt}"] = trial(sim.url(1), frozenset({"full_probe"}))
    return results


def main() -> None:
    print(json.dumps(probe_experiment(), indent=2))


if __name__ == "__main__":
    main()
