"""``pantau agency token issue|list|revoke``: the token printed once, only its hash stored, both steps audited."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from portal.agency.cli import agency as group
from portal.models import AgencyToken, AuditEntry, db
from tests.agency.conftest import agency, dispatched


def test_issue_list_revoke_from_the_command_line(app: Flask) -> None:
    agency("damkar")
    _incident, [d] = dispatched("damkar")
    runner = app.test_cli_runner()
    issued = runner.invoke(group, args=["token", "issue", "damkar", "--name", "Server Damkar"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("pantau_a1_")
    row = db.session.scalars(select(AgencyToken)).one()
    assert row.token_hash != token and row.name == "Server Damkar"
    api = app.test_client()
    assert api.get("/api/agency/v1/dispatches", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listed = runner.invoke(group, args=["token", "list"])
    assert "Server Damkar" in listed.output and token not in listed.output
    assert runner.invoke(group, args=["token", "revoke", str(row.id)]).exit_code == 0
    assert api.get("/api/agency/v1/dispatches", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert runner.invoke(group, args=["token", "issue", "nobody", "--name", "x"]).exit_code != 0
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("agency.token%"))))
    assert actions == ["agency.token_issued", "agency.token_revoked"]
    assert all(token not in str(e.detail) for e in db.session.scalars(select(AuditEntry)))
