"""Riding through a database restart.

A request that meets a lost database connection (PostgreSQL restarting, a failover) gets ``503 Service
Unavailable`` with ``Retry-After``, never a 500 page with a traceback in the log. Worker API requests do better:
the portal replays them for a short time (``PANTAU_DB_WAIT_S``, 15 s by default) until the database answers,
so a worker's sync during a database restart is slow, not failed. Replaying is safe: the failed attempt's
transaction was rolled back, and a sync is idempotent (statuses are overwritten, segments are keyed by camera
and start). The body is buffered once (the worker API bounds it) and given to each attempt afresh.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.exc import DBAPIError, OperationalError

from contract.limits import MAX_SYNC_BODY_BYTES

log = logging.getLogger(__name__)

MARKER = "X-Pantau-Database"  # set on the 503 a lost connection gives; removed before the answer leaves
REPLAYED_PREFIX = "/api/worker/"


def is_lost_connection(exc: BaseException) -> bool:
    """An error that says the database is unreachable (not a bad query)."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class ReplayWhileDatabaseRestarts:
    """WSGI middleware: replays worker API requests that met a lost database connection, within a budget."""

    def __init__(self, app: Callable[..., Iterable[bytes]], budget_s: float = 15.0, pause_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.budget_s = budget_s
        self.pause_s = pause_s
        self._sleep = sleep
        self._clock = clock
        self.replays = 0  # requests replayed so far (for /metrics and the tests)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if self.budget_s <= 0 or not path.startswith(REPLAYED_PREFIX) or not 0 <= length <= MAX_SYNC_BODY_BYTES:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(length) if length else b""
        deadline = self._clock() + self.budget_s
        pause = self.pause_s
        attempts = 0
        while True:
            attempts += 1
            env = dict(environ)
            env["wsgi.input"] = io.BytesIO(body)
            seen: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None,
                        into: dict[str, Any] = seen) -> Callable[[bytes], None]:
                into["status"], into["headers"], into["exc_info"] = status, headers, exc_info
                return lambda _data: None

            result = self.app(env, capture)
            chunks = list(result)
            close = getattr(result, "close", None)
            if close is not None:
                close()
            lost = any(k.lower() == MARKER.lower() for k, _ in seen.get("headers", []))
            if lost and self._clock() + pause < deadline:
                self.replays += 1
                self._sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            if attempts > 1:
                log.warning("%s waited for the database: %d attempts, %s", path[:80], attempts,
                            seen.get("status", "?"))
            headers = [(k, v) for k, v in seen.get("headers", []) if k.lower() != MARKER.lower()]
            start_response(seen["status"], headers, seen.get("exc_info"))
            return chunks


def init_app(app: Flask, budget_s: float) -> None:
    app.wsgi_app = ReplayWhileDatabaseRestarts(app.wsgi_app, budget_s=budget_s)  # type: ignore[method-assign]
