"""The worker's side of the sync protocol (``docs/worker-api.md``): one sync in flight at a time, off the
main loop; what was sent and not yet acknowledged is sent again; the lease and its grace.

Leases and outages: each successful sync renews the lease for ``lease_seconds``. A worker that cannot reach
the portal (connection refused, timeout, a 5xx while the portal or its database restarts) keeps its cameras
running and recording for a grace time past the lease (``PANTAU_LEASE_GRACE_S``, 10 minutes by default) and
reports what it recorded once the portal answers again: nobody can take a lease while the portal is down, so
the grace costs nothing. A portal that answers and refuses this worker (401/403), or a reply that no longer
lists a camera, stops those cameras at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, Protocol

from contract import worker_api
from transcoder.client import SyncError
from transcoder.recordings import Segment

log = logging.getLogger("pantau.transcoder")


class Client(Protocol):
    def sync(self, body: dict[str, Any]) -> dict[str, Any]: ...


class SyncSession:
    def __init__(self, client: Client, pool: Executor, *, grace_s: float = worker_api.LEASE_GRACE_S) -> None:
        self.client = client
        self.pool = pool
        self.grace_s = grace_s
        self.interval_s = float(worker_api.SYNC_INTERVAL_S)
        self.next_at = 0.0
        self.pending_segments: list[Segment] = []
        self.pending_deleted: list[str] = []
        self.lease_deadline: float | None = None  # when the last lease runs out (monotonic seconds)
        self.refused = False  # the portal answered and refused this worker: stop everything now
        self.failures_total = 0
        self.last_ok_at: float | None = None
        self.future: Future[dict[str, Any]] | None = None
        self._sent: tuple[int, int, float] = (0, 0, 0.0)
        self._last_warning = -1e9

    def step(self, now: float, body: Callable[[], dict[str, Any]], stopping: bool = False) -> dict[str, Any] | None:
        """Take the answer of a finished sync (returned), and send the next one when due."""
        answer = None
        if self.future is not None:
            if not self.future.done():
                return None
            future, self.future = self.future, None
            answer = self._finish(now, future)
        if self.future is None and now >= self.next_at and not stopping:
            sent = body()
            self._sent = (len(sent["segments"]), len(sent["deleted_segments"]), now)
            self.future = self.pool.submit(self.client.sync, sent)
        return answer

    def _finish(self, now: float, future: Future[dict[str, Any]]) -> dict[str, Any] | None:
        sent_segments, sent_deleted, sent_at = self._sent
        try:
            response = future.result()
        except SyncError as exc:
            self.failures_total += 1
            self.refused = getattr(exc, "status", None) in worker_api.REFUSED_STATUS_CODES
            if self.refused:
                log.warning("sync refused: %s (stopping every camera)", exc)
            elif now - self._last_warning > 30:
                self._last_warning = now
                log.warning("sync failed: %s (cameras keep running for %.0f s past the lease)", exc, self.grace_s)
            self.next_at = now + min(self.interval_s, 2.0)
            return None
        self.refused = False
        self.last_ok_at = now
        del self.pending_segments[:sent_segments]
        del self.pending_deleted[:sent_deleted]
        lease = response.get("lease_seconds")
        lease_s = float(lease) if isinstance(lease, int | float) and lease > 0 else float(worker_api.LEASE_SECONDS)
        self.lease_deadline = sent_at + lease_s
        interval = response.get("sync_interval_s")
        if isinstance(interval, int | float) and interval > 0:
            self.interval_s = float(interval)
        self.next_at = sent_at + self.interval_s
        return response

    def expired(self, now: float) -> bool:
        """Must the worker stop its cameras? When refused, or past the lease and its grace."""
        if self.refused:
            return True
        return self.lease_deadline is not None and now > self.lease_deadline + self.grace_s

    def in_grace(self, now: float) -> bool:
        return self.lease_deadline is not None and self.lease_deadline < now <= self.lease_deadline + self.grace_s

    def wait(self, timeout: float) -> None:
        """Let a sync in flight finish (at shutdown); a failure is fine, the final sync resends its content."""
        if self.future is not None:
            try:
                self.future.result(timeout=timeout)
            except Exception:  # noqa: S110
                pass
