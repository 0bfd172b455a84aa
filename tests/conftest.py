"""Shared fixtures: a portal on a migrated SQLite database, and fresh PostgreSQL databases."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.models import Agency, Camera, User, db
from portal.settings import Settings
from tests.support import loopback

loopback.guard()  # no test sends a packet outside 127.0.0.0/8 (tests/support/loopback.py)
# A camera that is off: a closed port on 127.0.0.1 (nothing listens on the discard port here).
OFF_CAMERA = "rtsp://admin:s3cret@127.0.0.1:9/kadia-s1"


@sqlalchemy.event.listens_for(Camera, "before_insert")
@sqlalchemy.event.listens_for(Camera, "before_update")
def _cameras_stay_on_loopback(_mapper: object, _connection: object, camera: Camera) -> None:
    for url in (camera.source_url, camera.substream_url):
        if url and not loopback.is_loopback_url(url):
            raise loopback.LeftLoopback(f"a test camera must point at loopback, not {url.split('@')[-1]!r}")

PG_ADMIN_URL = os.environ.get("PANTAU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def make_settings(tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "instance_path": str(tmp / "instance"),
        "media_root": str(tmp / "media"),
        "secret_key": "test-secret",
        "tile_url": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png",
    }
    values.update(overrides)
    return Settings(**values).validated()  # type: ignore[arg-type]


_SQLITE_TEMPLATE: list[Path] = []  # one migrated SQLite file per test process, copied for each new database


def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    return Path(url.removeprefix("sqlite:///"))


def _migrated_sqlite_template() -> Path:
    """Running every migration takes 1.5 s or more on SQLite (batch table copies); hundreds of tests need a
    fresh database: they get a copy of one made once, by the same migrations. ``upgrade()`` still runs on the
    copy (a no-op at the head), and tests of the migrations themselves use their own paths."""
    if not _SQLITE_TEMPLATE:
        import tempfile

        from flask_migrate import upgrade

        folder = Path(tempfile.mkdtemp(prefix="pantau-sqlite-template-"))
        app = create_app(make_settings(folder))
        with app.app_context():
            upgrade()
            db.session.remove()
            db.engine.dispose()  # every connection closed: the file holds everything
        template = _sqlite_file(str(app.config["SQLALCHEMY_DATABASE_URI"]))
        assert template is not None and template.is_file()
        _SQLITE_TEMPLATE.append(template)
    return _SQLITE_TEMPLATE[0]


def migrated_app(settings: Settings) -> Flask:
    from flask_migrate import upgrade

    target = _sqlite_file(settings.database_url)
    if target is not None and not target.exists() and os.environ.get("PANTAU_TEST_MIGRATE_EACH") != "1":
        import shutil

        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_sqlite_template(), target)
    app = create_app(settings)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[Flask]:
    application = migrated_app(make_settings(tmp_path))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def add_camera(**fields: object) -> Camera:
    values: dict[str, object] = {
        "name": "Kamera", "latitude": -3.97, "longitude": 122.51, "source_url": OFF_CAMERA,
        "public": True, "enabled": True, "district": "Kadia", "category": "traffic",
    }
    values.update(fields)
    camera = Camera(**values)
    db.session.add(camera)
    db.session.commit()
    return camera


STAFF_PASSWORD = "pantau-uji-sandi-7"  # every user made by login_as/make_user has it


def make_user(role: str, *, username: str | None = None, agency: Agency | str | None = None,
              password: str = STAFF_PASSWORD, **fields: object) -> User:
    """A user of this role (agency and police users get an agency, made on first use, unless given).

    Needs an app context (the ``app`` fixture has one)."""
    if isinstance(agency, str) or (agency is None and role in ("agency", "police")):
        code = agency if isinstance(agency, str) else ("polda" if role == "police" else "dinkes")
        found = db.session.query(Agency).filter_by(code=code).first()
        agency = found or Agency(code=code, name=code.upper(), kind="police" if code == "polda" else "health")
    user = User(username=username or f"{role}-{secrets.token_hex(3)}", role=role, full_name=f"Uji {role}",
                agency=agency, **fields)  # type: ignore[arg-type]
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def login_as(client: FlaskClient, role: str, **fields: object) -> User:
    """Sign this test client in as a new user of ``role`` (no form, no second factor): returns the user.

    ``fields`` go to the user (``username=``, ``agency=`` an Agency or a code, ``active=`` ...)."""
    with client.application.app_context():
        user = make_user(role, **fields)
        user_id = user.get_id()
        db.session.expunge(user)
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = user_id
        session["_fresh"] = True
        session["since"] = session["seen"] = time.time()
        session.permanent = True
    return user


def csrf_token(client: FlaskClient) -> str:
    """A CSRF token valid for this client's session (send it as ``csrf_token`` or the X-CSRFToken header)."""
    from itsdangerous import URLSafeTimedSerializer

    app = client.application
    with client.session_transaction() as session:
        raw = session.setdefault("csrf_token", secrets.token_hex(20))
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    return str(URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw))
def issue_credential(name: str) -> str:
    """A new credential for worker ``name`` (``pantau workers add``), in the current app context."""
    from portal.workers import credentials

    credential = credentials.issue(name)
    db.session.commit()
    return credential


class WorkerAuth:
    """``auth("w1")``: request headers carrying worker w1's own credential (issued on first use)."""

    def __init__(self) -> None:
        self.credentials: dict[str, str] = {}

    def __call__(self, name: str = "w1") -> dict[str, str]:
        if name not in self.credentials:
            self.credentials[name] = issue_credential(name)
        return {"Authorization": f"Bearer {self.credentials[name]}"}


@pytest.fixture()
def worker_auth(app: Flask) -> WorkerAuth:
    return WorkerAuth()


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL is not reachable")
    name = "pantau_t_" + secrets.token_hex(4)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CHROMIUM = os.environ.get("PANTAU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Debian Chromium for the whole session (Playwright's sync API allows one driver at a time)."""
    from tests.support.tools import require_tool

    require_tool(CHROMIUM, reason="browser tests drive Debian's Chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("Python Playwright is required under CI=true")
        pytest.skip("Python Playwright is not installed")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app on SQLite, then on a fresh PostgreSQL database: for bounds that must hold on both."""
    overrides: dict[str, object] = {}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    application = migrated_app(make_settings(tmp_path, **overrides))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()
