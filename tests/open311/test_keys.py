"""API keys for posting clients: the admin page and ``pantau open311 keys`` issue and revoke them, hashed at rest
and audited; the post limit answers 429 in the spec's shape."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from portal.cli import cli
from portal.models import AuditEntry, db
from portal.models.open311 import Open311Client
from tests.conftest import csrf_token, login_as
from tests.open311.conftest import report, start


def test_admin_page_issues_a_key_once_and_revokes_it(app: Flask) -> None:
    client = app.test_client()
    login_as(client, "admin")
    assert client.get("/admin/open311").status_code == 200
    # CSRF: a forged form is refused and issues nothing
    forged = client.post("/admin/open311", data={"name": "LaporKota"})
    assert forged.status_code in (200, 400) and db.session.scalar(select(Open311Client)) is None
    issued = client.post("/admin/open311", data={"name": "LaporKota", "contact": "dev@127.0.0.1",
                                                 "csrf_token": csrf_token(client)})
    assert issued.status_code == 200 and issued.headers["Cache-Control"] == "private, no-store"
    key = re.search(r'id="api-key">([^<]+)<', issued.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert key.startswith("pantau_o311_")
    row = db.session.scalar(select(Open311Client).where(Open311Client.name == "LaporKota"))
    assert row is not None and row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    listing = client.get("/admin/open311").get_data(as_text=True)
    assert "LaporKota" in listing and key not in listing and row.key_hint in listing  # shown once only
    again = client.post("/admin/open311", data={"name": "LaporKota", "csrf_token": csrf_token(client)})
    assert "revoke it first" in again.get_data(as_text=True) or "cabut dulu" in again.get_data(as_text=True)

    api = app.test_client()
    assert api.post("/open311/v2/requests.json", data=report(key)).status_code == 201
    revoked = client.post(f"/admin/open311/{row.id}/cabut", data={"csrf_token": csrf_token(client)})
    assert revoked.status_code == 302
    assert api.post("/open311/v2/requests.json", data=report(key)).status_code == 403
    db.session.expire_all()
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "open311_client")
                                 .order_by(AuditEntry.seq)).all()
    assert actions == ["open311.key.issue", "open311.key.revoke"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "open311.key.issue"))
    assert entry.actor_user_id is not None and key not in str(entry.detail)
    assert client.post(f"/admin/open311/{row.id}/cabut", data={}).status_code == 400  # no CSRF token
    assert client.post("/admin/open311/999/cabut", data={"csrf_token": csrf_token(client)}).status_code == 404


@pytest.mark.parametrize("role", ["operator", "leadership", "agency", "police"])
def test_only_admins_manage_keys(app: Flask, role: str) -> None:
    client = app.test_client()
    login_as(client, role)
    assert client.get("/admin/open311").status_code == 403
    assert client.post("/admin/open311", data={"name": "x", "csrf_token": csrf_token(client)}).status_code == 403


def test_cli_adds_lists_and_revokes_keys(tmp_path: Path) -> None:
    env = {"PANTAU_INSTANCE_PATH": str(tmp_path / "inst"), "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": "x"}

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    added = run("open311", "keys", "add", "Qlue Kendari", "--contact", "ops@127.0.0.1")
    assert added.exit_code == 0, added.output
    key = added.output.strip().splitlines()[-1]
    assert key.startswith("pantau_o311_") and len(key) > 40
    refused = run("open311", "keys", "add", "Qlue Kendari")
    assert refused.exit_code != 0 and "revoke it first" in refused.output
    listed = run("open311", "keys", "list")
    assert "Qlue Kendari" in listed.output and "active" in listed.output and key not in listed.output
    assert run("open311", "keys", "revoke", "Qlue Kendari").exit_code == 0
    assert "revoked" in run("open311", "keys", "list").output
    assert run("open311", "keys", "revoke", "nobody").exit_code != 0
    assert run("open311", "keys", "add", "").exit_code != 0
    again = run("open311", "keys", "add", "Qlue Kendari")  # a revoked client may get a new key
    assert again.exit_code == 0 and again.output.strip().splitlines()[-1] != key
    from portal.app import create_app
    from portal.settings import Settings

    app = create_app(Settings.from_env(env))
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "open311_client")
                                     .order_by(AuditEntry.seq)).all()
        assert [e.action for e in entries] == ["open311.key.issue", "open311.key.revoke", "open311.key.issue"]
        assert all(e.actor.startswith("cli:") for e in entries)
        stored = db.session.scalar(select(Open311Client))
        assert stored is not None and stored.key_hash != key and len(stored.key_hash or "") == 64
        db.engine.dispose()


def test_post_limit_answers_429_in_the_spec_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import portal.open311

    monkeypatch.setattr(portal.open311, "POST_LIMIT_PER_KEY", "3 per minute")
    server, stop = start(tmp_path)
    try:
        key = server.key()
        other = server.key("Other app")
        codes = [server.post("/open311/v2/requests.xml", report(key, description=f"Kebakaran nomor {i}")).status_code
                 for i in range(4)]
        assert codes == [201, 201, 201, 429]
        limited = server.post("/open311/v2/requests.xml", report(key))
        root = server.xml(limited)
        assert root.tag == "errors" and root.findtext("error/code") == "429"
        assert int(limited.headers["Retry-After"]) > 0
        assert server.post("/open311/v2/requests.json", report(other)).status_code == 201  # per key, not global
    finally:
        stop()
