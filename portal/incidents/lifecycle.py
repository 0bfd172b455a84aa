"""What an operator does to a report: verify, reject (with a reason), merge a duplicate into another, set its
priority, dispatch it. Each step checks the status table below, writes its event (``events.record_event``)
and an audit entry in the caller's transaction, and refuses what the table does not allow with a
:class:`LifecycleError` (status 409 for a report in the wrong state, 400 for a bad value).

Concurrency: every step first writes the report's row (``UPDATE incidents SET updated_at``), which takes the row
lock on PostgreSQL and the write lock on SQLite, then reads the status again; two operators verifying or
dispatching the same report at once queue, and the second gets a 409 instead of a second event.

The dispatch area hooks in through ``portal.dispatch.outbox.on_incident_changed(incident, change)`` (change is
``"rejected"`` or ``"merged"``): it is called, when that module has it, after the status and the event are
written and before the report's open dispatches are set to ``cancelled``, so it sees the dispatches a CAP
Cancel must go to. The caller commits.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select, update

from portal.incidents.events import DISPATCH_STATUS, MERGED, NOTE, PRIORITY, REJECTED, VERIFIED, record_event
from portal.models import db
from portal.models.audit import record
from portal.models.base import utcnow
from portal.models.incident import Dispatch, Incident

# status -> the statuses a report may move to from it (one table for the whole domain)
TRANSITIONS: dict[str, frozenset[str]] = {
    # straight to dispatched only by the jobs process's dispatch on receipt (portal.dispatch); an operator's
    # dispatch of a new report verifies it on the way
    "new": frozenset({"verified", "dispatched", "rejected", "merged"}),
    "verified": frozenset({"dispatched", "rejected", "merged"}),
    # back to verified when every agency handed it back (portal.agency); resolved when they are all done
    "dispatched": frozenset({"verified", "resolved", "rejected", "merged"}),
    "resolved": frozenset(),
    "rejected": frozenset(),
    "merged": frozenset(),
}
OPEN = ("new", "verified", "dispatched")  # in the operators' queue
DISPATCHABLE = ("verified", "dispatched")  # a new report is verified on the way
OPEN_DISPATCH = ("pending", "sent", "acknowledged", "en_route", "on_scene")
PRIORITIES = (1, 2, 3, 4, 5)  # 1 most urgent
MAX_REASON = 500


class LifecycleError(Exception):
    """A step refused: ``code`` names why (the console translates it), ``status`` is the HTTP answer."""

    def __init__(self, code: str, message: str, *, status: int = 409, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.params = params


def may_move(current: str, to: str) -> bool:
    return to in TRANSITIONS.get(current, frozenset())


def _lock(*incidents: Incident) -> None:
    """Take the rows (in id order, so two steps never wait on each other) and read their status afresh."""
    for incident in sorted(incidents, key=lambda i: i.id):
        db.session.execute(update(Incident.__table__).where(Incident.__table__.c.id == incident.id)
                           .values(updated_at=utcnow()))
    for incident in incidents:
        db.session.refresh(incident)


def _move(incident: Incident, to: str) -> str:
    before = incident.status
    if not may_move(before, to):
        raise LifecycleError(f"{to}_from_{before}", f"a {before} report cannot become {to}", before=before, to=to)
    incident.status = to
    return before


def optional(module: str, name: str) -> Any:
    """``module.name`` when another area provides it, else None (a missing module is not an error; an error
    inside one that exists is raised)."""
    try:
        if importlib.util.find_spec(module) is None:
            return None
    except ModuleNotFoundError:  # its parent package is missing
        return None
    return getattr(importlib.import_module(module), name, None)


def _notify(incident: Incident, change: str) -> None:
    """``portal.dispatch.outbox.on_incident_changed`` when the dispatch area provides it (CAP Cancel)."""
    hook = optional("portal.dispatch.outbox", "on_incident_changed")
    if callable(hook):
        hook(incident, change)


def _cancel_dispatches(incident: Incident) -> list[int]:
    now = utcnow()
    cancelled = []
    for dispatch in db.session.scalars(select(Dispatch).where(Dispatch.incident_id == incident.id,
                                                              Dispatch.status.in_(OPEN_DISPATCH))):
        before = dispatch.status
        dispatch.status = "cancelled"
        dispatch.closed_at = dispatch.closed_at or now
        cancelled.append(dispatch.id)
        # every step of a dispatch is an event (the agency area writes the agencies' own; merged with issue10-agency)
        step: dict[str, Any] = {"dispatch_id": dispatch.id, "agency_id": dispatch.agency_id, "from": before,
                                "status": "cancelled", "via": "console"}
        record_event(incident, DISPATCH_STATUS, **step)
    return cancelled


def _auto_dispatch_setting() -> bool:
    return bool(has_app_context() and getattr(current_app.config.get("PANTAU"), "auto_dispatch_on_verify", False))


def verify(incident: Incident, *, actor_user_id: int | None = None,
           auto_dispatch: bool | None = None) -> list[Dispatch]:
    """Mark the report verified (seen on camera or confirmed); with ``auto_dispatch`` (default: the setting
    ``AUTO_DISPATCH_ON_VERIFY``) dispatch it at once to the routing rules' agencies. Returns the dispatches made."""
    _lock(incident)
    if incident.status != "new":  # (dispatched -> verified is the agencies handing a report back, not this)
        raise LifecycleError(f"verified_from_{incident.status}", f"a {incident.status} report cannot be verified",
                             before=incident.status, to="verified")
    before = _move(incident, "verified")
    record_event(incident, VERIFIED, actor_user_id=actor_user_id)
    record("incident.verify", actor_user_id=actor_user_id, target_type="incident", target_id=incident.id,
           before=before, after="verified")
    if auto_dispatch is None:
        auto_dispatch = _auto_dispatch_setting()
    if not auto_dispatch:
        return []
    from portal.dispatch.service import dispatch_incident

    made = dispatch_incident(incident, actor_user_id=actor_user_id)
    if made:
        record("incident.dispatch", actor_user_id=actor_user_id, target_type="incident", target_id=incident.id,
               agency_ids=[d.agency_id for d in made], automatic=True)
    return made


def reject(incident: Incident, reason: str, *, actor_user_id: int | None = None) -> list[int]:
    """Close the report as not needing anyone (a prank, no emergency): the reason is required and kept.
    Open dispatches are cancelled (the dispatch area sends CAP Cancel). Returns the cancelled dispatch ids."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise LifecycleError("reason_required", "a rejection needs a reason", status=400)
    if len(reason) > MAX_REASON:
        raise LifecycleError("reason_too_long", "the reason is too long", status=400, max=MAX_REASON)
    _lock(incident)
    before = _move(incident, "rejected")
    record_event(incident, REJECTED, actor_user_id=actor_user_id, reason=reason)
    record("incident.reject", actor_user_id=actor_user_id, target_type="incident", target_id=incident.id,
           before=before, after="rejected", reason=reason)
    _notify(incident, "rejected")
    return _cancel_dispatches(incident)


def merge(duplicate: Incident, into: Incident, *, actor_user_id: int | None = None) -> list[int]:
    """Close ``duplicate`` as a copy of ``into`` (which stays open and gains a note). Returns the duplicate's
    cancelled dispatch ids."""
    if duplicate.id == into.id:
        raise LifecycleError("merge_self", "a report cannot be merged into itself", status=400)
    _lock(duplicate, into)
    if into.status not in OPEN and into.status != "resolved":
        raise LifecycleError("merge_into_closed", "the report to merge into is closed", into=into.tracking_code)
    before = _move(duplicate, "merged")
    duplicate.merged_into_id = into.id
    record_event(duplicate, MERGED, actor_user_id=actor_user_id, into_id=into.id, into=into.tracking_code)
    record_event(into, NOTE, actor_user_id=actor_user_id, merged_from_id=duplicate.id,
                 merged_from=duplicate.tracking_code)
    record("incident.merge", actor_user_id=actor_user_id, target_type="incident", target_id=duplicate.id,
           before=before, after="merged", into=into.id)
    _notify(duplicate, "merged")
    return _cancel_dispatches(duplicate)


def set_priority(incident: Incident, priority: int, *, actor_user_id: int | None = None) -> bool:
    """Set 1 (most urgent) .. 5. Returns False when it already had that priority (nothing written)."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in PRIORITIES:
        raise LifecycleError("priority_range", "priority must be 1..5", status=400)
    _lock(incident)
    if incident.status not in OPEN:
        raise LifecycleError("closed", "the report is closed", before=incident.status)
    before = incident.priority
    if before == priority:
        return False
    incident.priority = priority
    record_event(incident, PRIORITY, actor_user_id=actor_user_id, before=before, after=priority)
    record("incident.priority", actor_user_id=actor_user_id, target_type="incident", target_id=incident.id,
           before=before, after=priority)
    return True


def dispatch(incident: Incident, agency_ids: Iterable[int], *, actor_user_id: int | None = None) -> list[Dispatch]:
    """Dispatch to these agencies (one click in the console); a new report is verified on the way. An agency
    that already holds an open dispatch for the report is skipped; when none is left, 409."""
    wanted = list(dict.fromkeys(agency_ids))
    if not wanted:
        raise LifecycleError("no_agency", "choose at least one agency", status=400)
    _lock(incident)
    if incident.status == "new":
        _move(incident, "verified")
        record_event(incident, VERIFIED, actor_user_id=actor_user_id, with_dispatch=True)
        record("incident.verify", actor_user_id=actor_user_id, target_type="incident", target_id=incident.id,
               before="new", after="verified")
    if incident.status not in DISPATCHABLE:
        raise LifecycleError(f"dispatched_from_{incident.status}", "the report cannot be dispatched",
                             before=incident.status)
    from portal.dispatch.service import dispatch_incident

    made = dispatch_incident(incident, actor_user_id=actor_user_id, agency_ids=wanted)
    if not made:
        raise LifecycleError("already_dispatched", "these agencies already hold the report")
    record("incident.dispatch", actor_user_id=actor_user_id, target_type="incident", target_id=incident.id,
           agency_ids=[d.agency_id for d in made], automatic=False)
    return made
