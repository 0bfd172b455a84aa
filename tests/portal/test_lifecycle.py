"""The steps an operator takes on a report (portal.incidents.lifecycle), on SQLite and on PostgreSQL: events,
audit entries, the status table refusing impossible steps, the dispatch area's hook, and two operators at once."""

from __future__ import annotations

import importlib.machinery
import sys
import threading
import types
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.incidents import lifecycle
from portal.incidents.codes import new_tracking_code
from portal.incidents.events import RECEIVED, record_event
from portal.incidents.lifecycle import LifecycleError
from portal.models import Agency, AuditEntry, Dispatch, Incident, IncidentEvent, RoutingRule, db


def make_incident(**fields: Any) -> Incident:
    values: dict[str, Any] = {"tracking_code": new_tracking_code(), "category": "fire", "description": "Asap tebal",
                              "latitude": -3.9700, "longitude": 122.5150, "district": "Kadia"}
    values.update(fields)
    incident = Incident(**values)
    db.session.add(incident)
    db.session.flush()
    record_event(incident, RECEIVED)
    db.session.commit()
    return incident


def make_agency(code: str = "damkar", *, category: str | None = "fire", sla: int = 10) -> Agency:
    agency = Agency(code=code, name=code.upper(), kind="fire")
    db.session.add(agency)
    db.session.flush()
    if category:
        db.session.add(RoutingRule(category=category, agency_id=agency.id, sla_minutes=sla))
    db.session.commit()
    return agency


def kinds(incident: Incident) -> list[str]:
    return list(db.session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident.id)
                                   .order_by(IncidentEvent.id)))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


@pytest.fixture()
def hook(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, list[str]]]:
    """A stand-in ``portal.dispatch.outbox`` recording each call and the dispatches open at that moment."""
    calls: list[tuple[int, str, list[str]]] = []

    def on_incident_changed(incident: Incident, change: str) -> None:
        open_ = [d.status for d in db.session.scalars(select(Dispatch).where(Dispatch.incident_id == incident.id))]
        calls.append((incident.id, change, open_))

    module = types.ModuleType("portal.dispatch.outbox")
    module.__spec__ = importlib.machinery.ModuleSpec("portal.dispatch.outbox", None)
    module.on_incident_changed = on_incident_changed  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "portal.dispatch.outbox", module)
    return calls


def test_verify_writes_event_and_audit_and_refuses_twice(any_db_app: Flask) -> None:
    incident = make_incident()
    assert lifecycle.verify(incident, actor_user_id=None, auto_dispatch=False) == []
    db.session.commit()
    assert incident.status == "verified"
    assert kinds(incident) == ["received", "verified"]
    assert audit_actions() == ["incident.verify"]
    with pytest.raises(LifecycleError) as refused:
        lifecycle.verify(incident)
    assert refused.value.status == 409 and refused.value.params["before"] == "verified"
    db.session.rollback()
    assert kinds(incident) == ["received", "verified"]


def test_verify_dispatches_automatically_when_asked(any_db_app: Flask) -> None:
    agency = make_agency()
    make_agency("pln", category="accident")  # another category's agency is not chosen
    incident = make_incident()
    made = lifecycle.verify(incident, auto_dispatch=True)
    db.session.commit()
    assert [d.agency_id for d in made] == [agency.id]
    assert incident.status == "dispatched"
    assert kinds(incident) == ["received", "verified", "dispatched"]
    assert audit_actions() == ["incident.verify", "incident.dispatch"]


def test_the_setting_turns_automatic_dispatch_on(any_db_app: Flask) -> None:
    import dataclasses

    make_agency()
    incident = make_incident()
    any_db_app.config["PANTAU"] = dataclasses.replace(any_db_app.config["PANTAU"], auto_dispatch_on_verify=True)
    assert len(lifecycle.verify(incident)) == 1
    db.session.commit()
    assert incident.status == "dispatched"


def test_reject_needs_a_reason_cancels_dispatches_and_calls_the_hook(any_db_app: Flask, hook: list[Any]) -> None:
    make_agency()
    incident = make_incident()
    lifecycle.verify(incident, auto_dispatch=True)
    db.session.commit()
    for blank in ("", "   \n "):
        with pytest.raises(LifecycleError) as refused:
            lifecycle.reject(incident, blank)
        assert refused.value.status == 400 and refused.value.code == "reason_required"
    with pytest.raises(LifecycleError):
        lifecycle.reject(incident, "x" * 501)
    cancelled = lifecycle.reject(incident, "  laporan palsu,\n  tidak ada asap ")
    db.session.commit()
    assert incident.status == "rejected"
    assert hook == [(incident.id, "rejected", ["pending"])]  # the hook saw the open dispatch, to cancel it
    assert [d.status for d in db.session.scalars(select(Dispatch))] == ["cancelled"]
    assert len(cancelled) == 1
    event = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "rejected")).one()
    assert event.data == {"reason": "laporan palsu, tidak ada asap"}
    assert audit_actions()[-1] == "incident.reject"
    for step in (lambda: lifecycle.verify(incident), lambda: lifecycle.reject(incident, "lagi"),
                 lambda: lifecycle.set_priority(incident, 1), lambda: lifecycle.dispatch(incident, [1])):
        with pytest.raises(LifecycleError) as refused:
            step()
        assert refused.value.status == 409
        db.session.rollback()
    assert len(hook) == 1


def test_without_the_dispatch_hook_steps_still_work(any_db_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    bare = types.ModuleType("portal.dispatch.outbox")
    bare.__spec__ = importlib.machinery.ModuleSpec("portal.dispatch.outbox", None)
    monkeypatch.setitem(sys.modules, "portal.dispatch.outbox", bare)
    incident = make_incident()
    lifecycle.reject(incident, "iseng")
    db.session.commit()
    assert incident.status == "rejected"


def test_merge(any_db_app: Flask, hook: list[Any]) -> None:
    first, second, closed = make_incident(), make_incident(), make_incident()
    lifecycle.reject(closed, "palsu")
    db.session.commit()
    with pytest.raises(LifecycleError) as refused:
        lifecycle.merge(second, second)
    assert refused.value.status == 400
    with pytest.raises(LifecycleError) as refused:
        lifecycle.merge(second, closed)
    assert refused.value.status == 409 and refused.value.code == "merge_into_closed"
    db.session.rollback()
    lifecycle.merge(second, first)
    db.session.commit()
    assert (second.status, second.merged_into_id, first.status) == ("merged", first.id, "new")
    assert kinds(second)[-1] == "merged" and kinds(first)[-1] == "note"
    merged = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "merged")).one()
    assert merged.data == {"into_id": first.id, "into": first.tracking_code}
    assert hook[-1][:2] == (second.id, "merged")
    with pytest.raises(LifecycleError):
        lifecycle.merge(second, first)  # already merged
    db.session.rollback()
    with pytest.raises(LifecycleError):
        lifecycle.merge(first, second)  # into a merged report
    db.session.rollback()
    assert audit_actions().count("incident.merge") == 1


def test_priority(any_db_app: Flask) -> None:
    incident = make_incident()
    for bad in (0, 6, -1, True, "1", 2.0):
        with pytest.raises(LifecycleError) as refused:
            lifecycle.set_priority(incident, bad)  # type: ignore[arg-type]
        assert refused.value.status == 400
    assert lifecycle.set_priority(incident, 3) is False  # already 3: nothing written
    assert lifecycle.set_priority(incident, 1) is True
    db.session.commit()
    assert incident.priority == 1
    event = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "priority")).one()
    assert event.data == {"before": 3, "after": 1}
    assert audit_actions() == ["incident.priority"]


def test_dispatch(any_db_app: Flask) -> None:
    damkar = make_agency()
    polda = make_agency("polda", category=None)
    incident = make_incident()
    with pytest.raises(LifecycleError) as refused:
        lifecycle.dispatch(incident, [])
    assert refused.value.status == 400
    made = lifecycle.dispatch(incident, [damkar.id, damkar.id])  # from new: verified on the way
    db.session.commit()
    assert [d.agency_id for d in made] == [damkar.id]
    assert incident.status == "dispatched"
    assert kinds(incident) == ["received", "verified", "dispatched"]
    with pytest.raises(LifecycleError) as refused:
        lifecycle.dispatch(incident, [damkar.id])
    assert refused.value.code == "already_dispatched" and refused.value.status == 409
    db.session.rollback()
    made = lifecycle.dispatch(incident, [damkar.id, polda.id])  # one more agency later
    db.session.commit()
    assert [d.agency_id for d in made] == [polda.id]
    assert made[0].sla_due_at is not None
    assert audit_actions() == ["incident.verify", "incident.dispatch", "incident.dispatch"]


def test_two_operators_at_once_one_wins(any_db_app: Flask) -> None:
    """Both verify (and both dispatch) the same report at the same moment: one succeeds, the other gets 409."""
    agency_id = make_agency().id
    incident_id = make_incident().id
    db.session.remove()
    barrier = threading.Barrier(2)

    def act(step: str, results: list[str]) -> None:
        with any_db_app.app_context():
            incident = db.session.get(Incident, incident_id)
            assert incident is not None
            barrier.wait(timeout=10)
            try:
                if step == "verify":
                    lifecycle.verify(incident, auto_dispatch=False)
                else:
                    lifecycle.dispatch(incident, [agency_id])
                db.session.commit()
                results.append("ok")
            except LifecycleError as exc:
                db.session.rollback()
                results.append(str(exc.status))
            finally:
                db.session.remove()

    for step in ("verify", "dispatch"):
        results: list[str] = []
        threads = [threading.Thread(target=act, args=(step, results)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(results) == ["409", "ok"], (step, results)
    incident = db.session.get(Incident, incident_id)
    assert incident is not None
    assert kinds(incident) == ["received", "verified", "dispatched"]
    assert len(db.session.scalars(select(Dispatch)).all()) == 1


@pytest.mark.parametrize("change", ["rejected", "merged"])
def test_the_dispatch_areas_cap_cancel(any_db_app: Flask, change: str) -> None:
    """With the dispatch area's real hook (after the merge): rejecting or merging a dispatched report cancels its
    dispatch once and queues one CAP Cancel for the agency."""
    from portal.models import OutboxMessage

    outbox = pytest.importorskip("portal.dispatch.outbox")
    if not hasattr(outbox, "on_incident_changed") or not hasattr(Agency, "cap_url"):
        pytest.skip("the dispatch area (portal.dispatch.outbox.on_incident_changed) is not merged yet")
    agency = make_agency()
    agency.cap_url = "http://127.0.0.1:9/cap"
    db.session.commit()
    incident, other = make_incident(), make_incident()
    lifecycle.dispatch(incident, [agency.id])
    db.session.commit()
    if change == "rejected":
        lifecycle.reject(incident, "palsu")
    else:
        lifecycle.merge(incident, other)
    db.session.commit()
    assert [d.status for d in db.session.scalars(select(Dispatch))] == ["cancelled"]
    cancels = [m for m in db.session.scalars(select(OutboxMessage)) if "<msgType>Cancel</msgType>" in m.payload]
    assert len(cancels) == 1
    assert kinds(incident).count("dispatch_status") == 1
