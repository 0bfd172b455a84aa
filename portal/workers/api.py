"""The worker API, version 1 (documented in docs/worker-api.md): one sync call per worker interval.

Each worker carries its own credential (``pantau workers add NAME``); the request speaks for that worker
only. Bodies are checked whole by ``portal.workers.payload`` before anything is stored.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from sqlalchemy import and_, delete, or_, select, update

from contract import worker_api
from contract.limits import MAX_SYNC_BODY_BYTES
from portal import bounds, networks
from portal.auth.policy import WORKER, Policy
from portal.bounds import InputError
from portal.footage import sync as footage_sync
from portal.models import CameraEvent, CameraLease, CameraStatus, RecordingSegment, Worker, db, utcnow
from portal.settings import Settings
from portal.workers import credentials, payload
from portal.workers.leases import assign, bridge_outage, held_within, release, upsert_worker
from portal.workers.payload import Segment

API_VERSION = worker_api.API_VERSION
STATUS_VALUES = payload.STATUS_VALUES
log = logging.getLogger("pantau.worker_api")
bp = Blueprint("worker_api", __name__, url_prefix=worker_api.BASE_PATH)


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def identify_worker() -> set[str]:
    """A request bearing a worker's own valid credential, from an allowed network, holds the ``worker`` role;
    ``current_worker()`` is then that worker (registered with the access policy)."""
    if request.blueprint != bp.name or not networks.client_in(_settings().worker_network_list):
        return set()
    worker = credentials.worker_for(_bearer())
    if worker is None:
        return set()
    g.pantau_worker = worker
    return {WORKER}


def current_worker() -> Worker:
    return g.pantau_worker  # type: ignore[no-any-return]


def refuse(_signed_in: bool) -> ResponseReturnValue:
    if not networks.client_in(_settings().worker_network_list):
        log.warning("worker API: refused a request from %s (not a worker network)", request.remote_addr)
        return jsonify(error="forbidden"), 403
    log.warning("worker API: refused a request without a valid credential from %s", request.remote_addr)
    return jsonify(error="unauthorized"), 401, {"WWW-Authenticate": 'Bearer realm="pantau-worker"'}


def init_policy(policy: Policy) -> None:
    policy.allow_blueprint(bp.name, WORKER)
    policy.identify(identify_worker)
    policy.on_denied(bp.name, refuse)


@bp.before_request
def _limit_body() -> None:
    request.max_content_length = MAX_SYNC_BODY_BYTES


@bp.errorhandler(InputError)
def _bad_payload(exc: InputError) -> ResponseReturnValue:
    db.session.rollback()
    with force_locale("en"):  # a machine API: its errors are read in logs, in English like its documentation
        detail = str(exc)
    return jsonify(error="bad_request", detail=detail), 400


@bp.get("/ping")
def ping() -> ResponseReturnValue:
    return jsonify(api_version=API_VERSION, worker=current_worker().name)


@bp.post("/sync")
def sync() -> ResponseReturnValue:
    body = bounds.read_json(request)
    worker = current_worker()
    checked = payload.sync_request(body, worker.name, _settings().media_origin_list)
    footage_reports = footage_sync.check(body)
    claimed = payload.claimed_name(body)
    if claimed is not None and claimed.strip() != worker.name:
        log.warning("worker API: the credential of worker %r was used by a worker calling itself %r",
                    worker.name, claimed[:120])
    settings = _settings()
    now = utcnow()

    gap = bridge_outage(now, quiet_s=max(3 * settings.sync_interval_s, settings.lease_seconds / 2))
    if gap is not None:
        log.warning("no worker synced for %.0f s (the portal or its database was down): leases extended by that",
                    gap.total_seconds())
    worker = upsert_worker(checked.worker, now)
    if checked.worker.leaving:
        return _leave(worker, checked, now)
    live = {item["camera_id"] for item in checked.statuses if item["status"] == "online"}
    assignment = assign(worker, now, settings.lease_seconds, live)
    cameras, expires, leased = assignment.run, assignment.expires, assignment.held
    for item in checked.statuses:
        _store_status(worker, item, leased, now)
    stored, refused = _store_segments(worker, checked.segments, leased)
    _mark_deleted(worker, checked.deleted, leased)
    footage = footage_sync.exchange(worker, footage_reports, leased, now)
    db.session.commit()
    return jsonify(
        api_version=API_VERSION,
        worker_id=worker.id,
        worker_name=worker.name,
        sync_interval_s=settings.sync_interval_s,
        lease_seconds=settings.lease_seconds,
        lease_expires_at=expires.isoformat(),
        settings={name: getattr(settings, name) for name in worker_api.OUTPUT_SETTINGS},
        cameras=[
            {
                "id": c.id,
                "key": c.media_key,
                "source_url": c.source_url,
                "substream_url": c.substream_url,
                "recording": c.recording,
                "audio": c.audio,
                "retention_days": c.retention_days,
                "public": c.publicly_visible,  # the worker keeps hls/<key>/.public for nginx (signed links)
            }
            for c in cameras
        ],
        acknowledged_segments=stored,
        refused_segments=refused,
        **footage,
    )


def _leave(worker: Worker, checked: payload.SyncRequest, now: dt.datetime) -> ResponseReturnValue:
    """The worker is going away (``worker.leaving``): index what it carries, then free its cameras at once."""
    leased = set(db.session.scalars(select(CameraLease.camera_id).where(CameraLease.worker_id == worker.id)))
    stored, refused = _store_segments(worker, checked.segments, leased)
    _mark_deleted(worker, checked.deleted, leased)
    released = release(worker, now)
    db.session.commit()
    log.info("worker %s left: %d cameras released for the other workers", worker.name, len(released))
    return jsonify(api_version=API_VERSION, worker_id=worker.id, worker_name=worker.name,
                   sync_interval_s=_settings().sync_interval_s, lease_seconds=_settings().lease_seconds,
                   lease_expires_at=now.isoformat(),
                   settings={name: getattr(_settings(), name) for name in worker_api.OUTPUT_SETTINGS},
                   cameras=[], acknowledged_segments=stored, refused_segments=refused, released=len(released))


def _store_status(worker: Worker, values: dict[str, Any], leased: set[int], now: dt.datetime) -> None:
    camera_id = values["camera_id"]
    if camera_id not in leased:
        return
    row = db.session.get(CameraStatus, camera_id)
    note_history(camera_id, worker.id, row, values, now)
    row = row or CameraStatus(camera_id=camera_id)
    db.session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.worker_id = worker.id
    row.updated_at = now
    if values["status"] == "online":
        row.last_online_at = now


HISTORY_DAYS = 14
DOWN = frozenset(payload.STATUS_VALUES) - {"online", "starting"}


def note_history(camera_id: int, worker_id: int, before: CameraStatus | None, values: dict[str, Any],
                 now: dt.datetime) -> None:
    """A camera's history for the health page: outages (down, up), restarts and new errors (already redacted)."""
    was = before.status if before is not None else None
    status = values["status"]
    events = []
    error = values.get("error")
    if was == "online" and status in DOWN:
        events.append(CameraEvent(kind="down", status=status, detail=error))
    elif was in DOWN and status == "online":
        events.append(CameraEvent(kind="up", status=status))
    elif status in DOWN and error and (before is None or before.error != error):
        events.append(CameraEvent(kind="error", status=status, detail=error))
    restarts = values.get("restarts_last_hour") or 0
    if before is not None and restarts > (before.restarts_last_hour or 0):
        events.append(CameraEvent(kind="restart", status=status,
                                  detail=str(restarts - (before.restarts_last_hour or 0))))
    if not events:
        return
    for event in events:
        event.camera_id, event.worker_id, event.at = camera_id, worker_id, now
        db.session.add(event)
    db.session.execute(delete(CameraEvent).where(CameraEvent.camera_id == camera_id,
                                                 CameraEvent.at < now - dt.timedelta(days=HISTORY_DAYS)))


def _store_segments(worker: Worker, parsed: list[Segment], leased: set[int]) -> tuple[int, int]:
    """Index the segments of cameras this worker holds now, and of cameras that moved away that it recorded while
    it held them (``contract.worker_api.HANDOVER_SLACK_S``); returns (stored, refused)."""
    mine = [p for p in parsed if p.camera_id in leased] + _continuations(worker, [p for p in parsed
                                                                              if p.camera_id not in leased])
    refused = len(parsed) - len(mine)
    if refused:
        log.warning("worker API: %s reported %d segments of cameras it does not hold; ignored", worker.name, refused)
    if not mine:
        return 0, refused
    existing: set[tuple[int, str]] = set(
        (row[0], row[1]) for row in db.session.execute(
            select(RecordingSegment.camera_id, RecordingSegment.path).where(
                RecordingSegment.camera_id.in_({p.camera_id for p in mine}),
                RecordingSegment.path.in_([p.path for p in mine]),
            )
        )
    )
    stored = 0
    for seg in mine:
        if (seg.camera_id, seg.path) in existing:
            continue
        existing.add((seg.camera_id, seg.path))
        db.session.add(RecordingSegment(
            camera_id=seg.camera_id, worker_id=worker.id, path=seg.path, start_at=seg.start, end_at=seg.end,
            bytes=seg.bytes, init_bytes=seg.init_bytes,
        ))
        stored += 1
    return stored, refused


def _continuations(worker: Worker, parsed: list[Segment]) -> list[Segment]:
    """Segments of cameras this worker no longer holds that began while it held them (the last segment of an
    ffmpeg stopped because its camera moved, what a killed worker's ffmpeg left): anything else stays refused."""
    if not parsed:
        return []
    spans = held_within(worker, {p.camera_id for p in parsed})
    slack = dt.timedelta(seconds=worker_api.HANDOVER_SLACK_S)
    return [p for p in parsed if any(held - slack <= p.start <= released + slack
                                     for held, released in spans.get(p.camera_id, []))]


def _mark_deleted(worker: Worker, paths: list[str], leased: set[int]) -> None:
    """Only segments this worker recorded (they are on its disk) can be reported deleted by it; a segment whose
    recorder is unknown (its worker row is gone) only by the worker that leases its camera now."""
    if not paths:
        return
    mine = RecordingSegment.worker_id == worker.id
    if leased:
        mine = or_(mine, and_(RecordingSegment.worker_id.is_(None), RecordingSegment.camera_id.in_(leased)))
    db.session.execute(
        update(RecordingSegment)
        .where(mine, RecordingSegment.path.in_(paths), RecordingSegment.deleted_at.is_(None))
        .values(deleted_at=utcnow())
        .execution_options(synchronize_session=False)
    )

