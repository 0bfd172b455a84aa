"""Statuses an operator can act on: stored with their reason and technical line, shown in both languages, and the
database refuses statuses and reasons outside contract.status."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError

from portal.health.views import summary
from portal.models import CameraStatus, db
from tests.conftest import WorkerAuth, add_camera

_auth = WorkerAuth()


@pytest.fixture(autouse=True)
def _fresh_credentials(app: Flask) -> None:
    _auth.credentials.clear()


def report(client: FlaskClient, camera_id: int, **fields: object) -> None:
    body = {"worker": {"name": "w1"}, "cameras": [{"id": camera_id, **fields}]}
    client.post("/api/worker/v1/sync", json=body, headers=_auth())  # the first sync takes the lease
    assert client.post("/api/worker/v1/sync", json=body, headers=_auth()).status_code == 200


def test_auth_failed_is_stored_with_its_reason_and_shown_in_both_languages(app: Flask, client: FlaskClient) -> None:
    cam = add_camera(name="Pasar")
    line = "ffmpeg exited with code 1: [rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized"
    report(client, cam.id, status="auth_failed", reason="auth", state="backoff", error=line)
    row = db.session.get(CameraStatus, cam.id)
    assert (row.status, row.reason, row.error) == ("auth_failed", "auth", line)
    with app.test_request_context():
        with force_locale("id"):
            problem = summary()["cameras"]["problems"][0]
            assert problem["message"] == "Kamera menolak nama pengguna atau kata sandi."
        with force_locale("en"):
            problem = summary()["cameras"]["problems"][0]
            assert problem["message"] == "The camera refused the user name or password."
    assert (problem["status"], problem["reason"], problem["error"]) == ("auth_failed", "auth", line)
    with app.test_request_context():
        assert summary()["cameras"]["by_status"] == {"auth_failed": 1}


def test_online_clears_the_reason_and_unknown_reasons_are_errors(client: FlaskClient) -> None:
    cam = add_camera()
    report(client, cam.id, status="offline", reason="brand_new_reason")
    assert db.session.get(CameraStatus, cam.id).reason == "ffmpeg"
    report(client, cam.id, status="online", reason="stalled")
    assert db.session.get(CameraStatus, cam.id).reason is None
    response = client.post("/api/worker/v1/sync", json={"worker": {"name": "w1"},
                                                        "cameras": [{"id": cam.id, "status": "sleeping"}]},
                           headers=_auth())
    assert response.status_code == 400


@pytest.mark.parametrize("values", [{"status": "sleeping"}, {"status": "offline", "reason": "bored"}])
def test_the_database_refuses_unknown_statuses_and_reasons(app: Flask, values: dict[str, str]) -> None:
    cam = add_camera()
    db.session.add(CameraStatus(camera_id=cam.id, **values))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
