"""A report's public progress: what the reporter and the tracking page see (no one's personal data)."""

from __future__ import annotations

from portal.models.incident import Incident

STAGES = ("received", "verified", "dispatched", "handled", "closed")
# incident status -> the furthest stage reached
_BY_STATUS = {"new": "received", "verified": "verified", "dispatched": "dispatched", "resolved": "closed",
              "rejected": "closed", "merged": "closed"}


def stage_of(incident: Incident, *, handled: bool = False) -> str:
    """The stage reached; ``handled`` when an agency marked its dispatch done but the report is not closed."""
    stage = _BY_STATUS.get(incident.status, "received")
    if stage == "dispatched" and handled:
        return "handled"
    return stage
