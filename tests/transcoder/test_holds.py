"""The worker's hold list: paths and time spans for every camera, kept on disk across restarts."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from transcoder.holds import HoldList
from transcoder.recordings import DiskGuard, DiskUsage, apply_retention

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def holds(margin: float = 60) -> HoldList:
    return HoldList.from_api(
        ["recordings/5/20261101/090000.mp4"],
        [{"camera_id": 3, "start": (T0 + timedelta(minutes=5)).isoformat(),
          "end": (T0 + timedelta(minutes=6)).isoformat()}, {"camera_id": "x"}, "junk"],
        margin,
    )


def test_a_segment_is_held_by_its_path_or_by_its_time() -> None:
    held = holds()
    assert "recordings/5/20261101/090000.mp4" in held
    assert "recordings/3/20261101/100500.mp4" in held  # starts inside the span
    assert "recordings/3/20261101/100430.mp4" in held  # starts before, may run into it (margin)
    assert "recordings/3/20261101/100530-1.mp4" in held
    assert "recordings/3/20261101/100200.mp4" not in held
    assert "recordings/3/20261101/100601.mp4" not in held
    assert "recordings/4/20261101/100500.mp4" not in held  # another camera
    assert "recordings/3/garbage.mp4" not in held and 3 not in held


def test_the_list_survives_a_restart_and_the_first_format_still_loads(tmp_path: Path) -> None:
    file = tmp_path / "recordings" / ".held.json"
    assert HoldList.load(file) is None
    holds().save(file)
    assert HoldList.load(file) == holds()
    file.write_text(json.dumps(["recordings/3/20261101/100000.mp4"]))
    assert "recordings/3/20261101/100000.mp4" in HoldList.load(file)  # type: ignore[operator]


def test_retention_and_the_guard_keep_segments_held_by_time_even_unindexed(tmp_path: Path) -> None:
    now = T0 + timedelta(days=40)
    for name in ("100000", "100500", "101000"):
        path = tmp_path / "recordings" / "3" / "20261101" / f"{name}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 10)
        os.utime(path, (T0.timestamp(), T0.timestamp()))
    deleted = apply_retention(tmp_path, 3, 30, now, holds())
    assert sorted(deleted) == ["recordings/3/20261101/100000.mp4", "recordings/3/20261101/101000.mp4"]
    (tmp_path / "recordings/3/20261101/100000.mp4").write_bytes(b"x")
    guard = DiskGuard(tmp_path, 10**12, 0, usage=lambda p: DiskUsage(10**13, 10**13 - 10, 10))
    report = guard.check(holds())
    assert report.exhausted and "recordings/3/20261101/100500.mp4" not in report.deleted
    assert (tmp_path / "recordings/3/20261101/100500.mp4").exists()
