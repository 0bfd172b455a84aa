"""The worker API in the OpenAPI document: the same bounds as ``portal.workers.payload`` (docs/worker-api.md
says it in prose), so a fuzzer that follows the document exercises every check, and one that breaks it must
get a 4xx."""

from __future__ import annotations

from typing import Any

from contract import limits
from contract.status import REASON_MAX_LENGTH
from portal.bounds import INT32_MAX, INT64_MAX
from portal.footage import openapi as footage_openapi
from portal.workers.payload import MAX_CAPACITY, STATES, STATUS_VALUES

TIME = {"type": "string", "maxLength": 40,
        "pattern": r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                   r"(\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$",
        "description": "ISO 8601 with an offset (date-time), between the years 2000 and 2100."}
PATH = {"type": "string", "maxLength": limits.MAX_PATH_CHARS,
        "pattern": r"^recordings/[0-9]{1,10}(/[A-Za-z0-9_.-]{1,100}){1,4}$"}
ERROR = {"$ref": "#/components/schemas/Error"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type", "object")
    return {**schema, "type": [kind, "null"]}


SCHEMAS: dict[str, Any] = {
    "WorkerInfo": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 120,
                     "description": "The configured name; the credential decides who is speaking."},
            "hostname": {"type": "string", "maxLength": 255},
            "version": {"type": "string", "maxLength": 40},
            "capacity": {"type": "integer", "minimum": 0, "maximum": MAX_CAPACITY},
            "disk_free_bytes": _nullable({"type": "integer", "minimum": 0, "maximum": INT64_MAX}),
            "disk_total_bytes": _nullable({"type": "integer", "minimum": 0, "maximum": INT64_MAX}),
            "disk_guard_active": {"type": "boolean"},
            "health": _nullable({"type": "object", "maxProperties": 50,
                                 "description": "The worker's own figures (under 20 kB, at most 8 levels)."}),
        },
    },
    "CameraReport": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
            "status": {"type": "string", "enum": sorted(STATUS_VALUES)},
            "state": {"type": "string", "enum": sorted(STATES)},
            "reason": _nullable({"type": "string", "maxLength": REASON_MAX_LENGTH,
                                 "description": "Why the camera has its status (contract/status.py)."}),
            "error": _nullable({"type": "string", "maxLength": limits.MAX_ERROR_CHARS}),
            "stderr_tail": _nullable({"type": "array", "maxItems": limits.MAX_STDERR_LINES,
                                      "items": {"type": "string", "maxLength": limits.MAX_STDERR_LINE_CHARS}}),
            "bitrate_kbps": _nullable({"type": "number", "minimum": 0, "maximum": 10_000_000}),
            "fps": _nullable({"type": "number", "minimum": 0, "maximum": 1000}),
            "codec": _nullable({"type": "string", "maxLength": 16}),
            "width": _nullable({"type": "integer", "minimum": 0, "maximum": 100_000}),
            "height": _nullable({"type": "integer", "minimum": 0, "maximum": 100_000}),
            "last_segment_at": _nullable(TIME),
            "restarts_last_hour": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
        },
    },
    "RecordingSegment": {
        "type": "object",
        "required": ["camera_id", "path", "start", "end", "bytes"],
        "properties": {
            "camera_id": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
            "path": {**PATH, "description": "recordings/<camera_id>/..., relative to the media root."},
            "start": TIME,
            "end": {**TIME, "description": "After the start, within a day of it."},
            "bytes": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
            "init_bytes": _nullable({"type": "integer", "minimum": 0, "maximum": INT64_MAX,
                                     "description": "The fragmented MP4's head (ftyp+moov), for archive playback."}),
        },
    },
    **footage_openapi.SCHEMAS,
    "SyncRequest": {
        "type": "object",
        "properties": {
            "worker": {"$ref": "#/components/schemas/WorkerInfo"},
            "cameras": {"type": "array", "maxItems": limits.MAX_SYNC_CAMERAS,
                        "items": {"$ref": "#/components/schemas/CameraReport"}},
            "segments": {"type": "array", "maxItems": limits.MAX_SYNC_SEGMENTS,
                         "items": {"$ref": "#/components/schemas/RecordingSegment"}},
            "deleted_segments": {"type": "array", "maxItems": limits.MAX_SYNC_DELETED, "items": PATH},
            **footage_openapi.REQUEST_PROPERTIES,
        },
    },
    "SyncResponse": {
        "type": "object",
        "required": ["api_version", "worker_id", "worker_name", "lease_expires_at", "cameras", "held_segments",
                     "acknowledged_segments", "refused_segments"],
        "properties": {
            "api_version": {"const": 1},
            "worker_id": {"type": "integer"},
            "worker_name": {"type": "string"},
            "sync_interval_s": {"type": "integer"},
            "lease_seconds": {"type": "integer"},
            "lease_expires_at": {"type": "string", "format": "date-time"},
            "settings": {"type": "object"},
            "cameras": {"type": "array", "items": {"type": "object", "description": "A camera to run, with its "
                                                                                    "source (credentials included)."}},
            "held_segments": {"type": "array", "items": {"type": "string"}},
            "acknowledged_segments": {"type": "integer"},
            "refused_segments": {"type": "integer"},
            **footage_openapi.RESPONSE_PROPERTIES,
        },
    },
    "WorkerError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}, "message": {"type": "string"}},
    },
}

_REFUSALS = {
    "401": {"description": "No valid credential of a worker.", "content": {"application/json": {"schema": ERROR}}},
    "403": {"description": "Not from a worker network (PANTAU_WORKER_NETWORKS).",
            "content": {"application/json": {"schema": ERROR}}},
    "429": {"description": "Too many requests (nginx's rate limit)."},
}
SECURITY: list[dict[str, list[str]]] = [{"workerCredential": []}]
SECURITY_SCHEMES = {
    "workerCredential": {"type": "http", "scheme": "bearer",
                         "description": "The worker's own credential, issued by `pantau workers add NAME`."},
}

PATHS: dict[str, Any] = {
    "/api/worker/v1/ping": {"get": {
        "operationId": "workerPing",
        "summary": "Check the credential",
        "tags": ["worker"],
        "security": SECURITY,
        "responses": {"200": {"description": "The API version and the worker's name.", "content": {
            "application/json": {"schema": {"type": "object", "required": ["api_version", "worker"]}}}},
            **_REFUSALS},
    }},
    "/api/worker/v1/sync": {"post": {
        "operationId": "workerSync",
        "summary": "Report status and segments, receive the cameras to run",
        "description": "See docs/worker-api.md. The whole body is checked before anything is stored.",
        "tags": ["worker"],
        "security": SECURITY,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SyncRequest"}}}},
        "responses": {
            "200": {"description": "The cameras leased to this worker.", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SyncResponse"}}}},
            "400": {"description": "A field out of bounds (named in `detail`); nothing stored.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WorkerError"}}}},
            "413": {"description": "A body over 4 MiB.", "content": {"application/json": {"schema": ERROR}}},
            **_REFUSALS,
        },
    }},
}
