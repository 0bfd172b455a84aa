"""Deny by default: every endpoint of the app declares its roles, and one that declares nothing refuses everyone."""

from __future__ import annotations

from flask import Flask

from portal.auth.policy import ALL_ROLES, PUBLIC, allow, get_policy


def test_every_endpoint_declares_its_roles(app: Flask) -> None:
    policy = get_policy(app)
    missing = sorted(rule.endpoint for rule in app.url_map.iter_rules() if policy.roles_for(app, rule.endpoint) is None)
    assert not missing, f"endpoints without a declared policy (refused to everyone): {missing}"
    for rule in app.url_map.iter_rules():
        assert policy.roles_for(app, rule.endpoint) <= set(ALL_ROLES)  # type: ignore[operator]


def test_an_endpoint_without_a_policy_refuses_everyone(app: Flask) -> None:
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    app.add_url_rule("/declared", "declared", allow(PUBLIC)(lambda: "open"))
    client = app.test_client()
    response = client.get("/undeclared")
    assert response.status_code == 403 and b"secret" not in response.data
    assert client.get("/declared").data == b"open"


def test_a_staff_endpoint_refuses_the_public_with_401(app: Flask) -> None:
    app.add_url_rule("/staff-only", "staff_only", allow("admin")(lambda: "staff secret"))
    response = app.test_client().get("/staff-only")
    assert response.status_code == 401 and b"staff secret" not in response.data


def test_worker_api_without_a_credential_is_refused_in_json(app: Flask) -> None:
    response = app.test_client().post("/api/worker/v1/sync", json={})
    assert response.status_code == 401
    assert response.json == {"error": "unauthorized"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
