"""A report's public progress, from its event log: the stages with their times, and each agency's steps.

Nothing here carries personal data: no description, place, name, phone, photo or operator; only what
happened to the report and when (the agencies are named: they are public bodies).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from portal.incidents import events as ev
from portal.incidents.stages import STAGES
from portal.models import db
from portal.models.incident import Dispatch, Incident, IncidentEvent
from portal.models.people import Agency

_CLOSING = {ev.RESOLVED: "resolved", ev.REJECTED: "rejected", ev.MERGED: "merged"}


@dataclass
class Stage:
    name: str
    at: dt.datetime | None = None

    @property
    def reached(self) -> bool:
        return self.at is not None


@dataclass
class AgencyProgress:
    name: str
    status: str
    updated_at: dt.datetime | None


@dataclass
class Progress:
    code: str
    category: str
    created_at: dt.datetime
    stages: list[Stage]
    current: str
    closed_as: str | None = None
    agencies: list[AgencyProgress] = field(default_factory=list)
    version: str = ""  # changes whenever something a reader sees changes (for polling)


def progress(incident: Incident) -> Progress:
    times: dict[str, dt.datetime] = {}
    closed_as = None
    rows = db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                              .order_by(IncidentEvent.id)).all()
    for event in rows:
        stage = None
        if event.kind == ev.RECEIVED:
            stage = "received"
        elif event.kind == ev.VERIFIED:
            stage = "verified"
        elif event.kind == ev.DISPATCHED:
            stage = "dispatched"
        elif event.kind == ev.DISPATCH_STATUS and (event.data or {}).get("status") == "done":
            stage = "handled"
        elif event.kind in _CLOSING:
            stage, closed_as = "closed", _CLOSING[event.kind]
        if stage and stage not in times:
            times[stage] = event.at
    times.setdefault("received", incident.created_at)
    # The status is the truth when an event is missing (e.g. a report closed before events existed).
    if incident.status in ("rejected", "merged", "resolved") and "closed" not in times:
        times["closed"] = incident.updated_at
        closed_as = incident.status
    if closed_as is None and incident.status in _CLOSING.values():
        closed_as = incident.status
    dispatches = db.session.scalars(select(Dispatch).where(Dispatch.incident_id == incident.id)
                                    .order_by(Dispatch.id)).all()
    agencies = []
    for dispatch in dispatches:
        agency = db.session.get(Agency, dispatch.agency_id)
        agencies.append(AgencyProgress(name=agency.name if agency else "", status=dispatch.status,
                                       updated_at=dispatch.updated_at))
        if dispatch.status == "done" and "handled" not in times:
            times["handled"] = dispatch.closed_at or dispatch.updated_at
        if "dispatched" not in times:
            times["dispatched"] = dispatch.created_at
    if incident.status == "verified" and dispatches and all(d.status in ("rejected", "cancelled")
                                                          for d in dispatches):
        times.pop("dispatched", None)  # every agency handed it back: the command centre dispatches it again
        times.pop("handled", None)
    if "verified" not in times and ("dispatched" in times) and closed_as != "rejected":
        times["verified"] = times["dispatched"]  # dispatched straight away: verified at the same moment
    stages = [Stage(name, times.get(name)) for name in STAGES]
    current = [s.name for s in stages if s.reached][-1]
    version = f"{len(rows)}:{incident.status}:" + ",".join(f"{a.status}" for a in agencies)
    return Progress(code=incident.tracking_code, category=incident.category, created_at=incident.created_at,
                    stages=stages, current=current, closed_as=closed_as, agencies=agencies, version=version)
