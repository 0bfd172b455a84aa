"""The audit log: a hash chain, append-only at the database, and ``pantau audit verify`` that finds an entry
edited, removed or inserted by direct SQL, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from portal.models import AuditEntry, db
from portal.models.audit import record, verify_chain
from tests.conftest import csrf_token, login_as, make_settings, migrated_app

PANTAU = str(Path(sys.executable).with_name("pantau"))
SQLITE_DROP = ("DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete")
PG_DROP = ("DROP TRIGGER audit_log_no_update_delete ON audit_log",)


def write_entries(n: int = 5) -> None:
    for i in range(n):
        record("camera.update", actor="tester", target_type="camera", target_id=i,
               before={"name": f"Kamera {i}"}, after={"name": f"Kamera {i}b"}, at=dt.datetime(2026, 1, 1))
    db.session.commit()


def verify_cli(database_url: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PANTAU_DATABASE_URL": database_url, "PANTAU_INSTANCE_PATH": str(tmp / "inst"),
           "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": "x"}
    return subprocess.run([PANTAU, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def audited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    application = migrated_app(make_settings(tmp_path, database_url=url))
    with application.app_context():
        write_entries()
        yield application, url
        db.session.remove()
        db.engine.dispose()


def _tamper(statements: tuple[str, ...], *sql: str) -> None:
    """What someone with the database's password could do: drop the guard, then edit."""
    db.session.rollback()  # our own reads must not hold locks the attacker's DROP TRIGGER waits for
    with db.engine.begin() as conn:
        for statement in (*statements, *sql):
            conn.execute(text(statement))


def _drops() -> tuple[str, ...]:
    return PG_DROP if db.engine.dialect.name == "postgresql" else SQLITE_DROP


def test_chain_links_every_entry(audited: tuple[Flask, str]) -> None:
    entries = db.session.query(AuditEntry).order_by(AuditEntry.seq).all()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "" and all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert verify_chain().ok


def test_pantau_audit_verify_catches_a_direct_sql_edit(audited: tuple[Flask, str], tmp_path: Path) -> None:
    intact = verify_cli(audited[1], tmp_path)
    assert intact.returncode == 0 and "intact: 5 entries" in intact.stdout
    _tamper(_drops(), "UPDATE audit_log SET target_id = '99' WHERE seq = 3")
    broken = verify_cli(audited[1], tmp_path)
    assert broken.returncode == 1 and "BROKEN" in broken.stderr and "seq 3 (id 3) was changed" in broken.stderr


def test_the_database_refuses_update_and_delete(audited: tuple[Flask, str]) -> None:
    for statement in ("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2",
                      "DELETE FROM audit_log WHERE seq = 3"):
        with pytest.raises(DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(statement))
    assert verify_chain().ok


@pytest.mark.parametrize("attack, found", [
    ("UPDATE audit_log SET detail = '{\"after\": {\"name\": \"forged\"}}' WHERE seq = 2", "seq 2 (id 2) was changed"),
    ("UPDATE audit_log SET at = at WHERE seq = 1", None),  # a no-op write changes nothing
    ("DELETE FROM audit_log WHERE seq = 3", "entries 3..3 are missing"),
    ("DELETE FROM audit_log WHERE seq = 5", "newest entries removed"),
    ("UPDATE audit_log SET actor = 'admin', hash = hash WHERE seq = 4", "seq 4 (id 4) was changed"),
])
def test_verify_catches_direct_sql(audited: tuple[Flask, str], attack: str, found: str | None) -> None:
    _tamper(_drops(), attack)
    db.session.expire_all()
    report = verify_chain()
    if found is None:
        assert report.ok
        return
    assert not report.ok and any(found in p for p in report.problems), report.problems


def test_verify_catches_a_forged_entry_with_a_recomputed_hash(audited: tuple[Flask, str]) -> None:
    """Rewriting an entry and its own hash still breaks the link from the next one."""
    from portal.models.audit import entry_hash

    entry = db.session.query(AuditEntry).filter_by(seq=2).one()
    forged = entry_hash(seq=2, prev_hash=entry.prev_hash, at=entry.at, actor_user_id=None, actor="someone",
                        action=entry.action, target_type=entry.target_type, target_id=entry.target_id,
                        detail=entry.detail, ip=entry.ip)
    _tamper(_drops(), f"UPDATE audit_log SET actor = 'someone', hash = '{forged}' WHERE seq = 2")
    db.session.expire_all()
    problems = verify_chain().problems
    assert problems == ["seq 3 (id 3) does not link to the entry before it"]


def test_record_fills_in_who_and_from_where(app: Flask) -> None:
    client = app.test_client()
    user = login_as(client, "admin", username="rina")
    response = client.get("/admin/audit?person=rina", headers={"X-Forwarded-For": "127.0.0.9"})
    assert response.status_code == 200
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.7"}):
        from flask_login import login_user

        from portal.models import User

        login_user(db.session.get(User, user.id))
        entry = record("camera.public", target_type="camera", target_id=7, before=False, after=True)
        assert (entry.actor, entry.actor_user_id, entry.ip) == ("rina", user.id, "127.0.0.7")
    outside = record("jobs.tick")
    assert (outside.actor, outside.ip) == ("system", None)
    db.session.commit()
    assert verify_chain().ok


def test_admins_search_and_export_the_log(app: Flask) -> None:
    write_entries(3)
    client = app.test_client()
    login_as(client, "admin")
    page = client.get("/admin/audit?action=camera.&target_id=1")
    assert page.status_code == 200 and "Kamera 1b" in page.text and "Kamera 2b" not in page.text
    fragment = client.get("/admin/audit?person=tester", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="audit-rows">') and "<html" not in fragment.text
    exported = client.get("/admin/audit.csv?action=camera.update")
    lines = exported.text.strip().splitlines()
    assert exported.headers["Content-Type"].startswith("text/csv") and len(lines) == 4
    assert lines[0].startswith("seq,at,actor")
    assert db.session.query(AuditEntry).filter_by(action="audit.export").count() == 1
    assert client.post("/admin/audit", headers={"X-CSRFToken": csrf_token(client)}).status_code == 405
