"""Dispatching a verified report to agencies (interface used by the operator console): each dispatch's outbox
messages (signed webhook, CAP 1.2 Alert, e-mail) are added in the same transaction (``portal.dispatch.outbox``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import or_, select

from portal.dispatch import outbox
from portal.incidents.events import DISPATCHED, record_event
from portal.models import db
from portal.models.base import utcnow
from portal.models.incident import Dispatch, Incident, RoutingRule
from portal.models.people import Agency


def agencies_for(incident: Incident) -> list[tuple[Agency, int]]:
    """The active agencies the routing rules choose for the report, with each one's SLA in minutes."""
    rules = db.session.scalars(
        select(RoutingRule).where(RoutingRule.active.is_(True), RoutingRule.category == incident.category,
                                  or_(RoutingRule.district.is_(None), RoutingRule.district == "",
                                      RoutingRule.district == incident.district))
        .order_by(RoutingRule.priority, RoutingRule.id)).all()
    chosen: dict[int, tuple[Agency, int]] = {}
    for rule in rules:
        agency = db.session.get(Agency, rule.agency_id)
        if agency is not None and agency.active and agency.id not in chosen:
            chosen[agency.id] = (agency, rule.sla_minutes)
    return list(chosen.values())


def dispatch_incident(incident: Incident, *, actor_user_id: int | None = None,
                      agency_ids: Iterable[int] | None = None, default_sla_minutes: int = 15) -> list[Dispatch]:
    """Dispatch ``incident`` to ``agency_ids`` (default: the routing rules' choice); an agency that already
    holds an open dispatch for it is skipped. Adds to the session; the caller commits."""
    slas = {agency.id: sla for agency, sla in agencies_for(incident)}
    wanted = list(dict.fromkeys(agency_ids)) if agency_ids is not None else list(slas)
    open_ = set(db.session.scalars(select(Dispatch.agency_id).where(
        Dispatch.incident_id == incident.id, Dispatch.status.notin_(("done", "rejected", "cancelled")))))
    now = utcnow()
    made = []
    for agency_id in wanted:
        if agency_id in open_ or db.session.get(Agency, agency_id) is None:
            continue
        sla = slas.get(agency_id, default_sla_minutes)
        dispatch = Dispatch(incident_id=incident.id, agency_id=agency_id, status="pending",
                            created_by_id=actor_user_id, sla_due_at=now + dt.timedelta(minutes=sla))
        db.session.add(dispatch)
        made.append(dispatch)
    if made:
        db.session.flush()
        incident.status = "dispatched"
        record_event(incident, DISPATCHED, actor_user_id=actor_user_id,
                     dispatch_ids=[d.id for d in made], agency_ids=[d.agency_id for d in made])
        outbox.on_dispatched(made)
    return made
