"""The footage part of a worker's sync (docs/worker-api.md, "Holds and exports"): what the worker reports about
its export jobs, and what it is told (holds, held paths, jobs, expired files)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from portal.footage import exports, holds, payload
from portal.models import Worker


@dataclass(frozen=True)
class Reports:
    exports: list[dict[str, Any]]
    deleted_exports: list[str]


def check(body: dict[str, Any]) -> Reports:
    """Check the footage fields of a sync body (raises PayloadError before anything is stored)."""
    return Reports(payload.export_reports(body), payload.deleted_exports(body))


def exchange(worker: Worker, reports: Reports, leased: set[int], now: dt.datetime) -> dict[str, Any]:
    """Store the worker's reports; return the reply's footage fields."""
    exports.take_reports(worker, reports.exports, now)
    exports.mark_deleted(worker, reports.deleted_exports, now)
    return {
        "held_segments": holds.held_paths(worker.id, leased),
        "holds": holds.spans(),
        "exports": exports.jobs_for(worker),
        "expired_exports": exports.expired_files_for(worker),
    }
