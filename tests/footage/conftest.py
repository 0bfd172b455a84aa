"""Footage fixtures: an app with the city's signing key, people of every role, signed in with real sessions (the
accounts area's Flask-Login cookie), and recorded segments in the index."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from portal.footage import evidence
from portal.models import Agency, Camera, RecordingSegment, User, Worker, db
from tests.conftest import STAFF_PASSWORD, make_settings, migrated_app


def make_footage_app(tmp_path: Path, **overrides: object) -> Flask:
    settings = make_settings(tmp_path, **overrides)
    evidence.generate_key(settings.evidence_key_path)
    return migrated_app(settings)


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[Flask]:
    application = make_footage_app(tmp_path)
    application.config["WTF_CSRF_ENABLED"] = False  # forms are posted by hand here; the browser test posts real ones
    # the fixture's app context outlives each request, and Flask-Babel caches the locale on it
    application.before_request(lambda: None if g.pop("_flask_babel", None) else None)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def make_user(role: str, username: str | None = None, agency: str | None = None) -> User:
    found = None
    if agency or role == "police":
        code = agency or "polresta"
        found = db.session.query(Agency).filter_by(code=code).first() or Agency(
            code=code, name="Polresta Kendari", kind="police")
    user = User(username=username or f"{role}-{secrets.token_hex(3)}", role=role, full_name=f"Uji {role}",
                agency=found)
    user.set_password(STAFF_PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


def sign_in(client: FlaskClient, user: User) -> FlaskClient:
    """This test client signed in as ``user`` (the session the sign-in page makes, without the form)."""
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session["since"] = session["seen"] = time.time()
        session.permanent = True
    return client


def session_cookie(app: Flask, user: User) -> str:
    """The signed session cookie of ``user`` signed in, for clients outside Flask (requests through nginx)."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    now = time.time()
    value = serializer.dumps({"_user_id": user.get_id(), "_fresh": True, "since": now, "seen": now})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


@dataclass
class People:
    police: User
    police2: User
    admin: User
    admin2: User


@pytest.fixture()
def people(app: Flask) -> People:
    return People(make_user("police", "bripka.andi"), make_user("police", "briptu.sari"),
                  make_user("admin", "admin.dina"), make_user("admin", "admin.rudi"))


def as_user(app: Flask, user: User) -> FlaskClient:
    return sign_in(app.test_client(), user)


def add_camera(**fields: object) -> Camera:
    values: dict[str, object] = {"name": "Kamera", "latitude": -3.97, "longitude": 122.51,
                                 "source_url": "rtsp://admin:s3cret@127.0.0.1:9/s1", "public": True,
                                 "enabled": True, "district": "Kadia"}
    values.update(fields)
    camera = Camera(**values)
    db.session.add(camera)
    db.session.commit()
    return camera


def add_worker(name: str = "w1") -> Worker:
    worker = Worker(name=name, version="0.1.0")
    db.session.add(worker)
    db.session.commit()
    return worker


def index_segments(camera: Camera, worker: Worker | None, start: dt.datetime, count: int, seconds: int = 10,
                   size: int = 1000, skip: tuple[int, ...] = ()) -> list[RecordingSegment]:
    """Index ``count`` consecutive segments (``skip`` leaves holes) without files."""
    rows = []
    for n in range(count):
        if n in skip:
            continue
        a = start + dt.timedelta(seconds=n * seconds)
        row = RecordingSegment(camera_id=camera.id, worker_id=worker.id if worker else None, start_at=a,
                               end_at=a + dt.timedelta(seconds=seconds), bytes=size, init_bytes=100,
                               path=f"recordings/{camera.id}/{a:%Y%m%d}/{a:%H%M%S}.mp4")
        db.session.add(row)
        rows.append(row)
    db.session.commit()
    return rows
