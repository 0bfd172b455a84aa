"""Snapshots cut from the newest live segment, on a schedule that follows the viewers.

Decoding a keyframe every second inside each camera's ffmpeg was most of a camera's cost. Instead the worker
decodes the first frame (a keyframe: live segments start on one) of the newest finished live segment, in this
process with PyAV (no ffmpeg to start: starting one costs more than the decode), scales it to 640 pixels wide
and writes ``snapshots/<key>.jpg`` atomically:

- at once when a camera starts running;
- every ``snapshot_interval_s`` (5 s) while someone looks: a snapshot or a live playlist that was read since it
  was last written (its access time is newer than its modification time; with ``relatime``, the default mount
  option, the first read after a write updates it) means a viewer, on the list, the map or the player;
- every ``snapshot_idle_interval_s`` (120 s) otherwise.

On a file system that never updates access times (``noatime``), every camera counts as looked at.
"""

from __future__ import annotations

import heapq
import io
import itertools
import logging
import os
import random
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from contract.media import SNAPSHOT_IDLE_INTERVAL_S
from transcoder.ffmpeg import INIT_SEGMENT, MediaPaths

log = logging.getLogger("pantau.transcoder")
WIDTH = 640
WATCH_CHECK_S = 1.0


def read_quietly(path: Path) -> bytes:
    """Read a file without moving its access time (``O_NOATIME``: the worker owns its media files), so the
    worker's own reads never count as a viewer."""
    flags = os.O_RDONLY | getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:  # not the file's owner: O_NOATIME is refused
        fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def newest_segment(playlist: Path) -> Path | None:
    """The last segment the live playlist names (finished: ffmpeg lists a segment once it is closed)."""
    try:
        text = read_quietly(playlist).decode(errors="replace")
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        if line and not line.startswith("#"):
            return playlist.parent / line
    return None


def _scaled_height(width: int, height: int) -> int:
    return max(2, round(height * WIDTH / max(width, 1) / 2) * 2)


def jpeg_from_segment(data: bytes, container_format: str = "mp4") -> bytes:
    """The first frame of a live segment (MPEG-TS, or fragmented MP4 with its init segment in front) as a
    640-wide JPEG."""
    import av  # PyAV: FFmpeg's libraries in this process

    with av.open(io.BytesIO(data), mode="r", format=container_format) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        stream.thread_type = "NONE"
        for frame in container.decode(stream):
            height = _scaled_height(frame.width, frame.height)
            small = frame.reformat(width=WIDTH, height=height, format="yuvj420p", interpolation="BILINEAR")
            encoder = av.CodecContext.create("mjpeg", "w")
            encoder.width, encoder.height, encoder.pix_fmt = WIDTH, height, "yuvj420p"
            encoder.time_base = Fraction(1, 25)
            encoder.qmin = encoder.qmax = 5
            packets = encoder.encode(small) + encoder.encode(None)
            return b"".join(bytes(p) for p in packets)
    raise ValueError("the segment has no video frame")


def jpeg_with_ffmpeg(ffmpeg: str, data: bytes, container_format: str = "mp4") -> bytes:
    """The same with an ffmpeg process, where PyAV is not installed (costs a process start per snapshot)."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-skip_frame", "nokey", "-f", container_format,
            "-i", "pipe:0", "-frames:v", "1", "-vf", f"scale={WIDTH}:-2", "-q:v", "5", "-f", "mjpeg", "pipe:1"]
    done = subprocess.run(argv, input=data, capture_output=True, timeout=20, check=False)
    if done.returncode != 0 or not done.stdout:
        raise ValueError(done.stderr.decode(errors="replace").strip()[-200:] or "ffmpeg made no snapshot")
    return done.stdout


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".snap-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def take_snapshot(paths: MediaPaths, encode: Callable[[bytes, str], bytes]) -> bool:
    segment = newest_segment(paths.playlist)
    if segment is None:
        return False
    try:
        if segment.suffix == ".ts":
            data, container_format = read_quietly(segment), "mpegts"
        else:
            data, container_format = read_quietly(paths.hls_dir / INIT_SEGMENT) + read_quietly(segment), "mp4"
    except OSError:
        return False  # deleted under us (the playlist moved on): the next turn takes the newer one
    write_atomically(paths.snapshot, encode(data, container_format))
    return True


def read_since_written(path: Path) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return info.st_atime_ns > info.st_mtime_ns


def atime_works(directory: Path) -> bool:
    """Does reading a file here update its access time (relatime, strictatime) or never (noatime)?"""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".atime-", dir=directory)
    try:
        os.write(fd, b"x")
        os.close(fd)
        past = time.time_ns() - 10_000_000_000
        os.utime(name, ns=(past, past))
        with open(name, "rb") as handle:
            handle.read()
        return os.stat(name).st_atime_ns > past
    finally:
        os.unlink(name)


class PriorityPool:
    """One thread that runs the most urgent job first (the lowest ``priority``): when the machine is short of
    CPU, the snapshots someone is looking at come before the idle ones."""

    def __init__(self, name: str = "snapshot") -> None:
        self._heap: list[tuple[int, int, Future[Any], Callable[..., Any], tuple[Any, ...]]] = []
        self._ready = threading.Condition()
        self._order = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = 1) -> Future[Any]:
        future: Future[Any] = Future()
        with self._ready:
            heapq.heappush(self._heap, (priority, next(self._order), future, fn, args))
            self._ready.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._heap and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                _, _, future, fn, args = heapq.heappop(self._heap)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

    def shutdown(self, wait: bool = False, cancel_futures: bool = True) -> None:
        with self._ready:
            self._closed = True
            for _, _, future, _, _ in self._heap:
                future.cancel()
            self._heap.clear()
            self._ready.notify_all()
        if wait:
            self._thread.join(timeout=10)


WATCHED, FIRST, IDLE = 0, 1, 2  # snapshot priorities


@dataclass
class Schedule:
    taken_at: float | None = None
    run: float | None = None  # when the camera's current run began running (a new run: a snapshot at once)
    idle_at: float = 0.0  # when the next snapshot is due if nobody looks
    checked_at: float = -1e9  # when the access times were last looked at (about once a second)
    failures: int = 0


class Snapshotter:
    def __init__(self, pool: Any, *, ffmpeg: str, media_root: Path, clock: Callable[[], float],
                 rng: random.Random | None = None) -> None:
        self.pool = pool
        self.rng = rng or random.Random()
        self.clock = clock
        self.fast_s = 5.0
        self.idle_s = float(SNAPSHOT_IDLE_INTERVAL_S)
        self.everyone_looks = not atime_works(media_root / "snapshots")
        if self.everyone_looks:
            log.warning("the media root does not record access times (noatime): every camera's snapshot is "
                        "kept fresh, which costs CPU; mount it with relatime")
        try:
            import av  # noqa: F401

            self.encode: Callable[[bytes, str], bytes] = jpeg_from_segment
        except ImportError:
            log.warning("PyAV is not installed: snapshots start an ffmpeg each")
            self.encode = lambda data, container_format: jpeg_with_ffmpeg(ffmpeg, data, container_format)
        self.schedules: dict[int, Schedule] = {}
        self.jobs: dict[int, Future[bool]] = {}
        self.taken_total = 0
        self.failed_total = 0

    def watched(self, paths: MediaPaths) -> bool:
        return self.everyone_looks or read_since_written(paths.snapshot) or read_since_written(paths.playlist)

    def step(self, now: float, running: Iterable[tuple[int, MediaPaths, float | None]]) -> None:
        """``running``: (camera id, paths, when its current run began running) of each running camera."""
        seen = set()
        for cam_id, paths, since in running:
            seen.add(cam_id)
            job = self.jobs.get(cam_id)
            if job is not None:
                if not job.done():
                    continue
                del self.jobs[cam_id]
                self._finish(cam_id, job, now)
            schedule = self.schedules.setdefault(cam_id, Schedule())
            priority = self._due(schedule, paths, since, now)
            if priority is not None:
                self.jobs[cam_id] = self.pool.submit(take_snapshot, paths, self.encode, priority=priority)
        for cam_id in [c for c in self.schedules if c not in seen]:
            self.schedules.pop(cam_id, None)

    def _due(self, schedule: Schedule, paths: MediaPaths, since: float | None, now: float) -> int | None:
        """The priority of a snapshot due now, or None."""
        if schedule.taken_at is None or schedule.run != since:
            # a camera that (re)started running: a snapshot at once; its idle ones then fall at a random point of
            # the idle interval, so cameras started together don't all decode in the same second ever after
            schedule.run = since
            schedule.taken_at = now
            schedule.idle_at = now + self.rng.uniform(0.1, 1.0) * self.idle_s
            return FIRST
        if now >= schedule.idle_at:
            self._taken(schedule, now)
            return IDLE
        # looked at again since the last snapshot? Checked about once a second (two stats), so a viewer reading
        # every fast_s seconds gets a snapshot taken within a second of each read: never older than fast_s + 1
        if now - schedule.taken_at < self.fast_s * 0.9 or now - schedule.checked_at < WATCH_CHECK_S:
            return None
        schedule.checked_at = now
        if not self.watched(paths):
            return None
        self._taken(schedule, now)
        return WATCHED

    def _taken(self, schedule: Schedule, now: float) -> None:
        schedule.taken_at = now
        schedule.idle_at = now + self.idle_s

    def _finish(self, cam_id: int, job: Future[bool], now: float) -> None:
        schedule = self.schedules.setdefault(cam_id, Schedule())
        try:
            made = job.result()
        except Exception as exc:  # a broken segment must not stop the others' snapshots
            made = False
            if schedule.failures == 0:
                log.warning("camera %s: snapshot failed: %s", cam_id, str(exc)[:200])
        if made:
            self.taken_total += 1
            schedule.failures = 0
        else:
            self.failed_total += 1
            schedule.failures += 1
            # try again soon (a segment deleted under us, none yet), a little later each time, at worst when idle
            schedule.idle_at = now + min(2.0 * schedule.failures, self.idle_s)
