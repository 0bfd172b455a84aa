"""The archive: finished segments indexed, retention per camera, the free-space guard, legal holds."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from transcoder.ffmpeg import MediaPaths
from transcoder.recordings import DiskGuard, DiskUsage, apply_retention, collect, leftovers, oldest_first


def write(path: Path, size: int, mtime: datetime | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def test_collect_moves_only_finished_segments(tmp_path: Path) -> None:
    paths = MediaPaths(tmp_path, "k", 3)
    write(paths.incoming_dir / "20261122T130000Z.mp4", 100)
    write(paths.incoming_dir / "20261122T130100Z.mp4", 50)  # still being written
    paths.recording_list.write_text("20261122T130000Z.mp4,0.000000,60.040000\n")
    [seg] = collect(paths, final=False)
    assert seg.path == "recordings/3/20261122/130000.mp4" and (tmp_path / seg.path).stat().st_size == 100
    assert seg.start == datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
    assert seg.end == seg.start + timedelta(seconds=60.04) and seg.bytes == 100
    assert (paths.incoming_dir / "20261122T130100Z.mp4").exists()
    assert collect(paths, final=False) == [], "collecting twice reports nothing new"


def test_final_collect_takes_the_unfinished_file_of_a_dead_ffmpeg(tmp_path: Path) -> None:
    paths = MediaPaths(tmp_path, "k", 3)
    written = datetime(2026, 11, 22, 13, 0, 42, tzinfo=UTC)
    write(paths.incoming_dir / "20261122T130000Z.mp4", 70, mtime=written)
    write(paths.incoming_dir / "20261122T130100Z.mp4", 0)  # empty: dropped
    [seg] = collect(paths, final=True)
    assert seg.end == written and seg.bytes == 70
    assert list(paths.incoming_dir.iterdir()) == []


def test_same_start_second_does_not_overwrite(tmp_path: Path) -> None:
    paths = MediaPaths(tmp_path, "k", 3)
    write(paths.recordings_dir / "20261122" / "130000.mp4", 10)
    write(paths.incoming_dir / "20261122T130000Z.mp4", 20)
    [seg] = collect(paths, final=True)
    assert seg.path == "recordings/3/20261122/130000-1.mp4"
    assert (paths.recordings_dir / "20261122" / "130000.mp4").stat().st_size == 10


def test_retention_deletes_old_segments_but_never_held_ones(tmp_path: Path) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    old = now - timedelta(days=31)
    keep = write(tmp_path / "recordings/3/20261022/100000.mp4", 5, mtime=old)
    gone = write(tmp_path / "recordings/3/20261022/100100.mp4", 5, mtime=old)
    recent = write(tmp_path / "recordings/3/20261121/100000.mp4", 5, mtime=now - timedelta(days=1))
    other = write(tmp_path / "recordings/4/20261022/100000.mp4", 5, mtime=old)
    deleted = apply_retention(tmp_path, 3, 30, now, held={"recordings/3/20261022/100000.mp4"})
    assert deleted == ["recordings/3/20261022/100100.mp4"]
    assert keep.exists() and recent.exists() and other.exists() and not gone.exists()
    assert apply_retention(tmp_path, 3, 60, now, held=set()) == []


def test_oldest_first_across_cameras(tmp_path: Path) -> None:
    a = write(tmp_path / "recordings/3/20261121/120000.mp4", 1)
    b = write(tmp_path / "recordings/4/20261120/230000.mp4", 1)
    c = write(tmp_path / "recordings/4/20261121/110000.mp4", 1)
    assert list(oldest_first(tmp_path)) == [b, c, a]


class FakeDisk:
    """A 1000-byte disk whose used space is the files under the media root."""

    def __init__(self, root: Path, total: int = 1000, other: int = 0) -> None:
        self.root, self.total, self.other = root, total, other

    def __call__(self, path: Path) -> DiskUsage:
        used = self.other + sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())
        return DiskUsage(self.total, used, self.total - used)


def test_disk_guard_deletes_oldest_unheld_until_free_space_is_back(tmp_path: Path) -> None:
    files = [write(tmp_path / f"recordings/3/2026112{d}/120000.mp4", 100) for d in range(1, 8)]
    held = {"recordings/3/20261121/120000.mp4"}
    guard = DiskGuard(tmp_path, min_free_bytes=450, min_free_percent=0, usage=FakeDisk(tmp_path))
    report = guard.check(held)  # 700 used, 300 free < 450
    assert report.active and not report.exhausted
    assert report.deleted == ["recordings/3/20261122/120000.mp4", "recordings/3/20261123/120000.mp4"]
    assert files[0].exists(), "held footage is never deleted"
    assert report.free_bytes == 500
    assert not guard.check(held).active


def test_disk_guard_says_when_nothing_is_left_to_delete(tmp_path: Path) -> None:
    write(tmp_path / "recordings/3/20261121/120000.mp4", 100)
    guard = DiskGuard(tmp_path, min_free_bytes=0, min_free_percent=50, usage=FakeDisk(tmp_path, other=600))
    report = guard.check({"recordings/3/20261121/120000.mp4"})
    assert report.active and report.exhausted and report.deleted == []
    assert report.threshold_bytes == 500


def test_leftovers_of_cameras_run_elsewhere_now_are_collected_once_quiet(tmp_path: Path) -> None:
    """A killed worker's ffmpeg left a minute in incoming/; the camera moved; the worker, back, hands it over."""
    now = datetime(2026, 11, 22, 13, 1, 30, tzinfo=UTC)
    quiet = now - timedelta(seconds=40)
    for cam in (1, 2, 3):
        write(MediaPaths(tmp_path, "k", cam).incoming_dir / "20261122T130000Z.mp4", 100,
              quiet if cam != 3 else now - timedelta(seconds=2))
    found = leftovers(tmp_path, running={2}, quiet_s=15, now=now.timestamp())
    # 1: quiet, run elsewhere now -> collected; 2: this worker runs it (its own loop collects); 3: still written
    assert [(s.camera_id, s.path) for s in found] == [(1, "recordings/1/20261122/130000.mp4")]
    assert found[0].start == datetime(2026, 11, 22, 13, 0, tzinfo=UTC) and found[0].end == quiet
    assert (tmp_path / found[0].path).exists()
    assert (MediaPaths(tmp_path, "k", 2).incoming_dir / "20261122T130000Z.mp4").exists()
    assert (MediaPaths(tmp_path, "k", 3).incoming_dir / "20261122T130000Z.mp4").exists()
    assert leftovers(tmp_path, running={2}, quiet_s=15, now=now.timestamp()) == []  # once
