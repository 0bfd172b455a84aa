"""The event log of a report: append-only rows (``IncidentEvent``), written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from portal.models import db
from portal.models.incident import Incident, IncidentEvent

# The kinds of event; the public tracking page shows only those in ``stages.PUBLIC_EVENTS``.
RECEIVED = "received"
FLAGGED = "flagged"  # suspicious: kept in the queue with its reasons, never dropped
VERIFIED = "verified"
REJECTED = "rejected"
MERGED = "merged"
PRIORITY = "priority"
EVIDENCE = "evidence"  # a camera snapshot saved to the report
DISPATCHED = "dispatched"
DISPATCH_STATUS = "dispatch_status"  # an agency acknowledged, went en route, on scene, done, handed back
ESCALATED = "escalated"
RESOLVED = "resolved"
NOTE = "note"


def record_event(incident: Incident, kind: str, *, actor_user_id: int | None = None, **data: Any) -> IncidentEvent:
    """Add an event to ``incident`` in the current session (the caller commits it with the change)."""
    event = IncidentEvent(incident=incident, kind=kind[:40], actor_user_id=actor_user_id, data=data)
    db.session.add(event)
    return event
