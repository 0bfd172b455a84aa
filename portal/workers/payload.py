"""Every check of a worker API request body, in one place (the bounds are in ``contract.limits``).

A sync body becomes a :class:`SyncRequest` of clean values or raises :class:`portal.bounds.InputError`
(400); nothing is stored before the whole body passed. To accept a new field or status, extend the tables
here (``STATUS_VALUES``, ``STATES``, ``camera_status``); the API module only stores what this returns.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

from contract import limits
from contract import media as media_contract
from contract import status as contract_status
from portal import bounds
from portal.bounds import INT32_MAX, INT64_MAX, InputError
from portal.secret import redact_text
from portal.workers.leases import WorkerInfo

# What the public sees of a camera, and the worker's supervisor states (docs/worker-api.md).
STATUS_VALUES = frozenset(contract_status.REPORTED_STATUSES)
STATES = frozenset(contract_status.WORKER_STATES)
MAX_CAPACITY = 100_000
MAX_SEGMENT_SPAN = dt.timedelta(days=1)
MAX_INIT_BYTES = 1 << 20
# recordings/<camera id>/... : plain names, no '..', no backslash, no empty parts.
_SEGMENT_PATH = re.compile(r"recordings/(?P<camera>[0-9]{1,10})(?:/[A-Za-z0-9_.-]{1,100}){1,4}")
STORED_ERROR_CHARS = 2000
STORED_STDERR_LINES = 20
STORED_STDERR_LINE_CHARS = 500


@dataclass(frozen=True)
class Segment:
    camera_id: int
    path: str
    start: dt.datetime
    end: dt.datetime
    bytes: int
    init_bytes: int | None = None  # the fragmented MP4's head, for archive playback (None: unknown)


@dataclass(frozen=True)
class SyncRequest:
    worker: WorkerInfo
    statuses: list[dict[str, Any]] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def sync_request(body: Any, worker_name: str, media_origins: tuple[str, ...] = ()) -> SyncRequest:
    """Check a whole sync body. ``worker_name`` is the name the credential belongs to: the body's own
    ``worker.name`` is only a label the worker was configured with, never who it speaks for. ``media_origins``:
    the origins a ``worker.media_url`` may name (PANTAU_MEDIA_ORIGINS)."""
    body = bounds.mapping(body, "body")
    raw = bounds.mapping(body.get("worker"), "worker", default={})
    return SyncRequest(
        worker=worker_info(raw, worker_name, media_origins),
        statuses=bounds.items(body.get("cameras"), "cameras", max_items=limits.MAX_SYNC_CAMERAS,
                              each=camera_status, default=[]),
        segments=bounds.items(body.get("segments"), "segments", max_items=limits.MAX_SYNC_SEGMENTS,
                              each=segment, default=[]),
        deleted=bounds.items(body.get("deleted_segments"), "deleted_segments", max_items=limits.MAX_SYNC_DELETED,
                             each=segment_path, default=[]),
    )


def claimed_name(body: Any) -> str | None:
    """The name a sync body says it comes from, if it says one (for a warning when it differs)."""
    worker = body.get("worker") if isinstance(body, dict) else None
    name = worker.get("name") if isinstance(worker, dict) else None
    return name if isinstance(name, str) and len(name) <= 120 else None


def media_url(value: Any, allowed: tuple[str, ...]) -> str | None:
    """The node's public media address, normalized; None (the portal's own /media) when absent or empty."""
    text = bounds.text(value, "worker.media_url", max_len=media_contract.MEDIA_URL_MAX_CHARS, default=None)
    if not text:
        return None
    try:
        url = media_contract.normalize_media_url(text)
    except ValueError:
        raise InputError("worker.media_url",
                         _l("must be an http(s) address such as https://media1.example.go.id")) from None
    if media_contract.media_origin(url) not in allowed:
        raise InputError("worker.media_url", _l("names an origin the portal does not allow (PANTAU_MEDIA_ORIGINS)"))
    return url


def worker_info(raw: dict[str, Any], name: str, media_origins: tuple[str, ...] = ()) -> WorkerInfo:
    bounds.text(raw.get("name"), "worker.name", max_len=120, default=None)
    return WorkerInfo(
        name=name,
        hostname=bounds.text(raw.get("hostname"), "worker.hostname", max_len=255, default=""),
        version=bounds.text(raw.get("version"), "worker.version", max_len=40, default=""),
        capacity=bounds.integer(raw.get("capacity"), "worker.capacity", 0, MAX_CAPACITY, default=200),
        disk_free_bytes=bounds.integer(raw.get("disk_free_bytes"), "worker.disk_free_bytes", 0, INT64_MAX,
                                       default=None),
        disk_total_bytes=bounds.integer(raw.get("disk_total_bytes"), "worker.disk_total_bytes", 0, INT64_MAX,
                                        default=None),
        disk_guard_active=bounds.flag(raw.get("disk_guard_active"), "worker.disk_guard_active", default=False),
        health=_health(raw.get("health")),
        media_url=media_url(raw.get("media_url"), media_origins),
        leaving=bounds.flag(raw.get("leaving"), "worker.leaving", default=False),
    )


def _health(value: Any) -> dict[str, Any] | None:
    health = bounds.mapping(value, "worker.health", default=None)
    if health is None:
        return None
    return bounds.free_json(health, "worker.health", max_bytes=limits.MAX_HEALTH_BYTES)  # type: ignore[no-any-return]


def camera_status(value: Any, where: str) -> dict[str, Any]:
    """One camera's report, as the column values of ``CameraStatus`` (secrets redacted)."""
    item = bounds.mapping(value, where)
    error = bounds.text(item.get("error"), f"{where}.error", max_len=limits.MAX_ERROR_CHARS, multiline=True,
                        default=None)
    tail = bounds.items(
        item.get("stderr_tail"), f"{where}.stderr_tail", max_items=limits.MAX_STDERR_LINES, default=None,
        each=lambda v, f: bounds.text(v, f, max_len=limits.MAX_STDERR_LINE_CHARS, strip=False, multiline=True),
    )
    status = bounds.choice(item.get("status"), f"{where}.status", STATUS_VALUES)
    reason = bounds.text(item.get("reason"), f"{where}.reason", max_len=32, default=None) or None
    if reason is not None and reason not in contract_status.REASONS:
        reason = "ffmpeg"  # a newer worker's reason this portal doesn't know: still an error, shown as one
    return {
        "camera_id": bounds.integer(item.get("id"), f"{where}.id", 1, INT32_MAX),
        "status": status,
        "reason": None if status in ("online", "starting") else reason,
        "state": bounds.choice(item.get("state"), f"{where}.state", STATES, default="running"),
        "error": redact_text(error)[:STORED_ERROR_CHARS] if error else None,
        "stderr_tail": json.dumps([redact_text(line)[:STORED_STDERR_LINE_CHARS]
                                   for line in tail[-STORED_STDERR_LINES:]]) if tail else None,
        "bitrate_kbps": bounds.number(item.get("bitrate_kbps"), f"{where}.bitrate_kbps", 0, 10_000_000, default=None),
        "fps": bounds.number(item.get("fps"), f"{where}.fps", 0, 1000, default=None),
        "codec": bounds.text(item.get("codec"), f"{where}.codec", max_len=16, default=None) or None,
        "width": bounds.integer(item.get("width"), f"{where}.width", 0, 100_000, default=None),
        "height": bounds.integer(item.get("height"), f"{where}.height", 0, 100_000, default=None),
        "last_segment_at": bounds.moment(item.get("last_segment_at"), f"{where}.last_segment_at", default=None),
        "restarts_last_hour": bounds.integer(item.get("restarts_last_hour"), f"{where}.restarts_last_hour",
                                             0, 1_000_000, default=0),
    }


def segment_path(value: Any, where: str) -> str:
    path = bounds.text(value, where, max_len=limits.MAX_PATH_CHARS, strip=False)
    if not _SEGMENT_PATH.fullmatch(path) or "/../" in f"/{path}/" or "/./" in f"/{path}/":
        raise InputError(where, _l("must be a recording path: recordings/<camera id>/..."))
    return path  # type: ignore[no-any-return]


def segment(value: Any, where: str) -> Segment:
    item = bounds.mapping(value, where)
    camera_id = bounds.integer(item.get("camera_id"), f"{where}.camera_id", 1, INT32_MAX)
    path = segment_path(item.get("path"), f"{where}.path")
    if not path.startswith(f"recordings/{camera_id}/"):
        raise InputError(f"{where}.path", _l("must lie under the folder of its own camera"))
    start = bounds.moment(item.get("start"), f"{where}.start")
    end = bounds.moment(item.get("end"), f"{where}.end")
    if not start <= end <= start + MAX_SEGMENT_SPAN:
        raise InputError(f"{where}.end", _l("must be after the start and within a day of it"))
    size = bounds.integer(item.get("bytes"), f"{where}.bytes", 0, INT64_MAX)
    init = bounds.integer(item.get("init_bytes"), f"{where}.init_bytes", 0, INT64_MAX, default=None)
    if init is not None and not 0 < init <= min(size, MAX_INIT_BYTES):
        init = None  # not a head playback can use; the segment is indexed all the same
    return Segment(camera_id=camera_id, path=path, start=start, end=end, bytes=size, init_bytes=init)
