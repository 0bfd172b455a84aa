"""The worker's cap on retention (``PANTAU_RETENTION_MAX_S``): the demo keeps an hour of recordings, whatever each
camera's retention in days, so it never fills a laptop; held footage is kept all the same."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from transcoder.config import WorkerConfig
from transcoder.recordings import apply_retention


def write(path: Path, mtime: datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 10)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def test_an_hour_cap_deletes_what_is_older_than_an_hour_today_too(tmp_path: Path) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    old = write(tmp_path / "recordings/3/20261122/100000.mp4", now - timedelta(hours=2))
    held = write(tmp_path / "recordings/3/20261122/100100.mp4", now - timedelta(hours=2))
    young = write(tmp_path / "recordings/3/20261122/113000.mp4", now - timedelta(minutes=30))
    yesterday = write(tmp_path / "recordings/3/20261121/230000.mp4", now - timedelta(hours=13))
    # without the cap, a day of retention keeps all of it
    assert apply_retention(tmp_path, 3, 1, now, held=set()) == []
    deleted = apply_retention(tmp_path, 3, 1, now, held={"recordings/3/20261122/100100.mp4"}, max_age_s=3600)
    assert sorted(deleted) == ["recordings/3/20261121/230000.mp4", "recordings/3/20261122/100000.mp4"]
    assert held.exists() and young.exists() and not old.exists() and not yesterday.exists()
    # a camera keeping less than the cap keeps its own
    write(tmp_path / "recordings/4/20261120/100000.mp4", now - timedelta(days=2))
    assert apply_retention(tmp_path, 4, 1, now, held=set(), max_age_s=7 * 86400) == [
        "recordings/4/20261120/100000.mp4"]


def test_the_cap_comes_from_the_environment() -> None:
    base = {"PANTAU_WORKER_CREDENTIAL": "c", "PANTAU_PORTAL_URL": "http://127.0.0.1:8000"}
    assert WorkerConfig.from_env(base).retention_max_s is None
    config = WorkerConfig.from_env({**base, "PANTAU_RETENTION_MAX_S": "3600", "PANTAU_RETENTION_INTERVAL_S": "60"})
    assert config.retention_max_s == 3600 and config.retention_interval_s == 60
