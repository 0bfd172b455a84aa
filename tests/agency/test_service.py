"""``advance``: the allowed moves of a dispatch, its stamps, its events, and the report following them."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.agency import service
from portal.incidents import stages
from portal.incidents.events import DISPATCH_STATUS, RESOLVED
from portal.models import IncidentEvent, db
from tests.agency.conftest import dispatched
from tests.conftest import make_user


def kinds(incident_id: int) -> list[str]:
    return list(db.session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id)
                                   .order_by(IncidentEvent.id)))


def test_the_whole_way_stamps_events_and_resolves_the_report(any_db_app: Flask) -> None:
    incident, [d] = dispatched("damkar")
    user = make_user("agency", agency="damkar")
    for status in ("acknowledged", "en_route", "on_scene", "done"):
        service.advance(d, status, actor_user_id=user.id)
        db.session.commit()
    assert d.status == "done" and d.acknowledged_at is not None and d.closed_at is not None
    assert d.acknowledged_at <= d.closed_at
    events = db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                            IncidentEvent.kind == DISPATCH_STATUS)
                                .order_by(IncidentEvent.id)).all()
    assert [e.data["status"] for e in events] == ["acknowledged", "en_route", "on_scene", "done"]
    assert all(e.actor_user_id == user.id and e.data["via"] == "web" and e.at for e in events)
    assert events[0].data["from"] == "pending"
    db.session.refresh(incident)
    assert incident.status == "resolved" and kinds(incident.id)[-1] == RESOLVED
    assert stages.stage_of(incident) == "closed"


@pytest.mark.parametrize(("path", "bad"), [
    ((), "pending"),  # not something an agency sets
    (("done",), "acknowledged"),  # closed dispatches move no more
    (("on_scene",), "en_route"),  # no going back
    (("acknowledged",), "acknowledged"),  # twice
    (("rejected",), "done"),
])
def test_moves_that_are_not_allowed_are_refused_with_a_clear_message(app: Flask, path: tuple[str, ...],
                                                                     bad: str) -> None:
    _incident, [d] = dispatched("damkar")
    for status in path:
        service.advance(d, status, reason="bukan wewenang kami")
    db.session.commit()
    before = d.status
    with pytest.raises(service.TransitionError) as caught:
        service.advance(d, bad)
    assert caught.value.status in (400, 409)
    assert caught.value.message and ("already" in caught.value.message or "can't" in caught.value.message
                                     or "Unknown" in caught.value.message)
    db.session.rollback()
    assert d.status == before


def test_handing_back_needs_a_reason_and_returns_the_report_to_the_command_centre(app: Flask) -> None:
    incident, [d] = dispatched("pln")
    with pytest.raises(service.TransitionError) as caught:
        service.advance(d, "handed_back", reason="   ")
    assert caught.value.status == 400
    service.advance(d, "handed_back", reason="Bukan gangguan listrik, arahkan ke Damkar")
    db.session.commit()
    assert d.status == "rejected" and d.closed_at is not None and d.acknowledged_at is None
    assert d.note.startswith("Bukan gangguan")
    db.session.refresh(incident)
    assert incident.status == "verified"  # to be dispatched again
    event = db.session.scalars(select(IncidentEvent).where(IncidentEvent.kind == DISPATCH_STATUS)).one()
    assert event.data["reason"] == "Bukan gangguan listrik, arahkan ke Damkar"


def test_report_is_handled_when_one_agency_is_done_and_resolved_when_all_are(app: Flask) -> None:
    incident, [fire, health] = dispatched("damkar", "dinkes")
    service.advance(fire, "done")
    db.session.commit()
    db.session.refresh(incident)
    assert incident.status == "dispatched" and service.handled(incident)
    assert stages.stage_of(incident, handled=service.handled(incident)) == "handled"
    service.advance(health, "rejected", reason="Tidak ada korban")
    db.session.commit()
    db.session.refresh(incident)
    assert incident.status == "resolved"


def test_the_dispatch_area_is_told_in_the_same_transaction(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    told: list[Any] = []
    fake = types.ModuleType("portal.dispatch.outbox")
    fake.on_dispatch_changed = lambda dispatch: told.append((dispatch.id, dispatch.status))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "portal.dispatch.outbox", fake)
    _incident, [d] = dispatched("damkar")
    service.advance(d, "acknowledged")
    assert told == [(d.id, "acknowledged")]


def test_the_indonesian_catalogue_of_the_agency_area_is_complete() -> None:
    from pathlib import Path

    from babel.messages.pofile import read_po

    import portal.agency

    with (Path(portal.agency.__file__).parent / "translations" / "id" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    untranslated = [m.id for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple)
                                                                         and not all(m.string)))]
    assert len(catalog) > 50 and not untranslated and not [m.id for m in catalog if m.id and m.fuzzy]
