"""Snapshots cut from the newest live segment: decoded in-process, fast while someone looks, slow otherwise."""

from __future__ import annotations

import os
import random
import subprocess
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from transcoder.ffmpeg import MediaPaths, find_ffmpeg
from transcoder.snapshots import Snapshotter, atime_works, jpeg_from_segment, newest_segment, take_snapshot


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> MediaPaths:
    """A real fMP4 live folder as the worker's ffmpeg writes it (1280x720 H.264 with B-frames)."""
    root = tmp_path_factory.mktemp("media")
    paths = MediaPaths(root, "0000abcd", 1)
    paths.make_dirs()
    subprocess.run([find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=25", "-t", "3", "-c:v", "libx264", "-g", "25", "-bf", "2",
                    "-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
                    "-hls_segment_filename", str(paths.hls_dir / "%d.m4s"), str(paths.playlist)], check=True)
    return paths


def test_a_640_wide_jpeg_from_the_newest_segment(live: MediaPaths) -> None:
    av = pytest.importorskip("av")
    newest = newest_segment(live.playlist)
    assert newest is not None and newest.name == "2.m4s"
    assert take_snapshot(live, jpeg_from_segment)
    data = live.snapshot.read_bytes()
    assert data[:2] == b"\xff\xd8"
    with av.open(str(live.snapshot)) as image:
        frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (640, 360)


def test_a_snapshot_from_an_mpegts_segment(tmp_path: Path) -> None:
    pytest.importorskip("av")
    paths = MediaPaths(tmp_path, "0000abcf", 3)
    paths.make_dirs()
    subprocess.run([find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "libx264", "-g", "25", "-f", "hls",
                    "-hls_time", "1", "-hls_segment_filename", str(paths.hls_dir / "%d.ts"), str(paths.playlist)],
                   check=True)
    assert take_snapshot(paths, jpeg_from_segment) and paths.snapshot.read_bytes()[:2] == b"\xff\xd8"


def test_no_playlist_no_snapshot(tmp_path: Path) -> None:
    paths = MediaPaths(tmp_path, "0000abce", 2)
    paths.make_dirs()
    assert not take_snapshot(paths, jpeg_from_segment)


class Pool:
    """Runs each job at once, in the caller's thread."""

    def __init__(self) -> None:
        self.jobs = 0

    def submit(self, fn: Any, *args: Any, priority: int = 1) -> Future[Any]:
        self.jobs += 1
        future: Future[Any] = Future()
        future.set_result(fn(*args))
        return future


def test_fast_while_someone_looks_slow_otherwise(live: MediaPaths) -> None:
    assert atime_works(live.root), "the test machine's disk records access times (relatime)"
    pool = Pool()
    class Latest(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b  # the first idle snapshot as late as the spread allows

    snaps = Snapshotter(pool, ffmpeg=find_ffmpeg(), media_root=live.root, clock=lambda: 0.0,  # type: ignore[arg-type]
                        rng=Latest())
    snaps.encode = lambda data, container_format: b"\xff\xd8jpeg"
    snaps.idle_s = 60.0
    running = [(1, live, 0.0)]
    snaps.step(0.0, running)
    assert pool.jobs == 1, "a snapshot as soon as the camera runs"
    for t in range(1, 60):  # nobody reads the snapshot or the playlist: nothing new for a minute
        snaps.step(float(t), running)
    assert pool.jobs == 1
    snaps.step(60.0, running)
    assert pool.jobs == 2, "the idle interval"
    live.snapshot.read_bytes()  # someone looks (the list page, nginx): the access time moves past the write
    assert os.stat(live.snapshot).st_atime_ns > os.stat(live.snapshot).st_mtime_ns
    snaps.step(64.0, running)
    assert pool.jobs == 2
    snaps.step(65.0, running)
    assert pool.jobs == 3, "5 s later, while someone looks"
    snaps.step(70.0, running)
    assert pool.jobs == 3, "not read since: back to the idle interval"
    snaps.step(75.0, [(1, live, 72.0)])
    assert pool.jobs == 4, "a camera that (re)started running gets one at once"


def test_idle_snapshots_of_cameras_started_together_are_spread_over_the_interval(live: MediaPaths) -> None:
    pool = Pool()
    snaps = Snapshotter(pool, ffmpeg=find_ffmpeg(), media_root=live.root, clock=lambda: 0.0,  # type: ignore[arg-type]
                        rng=random.Random(7))
    snaps.encode = lambda data, container_format: b"\xff\xd8jpeg"
    snaps.everyone_looks = False
    running = [(i, live, 0.0) for i in range(1, 101)]
    snaps.step(0.0, running)
    seconds = []
    for t in range(1, 121):
        before = pool.jobs
        snaps.step(float(t), running)
        seconds += [t] * (pool.jobs - before)
    assert len(seconds) == 100, "each camera once in the idle interval"
    assert max(seconds.count(t) for t in set(seconds)) <= 6, "not all in the same second"


def test_the_pool_runs_watched_snapshots_before_idle_ones() -> None:
    import threading

    from transcoder.snapshots import IDLE, WATCHED, PriorityPool

    pool = PriorityPool()
    gate, order = threading.Event(), []
    try:
        pool.submit(gate.wait, 5)  # the thread is busy: what comes next queues
        jobs = [pool.submit(order.append, name, priority=p) for name, p in
                (("idle-1", IDLE), ("watched", WATCHED), ("idle-2", IDLE))]
        gate.set()
        for job in jobs:
            job.result(timeout=5)
        assert order == ["watched", "idle-1", "idle-2"]
    finally:
        pool.shutdown(wait=True)
