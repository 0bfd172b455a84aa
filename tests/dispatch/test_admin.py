"""Admin pages for dispatch: routing rules, agency delivery settings (secret shown once, stored sealed), escalation
contacts; CSRF, audit, bounds and roles."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.dispatch import sealing
from portal.models import Agency, AuditEntry, EscalationContact, OutboxMessage, RoutingRule, db
from tests.conftest import csrf_token, login_as


def post(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data=data, headers={"X-CSRFToken": csrf_token(client)})


def agency() -> Agency:
    found = Agency(code="damkar", name="Damkar Kendari", kind="fire")
    db.session.add(found)
    db.session.commit()
    return found


def audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture()
def admin(client: FlaskClient) -> FlaskClient:
    login_as(client, "admin")
    return client


def test_routing_rules_add_change_delete_audited(app: Flask, admin: FlaskClient) -> None:
    a = agency()
    page = admin.get("/admin/penugasan/aturan")
    assert page.status_code == 200 and "Damkar Kendari" in page.text and "Aturan penugasan" in page.text
    response = post(admin, "/admin/penugasan/aturan", {"category": "fire", "district": " Kadia ", "agency": a.id,
                                                       "sla_minutes": "12"})
    assert response.status_code == 302
    rule = db.session.scalars(select(RoutingRule)).one()
    assert (rule.category, rule.district, rule.agency_id, rule.sla_minutes) == ("fire", "Kadia", a.id, 12)
    assert audit("dispatch.rule.create")[0].target_id == str(rule.id)
    again = post(admin, "/admin/penugasan/aturan", {"category": "fire", "district": "Kadia", "agency": a.id,
                                                    "sla_minutes": "12"})
    assert again.status_code == 400  # the same rule twice
    assert post(admin, f"/admin/penugasan/aturan/{rule.id}", {"action": "sla", "sla_minutes": "30"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(RoutingRule, rule.id).sla_minutes == 30
    assert post(admin, f"/admin/penugasan/aturan/{rule.id}", {"action": "deactivate"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(RoutingRule, rule.id).active is False
    assert post(admin, f"/admin/penugasan/aturan/{rule.id}", {"action": "delete"}).status_code == 302
    assert db.session.scalars(select(RoutingRule)).all() == []
    assert len(audit("dispatch.rule.update")) == 2 and len(audit("dispatch.rule.delete")) == 1


@pytest.mark.parametrize("data", [
    {"category": "volcano", "agency": "1", "sla_minutes": "10"},
    {"category": "fire", "agency": "999999", "sla_minutes": "10"},
    {"category": "fire", "agency": "1", "sla_minutes": "0"},
    {"category": "fire", "agency": "1", "sla_minutes": "99999999999999999999"},
    {"category": "fire", "agency": "1", "sla_minutes": "-5"},
    {"category": "fire", "agency": "1", "sla_minutes": "10", "district": "x" * 5000},
    {"category": "fire", "agency": "1" * 400, "sla_minutes": "10"},
    {"category": "<script>", "agency": "<script>", "sla_minutes": "<script>"},
])
def test_bad_rule_input_gets_a_clear_400(app: Flask, admin: FlaskClient, data: dict[str, str]) -> None:
    agency()
    response = post(admin, "/admin/penugasan/aturan", data)
    assert response.status_code == 400 and "<script>" not in response.text
    assert db.session.scalars(select(RoutingRule)).all() == []


def test_without_csrf_nothing_changes(app: Flask, admin: FlaskClient) -> None:
    a = agency()
    response = admin.post("/admin/penugasan/aturan", data={"category": "fire", "agency": a.id, "sla_minutes": "5"})
    assert response.status_code == 400
    assert admin.post(f"/admin/penugasan/instansi/{a.id}", data={"action": "rotate_secret"}).status_code == 400
    assert db.session.scalars(select(RoutingRule)).all() == [] and db.session.get(Agency, a.id).webhook_secret is None


def test_delivery_settings_make_a_secret_shown_once_and_sealed(app: Flask, admin: FlaskClient) -> None:
    a = agency()
    response = post(admin, f"/admin/penugasan/instansi/{a.id}", {
        "webhook_url": "https://127.0.0.1:8443/pantau?tenant=1", "cap_url": "http://127.0.0.1:8080/cap",
        "cap_address": "damkar@kendarikota.go.id", "email": "posko@damkar.kendarikota.go.id"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    stored = db.session.get(Agency, a.id)
    secret = sealing.unseal(stored.webhook_secret, app.config["PANTAU"].secret_key)
    assert secret in response.text  # shown this once
    assert secret not in stored.webhook_secret  # sealed at rest
    assert (stored.webhook_url, stored.cap_url, stored.cap_address, stored.email) == (
        "https://127.0.0.1:8443/pantau?tenant=1", "http://127.0.0.1:8080/cap", "damkar@kendarikota.go.id",
        "posko@damkar.kendarikota.go.id")
    page = admin.get(f"/admin/penugasan/instansi/{a.id}")
    assert page.status_code == 200 and secret not in page.text and stored.webhook_secret not in page.text
    assert secret not in admin.get("/admin/penugasan/instansi").text
    entry = audit("dispatch.agency.delivery")[0]
    assert secret not in str(entry.detail) and stored.webhook_secret not in str(entry.detail)
    rotated = post(admin, f"/admin/penugasan/instansi/{a.id}", {"action": "rotate_secret"})
    db.session.expire_all()
    new = sealing.unseal(db.session.get(Agency, a.id).webhook_secret, app.config["PANTAU"].secret_key)
    assert new != secret and new in rotated.text and len(audit("dispatch.agency.secret")) == 1


@pytest.mark.parametrize("field,value", [
    ("webhook_url", "javascript:alert(1)"), ("webhook_url", "ftp://127.0.0.1/x"), ("webhook_url", "http://"),
    ("webhook_url", "http://user:pw@127.0.0.1/x"), ("webhook_url", "http://127.0.0.1/" + "a" * 3000),
    ("cap_url", "http://127.0.0.1/a b"), ("email", "not-an-address"), ("email", "a@b." + "c" * 300),
    ("cap_address", "two words"), ("cap_address", "<x>"),
])
def test_bad_delivery_settings_get_a_clear_400(app: Flask, admin: FlaskClient, field: str, value: str) -> None:
    a = agency()
    response = post(admin, f"/admin/penugasan/instansi/{a.id}", {field: value})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Agency, a.id).webhook_url is None and db.session.get(Agency, a.id).webhook_secret is None


def test_failed_messages_can_be_sent_again(app: Flask, admin: FlaskClient) -> None:
    a = agency()
    db.session.add(OutboxMessage(kind="webhook", destination="http://127.0.0.1:9/x", payload="{}", agency_id=a.id,
                                 delivery_id="d-1", status="failed", attempts=40, last_error="HTTP 500"))
    db.session.commit()
    assert "HTTP 500" in admin.get(f"/admin/penugasan/instansi/{a.id}").text
    assert post(admin, f"/admin/penugasan/instansi/{a.id}/ulangi", {}).status_code == 302
    db.session.expire_all()
    row = db.session.scalars(select(OutboxMessage)).one()
    assert (row.status, row.attempts) == ("pending", 0) and len(audit("dispatch.agency.retry")) == 1


def test_escalation_contacts(app: Flask, admin: FlaskClient) -> None:
    response = post(admin, "/admin/penugasan/eskalasi", {"level": "2", "category": "fire", "name": "Sulkarnain",
                                                         "title": "Wali Kota Kendari",
                                                         "email": "walikota@kendarikota.go.id"})
    assert response.status_code == 302
    contact = db.session.scalars(select(EscalationContact)).one()
    assert (contact.level, contact.category, contact.title) == (2, "fire", "Wali Kota Kendari")
    assert "Wali Kota Kendari" in admin.get("/admin/penugasan/eskalasi").text
    for bad in ({"level": "3", "name": "x", "email": "x@kendarikota.go.id"},
                {"level": "1", "name": "", "email": "x@kendarikota.go.id"},
                {"level": "1", "name": "x", "email": "nope"},
                {"level": "1", "name": "x", "email": "x@kendarikota.go.id", "category": "volcano"},
                {"level": "1", "name": "x" * 1000, "email": "x@kendarikota.go.id"},
                {"level": "1", "name": "x", "email": "x@kendarikota.go.id", "phone": "<script>"}):
        assert post(admin, "/admin/penugasan/eskalasi", bad).status_code == 400
    assert post(admin, f"/admin/penugasan/eskalasi/{contact.id}", {"action": "deactivate"}).status_code == 302
    assert post(admin, f"/admin/penugasan/eskalasi/{contact.id}", {"action": "nonsense"}).status_code == 400
    assert post(admin, f"/admin/penugasan/eskalasi/{contact.id}", {"action": "delete"}).status_code == 302
    assert db.session.scalars(select(EscalationContact)).all() == []
    assert [len(audit(a)) for a in ("dispatch.escalation.create", "dispatch.escalation.update",
                                    "dispatch.escalation.delete")] == [1, 1, 1]


@pytest.mark.parametrize("role", ["operator", "agency", "police", "leadership"])
def test_only_admins(app: Flask, client: FlaskClient, role: str) -> None:
    login_as(client, role)
    assert client.get("/admin/penugasan/aturan").status_code == 403
    assert post(client, "/admin/penugasan/eskalasi", {"level": "1", "name": "x",
                                                     "email": "x@kendarikota.go.id"}).status_code == 403
