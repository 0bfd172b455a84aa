"""Writing what the agencies must hear into the outbox, in the same transaction as its cause.

- ``on_dispatched(dispatches)``: a new dispatch (``dispatch_incident`` calls it): webhook ``dispatch.created``,
  CAP Alert, e-mail.
- ``on_dispatch_changed(dispatch)``: the agency (or anyone) changed its status (``portal.agency.service.advance``
  calls it): webhook ``dispatch.updated`` and CAP Update (CAP Cancel when the dispatch was cancelled).
- ``on_incident_changed(incident, change)``: the report was rejected or merged (``portal.incidents.lifecycle``
  calls it, and cancels the dispatches): each open dispatch's agency gets webhook ``dispatch.cancelled``, CAP
  Cancel and e-mail, once per dispatch.

Nothing here commits: the caller's commit makes the change and its messages visible together, and ``pantau
jobs`` delivers them (``portal/dispatch/delivery.py``). Each row carries a delivery id that never changes, so
a receiver that keeps ids applies a message once however often it arrives.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from flask import current_app
from sqlalchemy import select

from portal.dispatch import cap
from portal.models import db
from portal.models.base import utcnow
from portal.models.incident import Dispatch, Incident, OutboxMessage
from portal.models.people import Agency
from portal.settings import Settings

CLOSED = ("done", "rejected", "cancelled")
WEBHOOK, CAP, EMAIL = "webhook", "cap", "email"
JSON_TYPE = "application/json"
CHANGES = ("rejected", "merged")


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def _iso(when: dt.datetime | None, timezone: str) -> str | None:
    return cap.local_time(when, timezone) if when is not None else None


def webhook_body(event: str, delivery_id: str, dispatch: Dispatch, incident: Incident, agency: Agency,
                 settings: Settings, now: dt.datetime, reason: str = "", status: str | None = None) -> dict[str, Any]:
    tz = settings.timezone
    body: dict[str, Any] = {
        "event": event,
        "delivery_id": delivery_id,
        "created_at": _iso(now, tz),
        "agency": agency.code,
        "dispatch": {
            "id": dispatch.id, "status": status or dispatch.status, "sla_due_at": _iso(dispatch.sla_due_at, tz),
            "acknowledged_at": _iso(dispatch.acknowledged_at, tz), "closed_at": _iso(dispatch.closed_at, tz),
        },
        "incident": {
            "tracking_code": incident.tracking_code, "category": incident.category,
            "description": incident.description, "priority": incident.priority, "status": incident.status,
            "latitude": incident.latitude, "longitude": incident.longitude, "address": incident.address,
            "district": incident.district, "reported_at": _iso(incident.created_at, tz),
            "merged_into": None,
        },
        # the agency may need to call the reporter back; its endpoint is HTTPS and the body is signed
        "reporter": {"name": incident.reporter_name, "phone": incident.reporter_phone},
    }
    if incident.merged_into_id:
        into = db.session.get(Incident, incident.merged_into_id)
        body["incident"]["merged_into"] = into.tracking_code if into else None
    if reason:
        body["reason"] = reason
    return body


def _row(kind: str, destination: str, content_type: str, payload: str, dispatch: Dispatch | None,
         agency_id: int | None, delivery_id: str, now: dt.datetime) -> OutboxMessage:
    row = OutboxMessage(kind=kind, destination=destination, content_type=content_type, payload=payload,
                        dispatch_id=dispatch.id if dispatch is not None else None, agency_id=agency_id,
                        delivery_id=delivery_id, status="pending", attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(row)
    return row


def _email_text(msg_type: str, dispatch: Dispatch, incident: Incident, agency: Agency, settings: Settings,
                reason: str, status: str) -> tuple[str, str]:
    what = {"Alert": "Penugasan baru", "Update": "Perubahan penugasan", "Cancel": "Penugasan dibatalkan"}[msg_type]
    subject = f"[112 {settings.city_name}] {what} {incident.tracking_code} ({incident.category})"
    lines = [
        f"{what} untuk {agency.name}.", "",
        f"Kode laporan: {incident.tracking_code}",
        f"Kategori: {incident.category}   Prioritas: {incident.priority}",
        f"Lokasi: {incident.address or incident.district or '-'}"
        + (f" ({incident.latitude:.5f}, {incident.longitude:.5f})"
           if incident.latitude is not None and incident.longitude is not None else ""),
        f"Status penugasan: {status}",
        f"Batas waktu tanggapan (SLA): {_iso(dispatch.sla_due_at, settings.timezone) or '-'}",
        "", incident.description[:2000],
    ]
    if reason:
        lines += ["", f"Alasan: {reason}"]
    lines += ["", "Pesan CAP 1.2 terlampir. Pesan ini dikirim otomatis oleh Pantau."]
    return subject[:200], "\n".join(lines)


def _messages(dispatch: Dispatch, msg_type: str, event: str, *, email: bool, reason: str = "",
              status: str | None = None) -> list[OutboxMessage]:
    settings = _settings()
    status = status or dispatch.status
    incident = db.session.get(Incident, dispatch.incident_id)
    agency = db.session.get(Agency, dispatch.agency_id)
    if incident is None or agency is None:
        return []
    now = utcnow()
    rows = []
    if agency.webhook_url:
        delivery_id = str(uuid.uuid4())
        body = webhook_body(event, delivery_id, dispatch, incident, agency, settings, now, reason, status)
        rows.append(_row(WEBHOOK, agency.webhook_url, JSON_TYPE, json.dumps(body, ensure_ascii=False), dispatch,
                         agency.id, delivery_id, now))
    cap_xml: str | None = None
    if agency.cap_url or (email and agency.email):
        delivery_id = str(uuid.uuid4())
        first = cap.alert_identifier(dispatch, settings.city_name)
        identifier = {"Alert": first, "Update": f"{first}-update-{delivery_id[:8]}",
                      "Cancel": f"{first}-cancel"}[msg_type]
        cap_xml = cap.build(msg_type, incident=incident, dispatch=dispatch, agency=agency, identifier=identifier,
                            sender=settings.cap_sender, sent=now if msg_type != "Alert" else dispatch.created_at,
                            timezone=settings.timezone, city=settings.city_name, note=reason,
                            status=status).decode()
        if agency.cap_url:
            rows.append(_row(CAP, agency.cap_url, cap.CONTENT_TYPE, cap_xml, dispatch, agency.id, delivery_id, now))
    if email and agency.email:
        subject, text = _email_text(msg_type, dispatch, incident, agency, settings, reason, status)
        payload = json.dumps({"subject": subject, "text": text, "cap": cap_xml}, ensure_ascii=False)
        rows.append(_row(EMAIL, agency.email, JSON_TYPE, payload, dispatch, agency.id, str(uuid.uuid4()), now))
    return rows


def on_dispatched(dispatches: list[Dispatch]) -> list[OutboxMessage]:
    """New dispatches: webhook, CAP Alert and e-mail for each (the caller commits)."""
    rows: list[OutboxMessage] = []
    for dispatch in dispatches:
        rows += _messages(dispatch, "Alert", "dispatch.created", email=True)
    return rows


def on_dispatch_changed(dispatch: Dispatch) -> list[OutboxMessage]:
    """A dispatch's status changed: webhook and CAP Update (Cancel when it is cancelled); the caller commits."""
    db.session.flush()
    if dispatch.status == "cancelled":
        if _cancel_sent(dispatch):
            return []
        return _messages(dispatch, "Cancel", "dispatch.cancelled", email=True, reason=dispatch.note or "")
    return _messages(dispatch, "Update", "dispatch.updated", email=False, reason=dispatch.note or "")


def _cancel_sent(dispatch: Dispatch) -> bool:
    """Has this dispatch's Cancel been written already (a dispatch is cancelled once)?"""
    for kind, payload in db.session.execute(select(OutboxMessage.kind, OutboxMessage.payload).where(
            OutboxMessage.dispatch_id == dispatch.id, OutboxMessage.kind.in_((WEBHOOK, CAP)))):
        if (kind == CAP and "<msgType>Cancel</msgType>" in payload) or \
                (kind == WEBHOOK and '"event": "dispatch.cancelled"' in payload):
            return True
    return False


def on_incident_changed(incident: Incident, change: str) -> list[OutboxMessage]:
    """The report was rejected or merged: each agency holding an open dispatch for it (or one cancelled in this
    same change) gets a CAP Cancel, a ``dispatch.cancelled`` webhook and an e-mail, once. Setting the dispatches'
    status is the caller's (``portal.incidents.lifecycle`` cancels them); the caller commits."""
    if change not in CHANGES:
        return []
    db.session.flush()
    reason = "Laporan ditolak" if change == "rejected" else "Laporan digabung dengan laporan lain"
    rows: list[OutboxMessage] = []
    targets = db.session.scalars(select(Dispatch).where(Dispatch.incident_id == incident.id,
                                                        Dispatch.status.notin_(("done", "rejected")))
                                 .order_by(Dispatch.id)).all()
    for dispatch in targets:
        if not _cancel_sent(dispatch):
            rows += _messages(dispatch, "Cancel", "dispatch.cancelled", email=True, reason=reason,
                              status="cancelled")
    return rows


def email(destination: str, subject: str, text: str, *, footage_request_id: int | None = None) -> OutboxMessage:
    """A plain e-mail (no CAP attached) for ``pantau jobs`` to send like the others; the caller commits. Used to
    tell a footage requester what became of their request (``portal.footage.notices``)."""
    payload = json.dumps({"subject": subject[:200], "text": text}, ensure_ascii=False)
    row = _row(EMAIL, destination, JSON_TYPE, payload, None, None, str(uuid.uuid4()), utcnow())
    row.footage_request_id = footage_request_id
    return row
