"""An agency works a dispatch: acknowledged, en route, on scene, done, or handed back with a reason.

``advance`` is the one way a dispatch's status changes on the agency's side (its page, its own system's JSON
callback, a CAP Ack): it checks the move against ``TRANSITIONS``, stamps ``acknowledged_at``/``closed_at``,
writes a ``DISPATCH_STATUS`` event (time, actor, how it came), settles the report and tells the dispatch area
(``portal.dispatch.outbox.on_dispatch_changed``, when that exists) in the same transaction. The caller commits.

The report follows its dispatches:
- every dispatch that was not handed back or cancelled is done (and one at least) -> the report is ``resolved``
  (a RESOLVED event; public stage "closed");
- some dispatch is done while others still work -> public stage "handled" (``stages.stage_of(handled=...)``,
  see :func:`handled`);
- every dispatch was handed back or cancelled -> the report goes back to ``verified``, so the command centre
  dispatches it again.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import has_request_context
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal.incidents.events import DISPATCH_STATUS, RESOLVED, record_event
from portal.models import db
from portal.models.base import utcnow
from portal.models.incident import Dispatch, Incident

log = logging.getLogger("pantau.agency")

ACKNOWLEDGED, EN_ROUTE, ON_SCENE, DONE, HANDED_BACK = "acknowledged", "en_route", "on_scene", "done", "rejected"
AGENCY_STATUSES = (ACKNOWLEDGED, EN_ROUTE, ON_SCENE, DONE, HANDED_BACK)  # what an agency may set
CLOSED_STATUSES = ("done", "rejected", "cancelled")
OPEN_STATUSES = ("pending", "sent", ACKNOWLEDGED, EN_ROUTE, ON_SCENE)
WORKING = (ACKNOWLEDGED, EN_ROUTE, ON_SCENE, DONE)  # reaching one of these acknowledges the dispatch
# The allowed moves of a dispatch on the agency's side (forward only; steps may be skipped, e.g. straight
# to "on scene" when the unit was nearby). Closed dispatches move no more.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": (ACKNOWLEDGED, EN_ROUTE, ON_SCENE, DONE, HANDED_BACK),
    "sent": (ACKNOWLEDGED, EN_ROUTE, ON_SCENE, DONE, HANDED_BACK),
    ACKNOWLEDGED: (EN_ROUTE, ON_SCENE, DONE, HANDED_BACK),
    EN_ROUTE: (ON_SCENE, DONE, HANDED_BACK),
    ON_SCENE: (DONE, HANDED_BACK),
    DONE: (),
    HANDED_BACK: (),
    "cancelled": (),
}
ALIASES = {"handed_back": HANDED_BACK, "hand_back": HANDED_BACK, "ack": ACKNOWLEDGED}
MAX_REASON = 500


class TransitionError(ValueError):
    """A move the dispatch can't make (HTTP 409), or a missing reason (HTTP 400); ``message`` is translated."""

    def __init__(self, message: str, status: int = 409) -> None:
        self.message, self.status = message, status
        super().__init__(message)


def _(text: str, **params: Any) -> str:
    """Translated in a request (the page's or the API's language), plain English outside one (CLI, jobs)."""
    if has_request_context():
        return gettext(text, **params)
    return text % params if params else text


STATUS_LABELS = {
    "pending": _l("waiting"), "sent": _l("delivered"), ACKNOWLEDGED: _l("acknowledged"), EN_ROUTE: _l("en route"),
    ON_SCENE: _l("on scene"), DONE: _l("done"), HANDED_BACK: _l("handed back"), "cancelled": _l("cancelled"),
}


def label(status: str) -> str:
    if not has_request_context():
        return status.replace("_", " ")
    return str(STATUS_LABELS.get(status, status))


def normalise(status: str) -> str:
    return ALIASES.get(status, status)


def allowed_next(dispatch: Dispatch) -> tuple[str, ...]:
    return TRANSITIONS.get(dispatch.status, ())


def advance(dispatch: Dispatch, status: str, *, actor_user_id: int | None = None, reason: str = "",
            via: str = "web", **detail: Any) -> Dispatch:
    """Move ``dispatch`` to ``status`` (one of ``AGENCY_STATUSES``), or raise :class:`TransitionError`.

    ``via``: "web" (the agency page), "api" (the JSON callback), "cap" (a CAP Ack). ``detail`` goes into the
    event (e.g. the token's name). Adds to the session; the caller commits."""
    status = normalise(status)
    if status not in AGENCY_STATUSES:
        raise TransitionError(_("Unknown status %(status)s.", status=status[:40]), 400)
    reason = (reason or "").strip()[:MAX_REASON]
    if status == HANDED_BACK and not reason:
        raise TransitionError(_("Say why the dispatch is handed back."), 400)
    before = dispatch.status
    if status not in TRANSITIONS.get(before, ()):
        if before == status:
            raise TransitionError(_("This dispatch is already %(status)s.", status=label(status)))
        raise TransitionError(_("A dispatch that is %(before)s can't be marked %(after)s.",
                                before=label(before), after=label(status)))
    now = utcnow()
    # Compare and set: of two agents moving the same dispatch at once, the second finds it moved (on SQLite
    # too, where a row lock does not exist), so a step is never recorded twice.
    moved = db.session.execute(update(Dispatch).where(Dispatch.id == dispatch.id, Dispatch.status == before)
                               .values(status=status, updated_at=now).execution_options(synchronize_session=False))
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        current = db.session.scalar(select(Dispatch.status).where(Dispatch.id == dispatch.id)) or before
        db.session.expire(dispatch)
        raise TransitionError(_("This dispatch was changed meanwhile (it is %(status)s now): look again.",
                                status=label(current)))
    dispatch.status = status
    dispatch.updated_at = now
    if status in WORKING and dispatch.acknowledged_at is None:
        dispatch.acknowledged_at = now
    if status in CLOSED_STATUSES:
        dispatch.closed_at = now
    if reason:
        dispatch.note = reason
    incident = db.session.get(Incident, dispatch.incident_id)
    if incident is None:  # the dispatches table refuses that (foreign key); kept for the type checker
        raise TransitionError(_("This dispatch has no report."), 404)
    data: dict[str, Any] = {"dispatch_id": dispatch.id, "agency_id": dispatch.agency_id, "from": before,
                            "status": status, "via": via}
    if reason:
        data["reason"] = reason
    data.update(detail)
    record_event(incident, DISPATCH_STATUS, actor_user_id=actor_user_id, **data)
    db.session.flush()
    _settle(incident, actor_user_id)
    _tell_dispatch_area(dispatch)
    return dispatch


def _settle(incident: Incident, actor_user_id: int | None) -> None:
    """The report follows its dispatches (see the module's text)."""
    if incident.status in ("rejected", "merged", "resolved"):
        return
    statuses = list(db.session.scalars(select(Dispatch.status).where(Dispatch.incident_id == incident.id)))
    live = [s for s in statuses if s not in (HANDED_BACK, "cancelled")]
    if live and all(s == DONE for s in live):
        incident.status = "resolved"
        record_event(incident, RESOLVED, actor_user_id=actor_user_id, by="agencies")
    elif statuses and not live and incident.status == "dispatched":
        incident.status = "verified"  # every agency handed it back: the command centre dispatches again


def handled(incident: Incident) -> bool:
    """Has an agency marked its dispatch done? (the public stage "handled" while the report is still open)"""
    return db.session.scalar(select(Dispatch.id).where(Dispatch.incident_id == incident.id,
                                                       Dispatch.status == DONE).limit(1)) is not None


def _tell_dispatch_area(dispatch: Dispatch) -> None:
    """CAP Update and webhook through the outbox, when the dispatch area provides them (same transaction)."""
    try:
        outbox = importlib.import_module("portal.dispatch.outbox")
    except ModuleNotFoundError as exc:
        if exc.name != "portal.dispatch.outbox":
            raise
        return
    hook = getattr(outbox, "on_dispatch_changed", None)
    if hook is not None:
        hook(dispatch)
