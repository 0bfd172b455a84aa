"""The archive on disk: finished segments, retention per camera and the free-space guard.

ffmpeg writes ``recordings/<id>/incoming/<UTC start>.mp4`` and appends each finished one to
``incoming/segments.csv``; :func:`collect` moves finished files to ``recordings/<id>/<YYYYmmdd>/<HHMMSS>.mp4``
and returns them for the portal's index. Paths under a legal hold are never deleted, by retention or by the
guard.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from transcoder.ffmpeg import RECORDING_LIST, MediaPaths
from transcoder.mp4 import head_size

NAME_FORMAT = "%Y%m%dT%H%M%SZ.mp4"


@dataclass(frozen=True)
class Segment:
    camera_id: int
    start: datetime
    end: datetime
    bytes: int
    path: str  # relative to the media root
    init_bytes: int | None = None  # the fragmented MP4's head (ftyp+moov), for archive playback over HLS

    def to_api(self) -> dict[str, Any]:
        return {"camera_id": self.camera_id, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "bytes": self.bytes, "path": self.path, "init_bytes": self.init_bytes}


def parse_start(name: str) -> datetime | None:
    try:
        return datetime.strptime(name, NAME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _listed_durations(list_path: Path) -> dict[str, float]:
    durations: dict[str, float] = {}
    try:
        with list_path.open(newline="") as handle:
            for row in csv.reader(handle):
                if len(row) >= 3:
                    try:
                        durations[os.path.basename(row[0])] = max(0.0, float(row[2]) - float(row[1]))
                    except ValueError:
                        continue
    except FileNotFoundError:
        pass
    return durations


def collect(paths: MediaPaths, *, final: bool) -> list[Segment]:
    """Move finished segments into the archive. ``final``: no ffmpeg is writing, take every file."""
    incoming = paths.incoming_dir
    if not incoming.is_dir():
        return []
    listed = _listed_durations(paths.recording_list)
    found: list[Segment] = []
    for entry in sorted(os.scandir(incoming), key=lambda e: e.name):
        if not entry.name.endswith(".mp4") or (entry.name not in listed and not final):
            continue
        start = parse_start(entry.name)
        try:
            info = entry.stat()
        except FileNotFoundError:
            continue
        if start is None or info.st_size == 0:
            Path(entry.path).unlink(missing_ok=True)
            continue
        if entry.name in listed:
            end = start + timedelta(seconds=listed[entry.name])
        else:  # an unfinished file of a killed ffmpeg: fragmented MP4 plays up to its last fragment
            end = max(start, datetime.fromtimestamp(info.st_mtime, UTC))
        day = paths.recordings_dir / start.strftime("%Y%m%d")
        day.mkdir(exist_ok=True)
        dest = day / start.strftime("%H%M%S.mp4")
        n = 1
        while dest.exists():
            dest = day / start.strftime(f"%H%M%S-{n}.mp4")
            n += 1
        os.replace(entry.path, dest)
        found.append(Segment(paths.camera_id, start, end, info.st_size, str(dest.relative_to(paths.root)),
                             head_size(dest)))
    if final:
        (incoming / RECORDING_LIST).unlink(missing_ok=True)
    return found


def leftovers(root: Path, running: Collection[int], quiet_s: float, now: float) -> list[Segment]:
    """Recordings that ffmpeg processes of cameras this worker no longer runs left in ``incoming/`` (the worker or
    its ffmpeg was killed, and the camera went to another worker meanwhile): collected once no file there changed
    for ``quiet_s`` (so a folder another process still writes into is left alone), for the portal's index."""
    found: list[Segment] = []
    try:
        cameras = [e for e in os.scandir(root / "recordings") if e.name.isdigit() and int(e.name) not in running]
    except FileNotFoundError:
        return found
    for entry in cameras:
        paths = MediaPaths(root, "", int(entry.name))
        try:
            files = [f for f in os.scandir(paths.incoming_dir) if f.name.endswith(".mp4")]
            if not files or any(now - f.stat().st_mtime < quiet_s for f in files):
                continue
        except FileNotFoundError:
            continue
        found += collect(paths, final=True)
    return found


def discard_incoming(paths: MediaPaths) -> list[str]:
    """Delete what a run that never made a live segment left in ``incoming/`` (a frame or two): not footage."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(paths.incoming_dir))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.endswith(".mp4") or entry.name == RECORDING_LIST:
            Path(entry.path).unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def _day_dirs(camera_dir: Path) -> list[Path]:
    try:
        return sorted(p for p in camera_dir.iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 8)
    except FileNotFoundError:
        return []


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass


def apply_retention(media_root: Path, camera_id: int, retention_days: int, now: datetime,
                    held: Collection[str], max_age_s: float | None = None) -> list[str]:
    """Delete this camera's segments that ended before ``now - retention_days`` (or ``now - max_age_s`` when that
    is sooner: the worker's own cap, ``PANTAU_RETENTION_MAX_S``, which the demo sets to an hour); never held ones."""
    keep = timedelta(days=retention_days)
    if max_age_s is not None:
        keep = min(keep, timedelta(seconds=max_age_s))
    cutoff = now - keep
    deleted: list[str] = []
    for day in _day_dirs(media_root / "recordings" / str(camera_id)):
        day_start = datetime.strptime(day.name, "%Y%m%d").replace(tzinfo=UTC)
        if day_start > cutoff:
            break
        for file in sorted(day.glob("*.mp4")):
            rel = str(file.relative_to(media_root))
            try:
                ended = datetime.fromtimestamp(file.stat().st_mtime, UTC)
            except FileNotFoundError:
                continue
            if ended < cutoff and rel not in held:
                file.unlink(missing_ok=True)
                deleted.append(rel)
        _remove_if_empty(day)
    return deleted


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


@dataclass
class GuardReport:
    active: bool = False
    exhausted: bool = False
    free_bytes: int = 0
    total_bytes: int = 0
    threshold_bytes: int = 0
    deleted: list[str] = field(default_factory=list)


def oldest_first(media_root: Path) -> Iterator[Path]:
    """Every archived segment of every camera, oldest day first, then by time of day."""
    cameras = [p for p in (media_root / "recordings").glob("*") if p.is_dir()]
    days: dict[str, list[Path]] = {}
    for camera_dir in cameras:
        for day in _day_dirs(camera_dir):
            days.setdefault(day.name, []).append(day)
    for name in sorted(days):
        files = [f for day in days[name] for f in day.glob("*.mp4")]
        yield from sorted(files, key=lambda f: (f.name, str(f)))


class DiskGuard:
    """Keeps free space above ``max(min_free_bytes, min_free_percent of the disk)`` by deleting the oldest
    unheld footage, before ffmpeg runs out of room."""

    def __init__(self, media_root: Path, min_free_bytes: int, min_free_percent: float,
                 usage: Callable[[Path], DiskUsage] | None = None) -> None:
        self.media_root = media_root
        self.min_free_bytes = min_free_bytes
        self.min_free_percent = min_free_percent
        self._usage = usage or (lambda p: DiskUsage(*shutil.disk_usage(p)))

    def threshold(self, total: int) -> int:
        return max(self.min_free_bytes, int(total * self.min_free_percent / 100))

    def check(self, held: Collection[str]) -> GuardReport:
        usage = self._usage(self.media_root)
        limit = self.threshold(usage.total)
        report = GuardReport(free_bytes=usage.free, total_bytes=usage.total, threshold_bytes=limit)
        if usage.free >= limit:
            return report
        report.active = True
        target = limit + max(limit // 20, 1)  # a little above the limit, so the guard doesn't run every tick
        free = usage.free
        for file in oldest_first(self.media_root):
            rel = str(file.relative_to(self.media_root))
            if rel in held:
                continue
            file.unlink(missing_ok=True)
            report.deleted.append(rel)
            _remove_if_empty(file.parent)
            free = self._usage(self.media_root).free
            if free >= target:
                break
        report.free_bytes = free
        report.exhausted = free < limit
        return report
