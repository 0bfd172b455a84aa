"""The operators' live queue: open reports by priority then age, with their SLA timers and suspicious flags.

The page polls a small fragment every second with the version it holds; when nothing in the queue changed the
answer is an empty 204 (htmx swaps nothing) and the timers keep counting in the browser.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from portal.incidents.events import FLAGGED
from portal.incidents.lifecycle import OPEN
from portal.models import db
from portal.models.incident import Dispatch, Incident, IncidentEvent

QUEUE_MAX = 200
WAITING_ACK = ("pending", "sent")


@dataclass
class QueueRow:
    incident: Incident
    flags: list[str] = field(default_factory=list)
    due_at: dt.datetime | None = None  # the next SLA deadline: dispatch (new/verified) or acknowledgement
    due_kind: str = ""  # "dispatch" or "ack"
    dispatches: int = 0

    def overdue(self, now: dt.datetime) -> bool:
        return self.due_at is not None and now > self.due_at


@dataclass
class Queue:
    rows: list[QueueRow]
    total: int  # open reports, also those past QUEUE_MAX
    version: str


def flag_reasons(data: dict[str, Any]) -> list[str]:
    """What a FLAGGED event says (the reports area writes ``reasons``; anything else is shown as one flag)."""
    reasons = data.get("reasons") if isinstance(data, dict) else None
    if isinstance(reasons, list | tuple):
        return [str(r)[:80] for r in reasons if r][:5] or ["suspicious"]
    reason = data.get("reason") if isinstance(data, dict) else None
    return [str(reason)[:80]] if reason else ["suspicious"]


def flags_for(ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    for incident_id, data in db.session.execute(
            select(IncidentEvent.incident_id, IncidentEvent.data)
            .where(IncidentEvent.kind == FLAGGED, IncidentEvent.incident_id.in_(ids))):
        found.setdefault(incident_id, []).extend(flag_reasons(data or {}))
    return {k: list(dict.fromkeys(v)) for k, v in found.items()}


def open_queue(*, dispatch_sla_s: int, limit: int = QUEUE_MAX) -> Queue:
    query = select(Incident).where(Incident.status.in_(OPEN))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    incidents = db.session.scalars(query.order_by(Incident.priority, Incident.created_at, Incident.id)
                                   .limit(limit)).all()
    ids = [i.id for i in incidents]
    flags = flags_for(ids)
    ack_due: dict[int, dt.datetime] = {}
    counts: dict[int, int] = {}
    if ids:
        for incident_id, status, due in db.session.execute(
                select(Dispatch.incident_id, Dispatch.status, Dispatch.sla_due_at)
                .where(Dispatch.incident_id.in_(ids))):
            counts[incident_id] = counts.get(incident_id, 0) + 1
            if status in WAITING_ACK and due is not None:
                ack_due[incident_id] = min(due, ack_due.get(incident_id, due))
    rows = []
    for incident in incidents:
        row = QueueRow(incident=incident, flags=flags.get(incident.id, []), dispatches=counts.get(incident.id, 0))
        if incident.status in ("new", "verified"):
            row.due_at = incident.created_at + dt.timedelta(seconds=dispatch_sla_s)
            row.due_kind = "dispatch"
        elif incident.id in ack_due:
            row.due_at, row.due_kind = ack_due[incident.id], "ack"
        rows.append(row)
    return Queue(rows=rows, total=total, version=version_of(rows, total))


def version_of(rows: list[QueueRow], total: int) -> str:
    """Changes whenever anything the queue shows changes (a new report, a status, a priority, a flag)."""
    digest = hashlib.sha256(str(total).encode())
    for row in rows:
        i = row.incident
        digest.update(f"|{i.id},{i.status},{i.priority},{i.updated_at.isoformat()},{len(row.flags)},"
                      f"{row.dispatches},{row.due_at.isoformat() if row.due_at else ''}".encode())
    return digest.hexdigest()[:16]
