"""The archive's housekeeping, off the main loop: retention per camera, the free-space guard, and the list of
segments under a legal hold (kept on disk, so a worker that restarts while the portal is away still knows
what it must never delete; until holds are known, nothing is deleted)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import UTC, datetime
from pathlib import Path

from transcoder.holds import HoldList
from transcoder.recordings import DiskGuard, GuardReport, apply_retention

log = logging.getLogger("pantau.transcoder")
GUARD_REMEMBERED_S = 600.0  # the guard counts as active this long after it last deleted something


class Archive:
    def __init__(self, media_root: Path, guard: DiskGuard, pool: Executor, *, interval_s: float,
                 retention_interval_s: float, clock: Callable[[], float],
                 retention_max_s: float | None = None) -> None:
        self.media_root = media_root
        self.guard = guard
        self.pool = pool
        self.interval_s = interval_s
        self.retention_interval_s = retention_interval_s
        self.retention_max_s = retention_max_s
        self.clock = clock
        self.held: HoldList | None = HoldList.load(self.held_file)  # None: holds unknown, so nothing is deleted
        self.report = GuardReport()
        self.guard_deleted_total = 0
        self.retention_deleted_total = 0
        self._acted_at: float | None = None
        self._job: Future[tuple[GuardReport, list[str]]] | None = None
        self._next = 0.0
        self._next_retention = 0.0
        self._last_log = -1e9

    # -- holds --

    @property
    def held_file(self) -> Path:
        return self.media_root / "recordings" / ".held.json"

    def set_held(self, held: HoldList) -> None:
        if held != self.held:
            held.save(self.held_file)
        self.held = held

    # -- housekeeping --

    def step(self, now: float, retention: Callable[[], list[tuple[int, int]]]) -> list[str]:
        """Take a finished job's result and start the next one when due. Returns the paths deleted since the
        last step (for the portal). ``retention`` gives (camera id, retention days) of the cameras run here."""
        deleted: list[str] = []
        if self._job is not None:
            if not self._job.done():
                return deleted
            try:
                report, expired = self._job.result()
            except Exception:
                log.exception("housekeeping failed")
            else:
                deleted = self._record(now, report, expired)
            self._job = None
        if now < self._next or self.held is None:
            return deleted
        self._next = now + self.interval_s
        cameras: list[tuple[int, int]] = []
        if now >= self._next_retention:
            self._next_retention = now + self.retention_interval_s
            cameras = retention()
        self._job = self.pool.submit(self._run, cameras, self.held)
        return deleted

    def _record(self, now: float, report: GuardReport, expired: list[str]) -> list[str]:
        self.report = report
        if report.deleted:
            self._acted_at = now
            self.guard_deleted_total += len(report.deleted)
        if (report.deleted or report.exhausted) and now - self._last_log >= 60:
            self._last_log = now
            log.warning("disk guard: free space below %d bytes, deleted %d oldest segments%s",
                        report.threshold_bytes, len(report.deleted),
                        " and found nothing more to delete" if report.exhausted else "")
        self.retention_deleted_total += len(expired)
        return report.deleted + expired

    def _run(self, retention: list[tuple[int, int]], held: HoldList) -> tuple[GuardReport, list[str]]:
        expired: list[str] = []
        wall = datetime.now(UTC)
        for cam_id, days in retention:
            expired += apply_retention(self.media_root, cam_id, days, wall, held, self.retention_max_s)
        return self.guard.check(held), expired

    @property
    def guard_active(self) -> bool:
        recent = self._acted_at is not None and self.clock() - self._acted_at < GUARD_REMEMBERED_S
        return self.report.active or recent
