"""Agency fixtures: reports dispatched to agencies (as the console would), API tokens."""

from __future__ import annotations

from portal.agency import tokens
from portal.dispatch.service import dispatch_incident
from portal.incidents.codes import new_tracking_code
from portal.incidents.events import RECEIVED, VERIFIED, record_event
from portal.models import Agency, Dispatch, Incident, db
from tests.browser.conftest import live_server, serve  # noqa: F401 (the browser tests' fixtures, for test_browser)


def agency(code: str, name: str | None = None) -> Agency:
    found = db.session.query(Agency).filter_by(code=code).first()
    if found is None:
        found = Agency(code=code, name=name or code.upper(), kind="other")
        db.session.add(found)
        db.session.commit()
    return found


def dispatched(*codes: str, category: str = "fire", description: str = "Asap tebal dari ruko di Jl. Ahmad Yani",
               latitude: float = -3.97, longitude: float = 122.51) -> tuple[Incident, list[Dispatch]]:
    """A verified report dispatched to the agencies ``codes`` (default: damkar)."""
    agencies = [agency(c) for c in (codes or ("damkar",))]
    incident = Incident(tracking_code=new_tracking_code(), category=category, description=description,
                        latitude=latitude, longitude=longitude, address="Jl. Ahmad Yani 12", district="Kadia",
                        reporter_name="Wa Ode Rahma", reporter_phone="081234567890", status="verified")
    db.session.add(incident)
    db.session.flush()
    record_event(incident, RECEIVED)
    record_event(incident, VERIFIED)
    made = dispatch_incident(incident, agency_ids=[a.id for a in agencies])
    db.session.commit()
    return incident, made


def api_token(code: str, name: str = "sistem") -> str:
    _row, token = tokens.issue(agency(code), name)
    db.session.commit()
    return token
