"""The worker API, version 1 (documented in docs/worker-api.md): one sync call per worker interval."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import delete, or_, select

from portal.auth.policy import WORKER, Policy
from portal.models import Camera, CameraEvent, CameraStatus, LegalHold, RecordingSegment, Worker, db, utcnow
from portal.payload import PayloadError, parse_time, want
from portal.secret import redact_text, tokens_equal
from portal.settings import Settings
from portal.workers.leases import WorkerInfo, assign, upsert_worker

API_VERSION = 1
STATUS_VALUES = {"online", "starting", "offline", "error"}
log = logging.getLogger("pantau.worker_api")
bp = Blueprint("worker_api", __name__, url_prefix="/api/worker/v1")


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def identify_worker() -> set[str]:
    """A request bearing the worker token holds the ``worker`` role (registered with the access policy)."""
    if request.blueprint != bp.name:
        return set()
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return {WORKER} if tokens_equal(token, _settings().worker_token) else set()


def refuse(_signed_in: bool) -> ResponseReturnValue:
    log.warning("worker API: refused a request without a valid token from %s", request.remote_addr)
    return jsonify(error="unauthorized"), 401, {"WWW-Authenticate": 'Bearer realm="pantau-worker"'}


def init_policy(policy: Policy) -> None:
    policy.allow_blueprint(bp.name, WORKER)
    policy.identify(identify_worker)
    policy.on_denied(bp.name, refuse)


@bp.errorhandler(PayloadError)
def _bad_payload(exc: PayloadError) -> ResponseReturnValue:
    db.session.rollback()
    return jsonify(error="bad_request", detail=str(exc)), 400


@bp.get("/ping")
def ping() -> ResponseReturnValue:
    return jsonify(api_version=API_VERSION)


@bp.post("/sync")
def sync() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    info = _worker_info(want(body, "worker", dict))
    statuses = want(body, "cameras", list, default=[])
    segments = want(body, "segments", list, default=[])
    deleted = want(body, "deleted_segments", list, default=[])
    settings = _settings()
    now = utcnow()

    checked_statuses = [_check_status(want_obj(item)) for item in statuses]
    checked_segments = [_check_segment(want_obj(item)) for item in segments]

    worker = upsert_worker(info, now)
    cameras, expires = assign(worker, now, settings.lease_seconds)
    leased = {c.id for c in cameras}
    for item in checked_statuses:
        _store_status(worker, item, leased, now)
    stored = _store_segments(worker, checked_segments)
    _mark_deleted(deleted)
    held = _held_paths(worker.id, leased)
    db.session.commit()
    return jsonify(
        api_version=API_VERSION,
        worker_id=worker.id,
        sync_interval_s=settings.sync_interval_s,
        lease_seconds=settings.lease_seconds,
        lease_expires_at=expires.isoformat(),
        settings={
            "segment_seconds": settings.segment_seconds,
            "hls_list_size": settings.hls_list_size,
            "record_segment_seconds": settings.record_segment_seconds,
            "snapshot_interval_s": settings.snapshot_interval_s,
            "allow_file_sources": settings.allow_file_sources,
        },
        cameras=[
            {
                "id": c.id,
                "key": c.media_key,
                "source_url": c.source_url,
                "substream_url": c.substream_url,
                "recording": c.recording,
                "audio": c.audio,
                "retention_days": c.retention_days,
            }
            for c in cameras
        ],
        held_segments=held,
        acknowledged_segments=stored,
    )


def want_obj(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise PayloadError("each entry must be an object")
    return item


def _worker_info(raw: dict[str, Any]) -> WorkerInfo:
    name = want(raw, "name", str)
    if not name.strip() or len(name) > 120:
        raise PayloadError("worker.name must be 1 to 120 characters")
    return WorkerInfo(
        name=name.strip(),
        hostname=want(raw, "hostname", str, default=""),
        version=want(raw, "version", str, default=""),
        capacity=want(raw, "capacity", int, default=200),
        disk_free_bytes=want(raw, "disk_free_bytes", int, default=None),
        disk_total_bytes=want(raw, "disk_total_bytes", int, default=None),
        disk_guard_active=want(raw, "disk_guard_active", bool, default=False),
        health=_small_json(want(raw, "health", dict, default=None)),
    )


def _small_json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value)) > 20000:
        raise PayloadError("worker.health is too large")
    return value


def _check_status(item: dict[str, Any]) -> dict[str, Any]:
    """Validate one camera's status and return the column values (secrets redacted)."""
    status_value = want(item, "status", str)
    if status_value not in STATUS_VALUES:
        raise PayloadError(f"status must be one of {sorted(STATUS_VALUES)}")
    tail = want(item, "stderr_tail", list, default=None)
    error = want(item, "error", str, default=None)
    codec = want(item, "codec", str, default=None)
    last = want(item, "last_segment_at", str, default=None)
    return {
        "camera_id": want(item, "id", int),
        "status": status_value,
        "state": want(item, "state", str, default="running")[:16],
        "error": redact_text(error)[:2000] if error else None,
        "stderr_tail": json.dumps([redact_text(str(line))[:500] for line in tail[-20:]]) if tail else None,
        "bitrate_kbps": want(item, "bitrate_kbps", float, default=None),
        "fps": want(item, "fps", float, default=None),
        "codec": codec[:16] if codec else None,
        "width": want(item, "width", int, default=None),
        "height": want(item, "height", int, default=None),
        "last_segment_at": parse_time(last) if last else None,
        "restarts_last_hour": want(item, "restarts_last_hour", int, default=0),
    }


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


def note_history(camera_id: int, worker_id: int, before: CameraStatus | None, values: dict[str, Any],
                 now: dt.datetime) -> None:
    """A camera's history for the health page: outages (down, up), restarts and new errors (already redacted)."""
    was = before.status if before is not None else None
    status = values["status"]
    events = []
    if was == "online" and status in ("offline", "error"):
        events.append(CameraEvent(kind="down", status=status, detail=values["error"]))
    elif was in ("offline", "error") and status == "online":
        events.append(CameraEvent(kind="up", status=status))
    elif status == "error" and values["error"] and (before is None or before.error != values["error"]):
        events.append(CameraEvent(kind="error", status=status, detail=values["error"]))
    restarts = values["restarts_last_hour"] or 0
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


Segment = tuple[int, str, dt.datetime, dt.datetime, int]


def _check_segment(item: dict[str, Any]) -> Segment:
    path = want(item, "path", str)
    if path.startswith("/") or ".." in path.split("/") or len(path) > 500:
        raise PayloadError("segment paths are relative to the media root")
    start, end = parse_time(want(item, "start", str)), parse_time(want(item, "end", str))
    if end < start:
        raise PayloadError("a segment cannot end before it starts")
    size = want(item, "bytes", int)
    if size < 0:
        raise PayloadError("bytes cannot be negative")
    return want(item, "camera_id", int), path, start, end, size


def _store_segments(worker: Worker, parsed: list[Segment]) -> int:
    if not parsed:
        return 0
    camera_ids = {p[0] for p in parsed}
    known = set(db.session.scalars(select(Camera.id).where(Camera.id.in_(camera_ids))))
    existing: set[tuple[int, str]] = set(
        (row[0], row[1]) for row in db.session.execute(
            select(RecordingSegment.camera_id, RecordingSegment.path).where(
                RecordingSegment.camera_id.in_(camera_ids), RecordingSegment.path.in_([p[1] for p in parsed])
            )
        )
    )
    stored = 0
    for camera_id, path, start, end, size in parsed:
        if camera_id not in known or (camera_id, path) in existing:
            continue
        existing.add((camera_id, path))
        db.session.add(RecordingSegment(
            camera_id=camera_id, worker_id=worker.id, path=path, start_at=start, end_at=end, bytes=size,
        ))
        stored += 1
    return stored


def _mark_deleted(paths: list[Any]) -> None:
    names = [p for p in paths if isinstance(p, str)]
    if not names:
        return
    now = utcnow()
    for segment in db.session.scalars(select(RecordingSegment).where(RecordingSegment.path.in_(names))):
        segment.deleted_at = segment.deleted_at or now


def _held_paths(worker_id: int, camera_ids: set[int]) -> list[str]:
    """Held segments of the cameras this worker runs, and of any camera whose segments it recorded (an archived
    camera, or one that moved to another worker, keeps its footage on this worker's disk)."""
    query = (
        select(RecordingSegment.path)
        .join(LegalHold, LegalHold.camera_id == RecordingSegment.camera_id)
        .where(
            or_(RecordingSegment.camera_id.in_(camera_ids), RecordingSegment.worker_id == worker_id),
            RecordingSegment.deleted_at.is_(None),
            LegalHold.released_at.is_(None),
            RecordingSegment.start_at < LegalHold.end_at,
            RecordingSegment.end_at > LegalHold.start_at,
        )
        .distinct()
    )
    return sorted(db.session.scalars(query))
