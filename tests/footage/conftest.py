"""Footage fixtures: an app with the city's signing key, people of every role, recorded segments on disk and in
the index, and a stand-in sign-in until the accounts area is part of the app.

The stand-in (test only) is an identifier registered with the access policy: a request carrying
``X-Test-User: <user id>`` holds that user's role, and the footage pages see that user.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask, g, request
from flask.testing import FlaskClient

from portal.auth.policy import get_policy
from portal.footage import evidence
from portal.models import Agency, Camera, RecordingSegment, User, Worker, db
from tests.conftest import make_settings, migrated_app

HEADER = "X-Test-User"
COOKIE = "pantau_test_user"  # the same through nginx, whose access-check cache keys on cookies


def allow_test_sign_in(app: Flask) -> None:
    def identify() -> set[str]:
        raw = request.headers.get(HEADER) or request.cookies.get(COOKIE) or ""
        if not raw.isdigit():
            return set()
        user = db.session.get(User, int(raw))
        if user is None:
            return set()
        g.pantau_user = user
        return {user.role}

    get_policy(app).identify(identify)


def make_footage_app(tmp_path: Path, **overrides: object) -> Flask:
    settings = make_settings(tmp_path, **overrides)
    evidence.generate_key(settings.evidence_key_path)
    app = migrated_app(settings)
    allow_test_sign_in(app)
    return app


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[Flask]:
    application = make_footage_app(tmp_path)
    application.config["WTF_CSRF_ENABLED"] = False
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
    user.set_password(secrets.token_hex(8))
    db.session.add(user)
    db.session.commit()
    return user


class As:
    """A test client acting as one user (the stand-in sign-in)."""

    def __init__(self, client: FlaskClient, user: User) -> None:
        self.client, self.user_id = client, user.id

    def _headers(self, kwargs: dict[str, object]) -> dict[str, object]:
        # the fixture's outer app context is reused by every request, and Flask-Babel caches the locale on it
        if g:
            g.pop("_flask_babel", None)
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        headers[HEADER] = str(self.user_id)
        return headers

    def get(self, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.client.get(url, headers=self._headers(kwargs), **kwargs)

    def post(self, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.client.post(url, headers=self._headers(kwargs), **kwargs)


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


def as_user(app: Flask, user: User) -> As:
    return As(app.test_client(), user)


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
