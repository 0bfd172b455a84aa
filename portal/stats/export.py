"""The period's reports as CSV for planners: one row per report, times in the city's zone, nobody's personal
data (no description, name, phone or address), cells that a spreadsheet would run as a formula defused."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from portal.stats.figures import Period, Report, _seconds, local

HEADER = ("report", "received_local", "date_local", "hour_local", "category", "district", "status", "agencies",
          "seconds_to_verify", "seconds_to_dispatch", "seconds_to_first_acknowledge", "seconds_to_close",
          "dispatches_within_sla", "dispatches")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def to_csv(reports: Sequence[Report], period: Period) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for r in reports:
        received = local(r.created_at, period.zone)
        within = sum(1 for d in r.dispatches
                     if d.acknowledged_at and d.sla_due_at and d.acknowledged_at <= d.sla_due_at)
        writer.writerow([_cell(v) for v in (
            r.id, received.isoformat(timespec="seconds"), received.date().isoformat(), received.hour, r.category,
            r.district, r.status, "; ".join(dict.fromkeys(d.agency for d in r.dispatches)),
            _number(_seconds(r.created_at, r.verified_at)), _number(_seconds(r.created_at, r.dispatched_at)),
            _number(_seconds(r.created_at, r.first_ack_at)), _number(_seconds(r.created_at, r.closed_at)),
            within, len(r.dispatches),
        )])
    return out.getvalue()
