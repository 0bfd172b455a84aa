"""The demo's 112 side: Kendari's agencies, routing rules and one account per role, made once."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from portal.demo import DEMO_AGENCIES, DEMO_STAFF, seed_112
from portal.dispatch.service import dispatch_incident
from portal.models import Agency, RoutingRule, User, db
from portal.reports.service import create_report


def test_the_demo_seeds_agencies_rules_and_staff_once(app: Flask) -> None:
    assert seed_112("demo-sandi-9f3a2b7c") is True
    assert db.session.scalar(select(func.count()).select_from(Agency)) == len(DEMO_AGENCIES)
    assert db.session.scalar(select(func.count()).select_from(RoutingRule)) == sum(len(a[3]) for a in DEMO_AGENCIES)
    users = {u.username: u for u in db.session.scalars(select(User))}
    assert {name: users[name].role for name, _, _ in DEMO_STAFF} == {name: role for name, role, _ in DEMO_STAFF}
    assert users["damkar"].agency is not None and users["damkar"].agency.code == "damkar"
    assert users["operator"].check_password("demo-sandi-9f3a2b7c")
    assert seed_112("demo-sandi-9f3a2b7c") is False  # a second start leaves everything as it is
    assert db.session.scalar(select(func.count()).select_from(User)) == len(DEMO_STAFF)
    with app.test_request_context("/"):
        fire = create_report(category="fire", description="Api di pasar sentral", latitude=-3.97, longitude=122.51,
                             remote_addr="127.0.0.3")
    made = dispatch_incident(fire)
    assert [db.session.get(Agency, d.agency_id).code for d in made] == ["damkar"]
