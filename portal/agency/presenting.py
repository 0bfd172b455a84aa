"""What an agency reads about a dispatch: the report (category, description, place), its photos and evidence,
its event timeline, and the CAP identifier of the dispatch's alert. The same facts for the page and the API;
never the reporter's name or phone, never the command centre's suspicion flags or internal notes."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.agency import service
from portal.incidents import events as ev
from portal.models import Agency, Dispatch, Incident, IncidentEvent, IncidentEvidence, User, db

CATEGORY_LABELS = {
    "fire": _l("Fire"), "accident": _l("Traffic accident"), "brawl": _l("Brawl"), "crime": _l("Crime"),
    "missing_person": _l("Missing person"), "disaster": _l("Disaster"), "medical": _l("Medical emergency"),
    "city_problem": _l("City problem"), "other": _l("Other"),
}
EVENT_LABELS = {
    ev.RECEIVED: _l("Report received"), ev.VERIFIED: _l("Verified by the command centre"),
    ev.REJECTED: _l("Rejected by the command centre"), ev.MERGED: _l("Merged into another report"),
    ev.PRIORITY: _l("Priority changed"), ev.EVIDENCE: _l("Camera snapshot saved as evidence"),
    ev.DISPATCHED: _l("Dispatched"), ev.ESCALATED: _l("Escalated (SLA ran out)"),
    ev.RESOLVED: _l("Report resolved"),
}
HIDDEN_EVENTS = (ev.FLAGGED, ev.NOTE)  # the command centre's own business


def category_label(category: str) -> str:
    return str(CATEGORY_LABELS.get(category, category))


def city_slug() -> str:
    name = str(current_app.config["PANTAU"].city_name)
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "city"


def cap_identifier(dispatch: Dispatch) -> str:
    """The identifier of the dispatch's CAP Alert (the dispatch area's, when it names one)."""
    try:
        module = importlib.import_module("portal.dispatch.cap")
        named = getattr(module, "alert_identifier", None)
        if named is not None:
            return str(named(dispatch, current_app.config["PANTAU"].city_name))
    except ModuleNotFoundError:
        pass
    return f"pantau-{city_slug()}-dispatch-{dispatch.id}"


def photos(incident: Incident, dispatch: Dispatch | None = None) -> list[dict[str, str]]:
    """The reporter's photos and the command centre's camera snapshots (evidence) as ``{"url", "label"}``;
    the snapshots are served through the agency's own dispatch (``dispatch``)."""
    found: list[dict[str, str]] = []
    try:
        module = importlib.import_module("portal.reports.photos")
    except ModuleNotFoundError:
        module = None
    photos_of, photo_url = getattr(module, "photos_of", None), getattr(module, "photo_url", None)
    if photos_of is not None and photo_url is not None:
        found += [{"url": str(photo_url(p)), "label": gettext("Reporter's photo")} for p in photos_of(incident)]
    if dispatch is not None:
        items = db.session.scalars(select(IncidentEvidence).where(IncidentEvidence.incident_id == incident.id)
                                   .order_by(IncidentEvidence.id).limit(50))
        found += [{"url": url_for("agency.evidence", dispatch_id=dispatch.id, evidence_id=item.id),
                   "label": gettext("Camera %(name)s", name=item.camera_name or "?")} for item in items]
    return found


@dataclass
class Step:
    at: dt.datetime
    kind: str
    text: str
    who: str
    reason: str = ""
    own: bool = False  # a step of the viewing agency


def _agency_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(ids))).all())


def timeline(incident: Incident, agency_id: int | None) -> list[Step]:
    """The report's events as an agency may read them, oldest first."""
    rows = list(db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                               IncidentEvent.kind.notin_(HIDDEN_EVENTS))
                                   .order_by(IncidentEvent.at, IncidentEvent.id).limit(500)))
    agency_ids: set[int] = set()
    for row in rows:
        data = row.data or {}
        if isinstance(data.get("agency_id"), int):
            agency_ids.add(data["agency_id"])
        agency_ids.update(a for a in data.get("agency_ids") or () if isinstance(a, int))
    names = _agency_names(agency_ids)
    users = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({r.actor_user_id for r in rows if r.actor_user_id})))}
    steps = []
    for row in rows:
        data = row.data or {}
        actor = users.get(row.actor_user_id) if row.actor_user_id else None
        if row.kind == ev.DISPATCH_STATUS:
            raw_owner = data.get("agency_id")
            owner: int = raw_owner if isinstance(raw_owner, int) else -1
            own = owner == agency_id
            text = gettext("%(agency)s: %(status)s", agency=names.get(owner, "?"),
                           status=service.label(str(data.get("status", ""))))
            via = data.get("via")
            who = (actor.display_name if own and actor else
                   gettext("their own system") if via in ("api", "cap") else names.get(owner, ""))
            steps.append(Step(row.at, row.kind, text, who, str(data.get("reason", "")), own))
            continue
        if row.kind == ev.DISPATCHED:
            agencies = ", ".join(names.get(a, "?") for a in data.get("agency_ids") or ())
            text = gettext("Dispatched to %(agencies)s", agencies=agencies)
            own = agency_id in (data.get("agency_ids") or ())
        else:
            text = str(EVENT_LABELS.get(row.kind, row.kind))
            own = False
        who = gettext("Command centre") if actor and actor.role in ("operator", "admin") else ""
        steps.append(Step(row.at, row.kind, text, who, "", own))
    return steps


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def dispatch_json(dispatch: Dispatch, *, events: bool = False) -> dict[str, Any]:
    incident = db.session.get(Incident, dispatch.incident_id)
    body: dict[str, Any] = {
        "id": dispatch.id, "cap_identifier": cap_identifier(dispatch), "status": dispatch.status,
        "allowed_next": list(service.allowed_next(dispatch)), "note": dispatch.note,
        "created_at": _iso(dispatch.created_at), "acknowledged_at": _iso(dispatch.acknowledged_at),
        "closed_at": _iso(dispatch.closed_at), "sla_due_at": _iso(dispatch.sla_due_at),
    }
    if incident is not None:
        body["report"] = {
            "tracking_code": incident.tracking_code, "category": incident.category,
            "description": incident.description, "latitude": incident.latitude, "longitude": incident.longitude,
            "address": incident.address, "district": incident.district, "priority": incident.priority,
            "status": incident.status, "created_at": _iso(incident.created_at),
            "photos": [p["url"] for p in photos(incident)],  # the evidence snapshots are for the page only
        }
        if events:
            body["events"] = [{"at": _iso(s.at), "kind": s.kind, "text": s.text, "reason": s.reason or None}
                              for s in timeline(incident, dispatch.agency_id)]
    return body
