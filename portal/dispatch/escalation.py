"""SLA escalation (the jobs loop's turn): a dispatch not acknowledged by ``sla_due_at`` goes to the command
centre's supervisor (level 1); still unacknowledged ``escalation_step_minutes`` later, to the officials named for
the report's category (level 2: in Kendari the mayor, vice mayor or city secretary). Each step is an
``escalated`` event on the report and an e-mail per contact through the outbox, in one transaction; the step is
taken by a conditional UPDATE, so two jobs processes never escalate the same dispatch twice."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from flask import current_app
from sqlalchemy import or_, select, update

from portal.dispatch import cap
from portal.dispatch.outbox import EMAIL, JSON_TYPE
from portal.incidents.events import ESCALATED, record_event
from portal.models import db
from portal.models.escalation import EscalationContact
from portal.models.incident import Dispatch, Incident, OutboxMessage
from portal.models.people import Agency
from portal.settings import Settings

UNACKNOWLEDGED = ("pending", "sent")
LEVEL_NAMES = {1: "supervisor", 2: "officials"}


def contacts_for(level: int, category: str) -> list[EscalationContact]:
    return list(db.session.scalars(select(EscalationContact).where(
        EscalationContact.active.is_(True), EscalationContact.level == level,
        or_(EscalationContact.category == "", EscalationContact.category == category))
        .order_by(EscalationContact.id)))


def _escalate(dispatch: Dispatch, level: int, now: dt.datetime, settings: Settings) -> bool:
    taken = db.session.execute(update(Dispatch).where(Dispatch.id == dispatch.id,
                                                      Dispatch.escalation_level == level - 1,
                                                      Dispatch.status.in_(UNACKNOWLEDGED))
                               .values(escalation_level=level, escalated_at=now)
                               .execution_options(synchronize_session=False))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    incident = db.session.get(Incident, dispatch.incident_id)
    agency = db.session.get(Agency, dispatch.agency_id)
    if incident is None:
        return False
    contacts = contacts_for(level, incident.category)
    late_min = int((now - dispatch.sla_due_at).total_seconds() // 60) if dispatch.sla_due_at else 0
    subject = (f"[112 {settings.city_name}] ESKALASI {incident.tracking_code}: {agency.name if agency else '-'} "
               f"belum menanggapi")
    text = "\n".join([
        f"Penugasan {incident.tracking_code} ({incident.category}, prioritas {incident.priority}) kepada "
        f"{agency.name if agency else '-'} belum ditanggapi.",
        f"Batas SLA: {cap.local_time(dispatch.sla_due_at, settings.timezone) if dispatch.sla_due_at else '-'} "
        f"(terlambat {late_min} menit).",
        f"Lokasi: {incident.address or incident.district or '-'}",
        "", incident.description[:1000], "",
        "Tingkat eskalasi: " + ("supervisor command center" if level == 1 else "pejabat yang ditunjuk"),
    ])
    for contact in contacts:
        db.session.add(OutboxMessage(
            kind=EMAIL, destination=contact.email, content_type=JSON_TYPE, dispatch_id=dispatch.id,
            payload=json.dumps({"subject": subject[:200], "text": text, "cap": None}, ensure_ascii=False),
            delivery_id=str(uuid.uuid4()), status="pending", attempts=0, next_attempt_at=now, created_at=now))
    record_event(incident, ESCALATED, dispatch_id=dispatch.id, agency_id=dispatch.agency_id, level=level,
                 to=LEVEL_NAMES[level], contacts=[c.id for c in contacts], late_minutes=late_min)
    return True


def tick(now: dt.datetime, settings: Settings | None = None) -> dict[str, int]:
    """Escalate every dispatch whose time came (the caller commits)."""
    settings = settings or current_app.config["PANTAU"]
    step = dt.timedelta(minutes=settings.escalation_step_minutes)
    first = db.session.scalars(select(Dispatch).where(
        Dispatch.status.in_(UNACKNOWLEDGED), Dispatch.escalation_level == 0, Dispatch.sla_due_at <= now)
        .order_by(Dispatch.sla_due_at).limit(100)).all()
    second = db.session.scalars(select(Dispatch).where(
        Dispatch.status.in_(UNACKNOWLEDGED), Dispatch.escalation_level == 1, Dispatch.escalated_at <= now - step)
        .order_by(Dispatch.escalated_at).limit(100)).all()
    done = {1: 0, 2: 0}
    for level, dispatches in ((1, first), (2, second)):
        for dispatch in dispatches:
            done[level] += _escalate(dispatch, level, now, settings)
    return {"escalated_supervisor": done[1], "escalated_officials": done[2]}
