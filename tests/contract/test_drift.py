"""The two planes agree: every value both the portal and the transcoder use comes from ``contract``, and what
each side actually sends or accepts matches it. A change on one side only fails here."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from contract import media, redaction, worker_api
from contract import status as contract_status
from portal.models.camera import STATUSES
from portal.public.catalogue import STATUS_LABELS
from portal.settings import Settings
from portal.workers import api as portal_api
from tests.conftest import WorkerAuth, add_camera
from tests.transcoder.fakes import Factory
from transcoder import redact as transcoder_redact
from transcoder.camera import State
from transcoder.config import WorkerConfig
from transcoder.ffmpeg import CameraSpec, OutputSettings
from transcoder.worker import Worker


def test_status_codes_and_states() -> None:
    assert tuple(s.value for s in State) == contract_status.WORKER_STATES
    assert portal_api.STATUS_VALUES == set(contract_status.REPORTED_STATUSES)
    assert STATUSES == contract_status.STATUSES
    assert set(STATUS_LABELS) == set(contract_status.STATUSES), "the portal has a label for every status"
    for reason, (status, message) in contract_status.REASONS.items():
        assert status in contract_status.REPORTED_STATUSES and message and len(reason) <= 16


def test_media_defaults_and_settings() -> None:
    portal, worker = Settings(), OutputSettings()
    for name in ("segment_seconds", "hls_list_size", "record_segment_seconds", "snapshot_interval_s"):
        assert getattr(portal, name) == getattr(worker, name) == getattr(media, name.upper()), name
    assert {f.name for f in dataclasses.fields(OutputSettings)} == set(worker_api.OUTPUT_SETTINGS)
    assert {f.name for f in dataclasses.fields(CameraSpec)} == set(worker_api.CAMERA_FIELDS) - set(
        worker_api.CAMERA_MARKER_FIELDS)
    assert (portal.sync_interval_s, portal.lease_seconds) == (worker_api.SYNC_INTERVAL_S, worker_api.LEASE_SECONDS)
    assert WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "t"}).lease_grace_s == worker_api.LEASE_GRACE_S


def test_both_planes_redact_with_the_shared_patterns() -> None:
    from portal import secret

    assert secret.redact_text is redaction.redact_text and secret.redact_url is redaction.redact_url
    line = "rtsp://admin:hunter22@127.0.0.1/s?token=abc"
    assert transcoder_redact.redact(line) == secret.redact_text(line) == "rtsp://***@127.0.0.1/s?token=***"


@pytest.fixture()
def reply(app: Flask, worker_auth: WorkerAuth) -> dict[str, Any]:
    with app.app_context():
        add_camera(name="C", source_url="rtsp://u:p@127.0.0.1:9/s")
    response = app.test_client().post(worker_api.SYNC_PATH, json={"worker": {"name": "w"}}, headers=worker_auth("w"))
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def test_what_the_portal_sends_is_what_the_worker_reads(reply: dict[str, Any]) -> None:
    assert reply["api_version"] == worker_api.API_VERSION
    assert set(reply["settings"]) == set(worker_api.OUTPUT_SETTINGS)
    assert set(reply["cameras"][0]) == set(worker_api.CAMERA_FIELDS)
    CameraSpec.from_api(reply["cameras"][0])
    assert OutputSettings.from_api(reply["settings"]) == OutputSettings(
        **{k: v for k, v in reply["settings"].items()})


def test_what_the_worker_reports_is_what_the_portal_reads(app: Flask, reply: dict[str, Any], tmp_path: Path,
                                                         worker_auth: WorkerAuth) -> None:
    config = WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "t", "PANTAU_MEDIA_ROOT": str(tmp_path),
                                    "PANTAU_WORKER_METRICS": "off"})

    class Client:
        def sync(self, body: dict[str, Any]) -> dict[str, Any]:
            return reply

    worker = Worker(config, client=Client(), factory=Factory(), ffmpeg="ffmpeg")  # type: ignore[arg-type]
    try:
        worker.apply_assignment(reply, 0.0)
        worker.tick(0.1)
        body = worker.body(0.2)
    finally:
        worker._pool.shutdown(wait=True)
        worker._sync_pool.shutdown(wait=True)
    assert set(body["cameras"][0]) == set(worker_api.STATUS_FIELDS)
    response = app.test_client().post(worker_api.SYNC_PATH, json=body, headers=worker_auth("w"))
    assert response.status_code == 200, response.get_json()


def test_the_portal_has_a_message_for_every_reason_and_it_is_the_contracts() -> None:
    from portal.public.catalogue import REASON_MESSAGES

    assert set(REASON_MESSAGES) == set(contract_status.REASONS)
    for reason, (_, english) in contract_status.REASONS.items():
        assert REASON_MESSAGES[reason]._args[0] == english, reason  # the lazy string's msgid


def test_the_public_flag_the_portal_sends_is_the_marker_the_worker_keeps(app: Flask, tmp_path: Path,
                                                                       worker_auth: WorkerAuth) -> None:
    """The portal's ``public`` (its one rule for what the public sees) reaches the worker, which keeps or removes
    contract.media.PUBLIC_MARKER where nginx looks for it (hls/<key>/, the same name in both templates)."""
    from portal.models import Camera, db

    with app.app_context():
        shown = add_camera(name="Shown", public=True)
        hidden = add_camera(name="Hidden", public=False)
        keys = {shown.id: shown.media_key, hidden.id: hidden.media_key}
    client = app.test_client()

    def reply() -> dict[str, Any]:
        response = client.post(worker_api.SYNC_PATH, json={"worker": {"name": "w"}}, headers=worker_auth("w"))
        assert response.status_code == 200
        return response.get_json()  # type: ignore[no-any-return]

    first = reply()
    assert {c["id"]: c["public"] for c in first["cameras"]} == {shown.id: True, hidden.id: False}
    config = WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "t", "PANTAU_MEDIA_ROOT": str(tmp_path),
                                    "PANTAU_WORKER_METRICS": "off"})
    worker = Worker(config, client=None, factory=Factory(), ffmpeg="ffmpeg")  # type: ignore[arg-type]
    try:
        worker.apply_assignment(first, 0.0)
        marker = {cid: tmp_path / "hls" / key / media.PUBLIC_MARKER for cid, key in keys.items()}
        assert marker[shown.id].is_file() and not marker[hidden.id].exists()
        with app.app_context():
            db.session.get(Camera, shown.id).public = False
            db.session.commit()
        worker.apply_assignment(reply(), 1.0)
        assert not marker[shown.id].exists()
    finally:
        worker._pool.shutdown(wait=True)
        worker._sync_pool.shutdown(wait=True)
    for template in ("pantau.conf.template", "media-node.conf.template"):
        text = (Path(__file__).parents[2] / "nginx" / template).read_text()
        assert f"if (!-f ${{MEDIA_ROOT}}/hls/$media_key/{media.PUBLIC_MARKER})" in text, template
