"""Dispatch on receipt (the jobs loop's turn, off by default): reports of the categories in
``PANTAU_AUTO_DISPATCH_CATEGORIES`` go to their routing rules' agencies as soon as they arrive, without waiting
for an operator's verification; flagged (suspicious) reports always wait. A conditional UPDATE takes each
report, so two jobs processes never dispatch one twice."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import exists, select, update

from portal.dispatch.service import dispatch_incident
from portal.incidents.events import FLAGGED
from portal.models import db
from portal.models.incident import INCIDENT_CATEGORIES, Incident, IncidentEvent
from portal.settings import Settings

BATCH = 50


def categories(settings: Settings) -> tuple[str, ...]:
    raw = settings.auto_dispatch_categories.strip()
    if raw == "*":
        return INCIDENT_CATEGORIES
    return tuple(c for c in (part.strip() for part in raw.split(",")) if c in INCIDENT_CATEGORIES)


def tick(now: dt.datetime, settings: Settings | None = None) -> dict[str, int]:
    """Dispatch the new, unflagged reports of the auto-dispatch categories (the caller commits)."""
    settings = settings or current_app.config["PANTAU"]
    wanted = categories(settings)
    if not wanted:
        return {"auto_dispatched": 0}
    flagged = exists().where(IncidentEvent.incident_id == Incident.id, IncidentEvent.kind == FLAGGED)
    found = db.session.scalars(select(Incident).where(Incident.status == "new", Incident.category.in_(wanted),
                                                      Incident.created_at <= now, ~flagged)
                               .order_by(Incident.created_at, Incident.id).limit(BATCH)).all()
    done = 0
    for incident in found:
        taken = db.session.execute(update(Incident).where(Incident.id == incident.id, Incident.status == "new")
                                   .values(status="dispatched").execution_options(synchronize_session=False))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue
        if dispatch_incident(incident):
            done += 1
        else:  # no agency for it: the operator's queue keeps it
            db.session.execute(update(Incident).where(Incident.id == incident.id).values(status="new")
                               .execution_options(synchronize_session=False))
    return {"auto_dispatched": done}
