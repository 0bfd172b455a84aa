"""Model rules: append-only records, settings that fail loudly, migrations on both databases."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal import create_app
from portal.models import AuditEntry, Incident, IncidentEvent, db
from portal.models.incident import ImmutableRecordError
from portal.settings import Settings, SettingsError

TABLES = {
    "cameras", "camera_status", "workers", "camera_leases", "recording_segments", "users", "agencies",
    "incidents", "incident_events", "routing_rules", "dispatches", "outbox", "footage_requests",
    "legal_holds", "audit_log",
}


def test_incident_events_and_audit_entries_are_append_only(app) -> None:  # type: ignore[no-untyped-def]
    incident = Incident(tracking_code="KDI-0001", category="fire")
    db.session.add(incident)
    db.session.flush()
    event = IncidentEvent(incident_id=incident.id, kind="created", data={"by": "web"})
    entry = AuditEntry(action="test")
    db.session.add_all([event, entry])
    db.session.commit()
    event.kind = "edited"
    with pytest.raises(ImmutableRecordError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(entry)
    with pytest.raises(ImmutableRecordError):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(IncidentEvent, event.id).kind == "created"


def test_production_needs_its_secrets() -> None:
    with pytest.raises(SettingsError, match="PANTAU_SECRET_KEY is required"):
        Settings.from_env({"PANTAU_ENV": "production"})
    with pytest.raises(SettingsError, match="PANTAU_LEASE_SECONDS must be a number"):
        Settings.from_env({"PANTAU_LEASE_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="PANTAU_PUBLIC_URL is required"):
        Settings.from_env({"PANTAU_ENV": "production", "PANTAU_SECRET_KEY": "k", "PANTAU_DATABASE_URL": "sqlite://"})
    ok = Settings.from_env({"PANTAU_ENV": "production", "PANTAU_SECRET_KEY": "k", "PANTAU_PUBLIC_URL": "https://x.id/",
                            "PANTAU_DATABASE_URL": "sqlite://", "PANTAU_SERVE_MEDIA": "no"})
    assert ok.serve_media is False and ok.env == "production" and ok.public_url == "https://x.id"
    for bad in ("ftp://x.id", "https://", "https://x.id/?q=1", "https://u:p@x.id", "x.id"):
        with pytest.raises(SettingsError, match="PANTAU_PUBLIC_URL must be"):
            Settings.from_env({"PANTAU_PUBLIC_URL": bad})
    with pytest.raises(SettingsError, match="PANTAU_METRICS_NETWORKS"):
        Settings.from_env({"PANTAU_METRICS_NETWORKS": "127.0.0.1/8, everywhere"})


@pytest.mark.postgres
def test_migrations_run_up_and_down_on_postgresql(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(env="test", instance_path=str(tmp_path), database_url=pg_url).validated()
    app = create_app(settings)
    with app.app_context():
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        downgrade(revision="base")
        assert not TABLES & set(inspect(db.engine).get_table_names())
        upgrade()
        db.engine.dispose()


def test_migrations_run_up_and_down_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(env="test", instance_path=str(tmp_path)).validated()
    app = create_app(settings)
    with app.app_context():
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        downgrade(revision="base")
        assert not TABLES & set(inspect(db.engine).get_table_names())
        db.engine.dispose()
