"""The footage fields of the worker API (revision 2) in the OpenAPI document, with the bounds of
``portal.footage.payload``, so the fuzzer exercises every check of the export reports."""

from __future__ import annotations

from typing import Any

from contract import worker_api
from portal.bounds import INT32_MAX, INT64_MAX
from portal.footage.payload import MAX_DELETED, MAX_REPORTS, MAX_SOURCES

TIME = {"type": "string", "maxLength": 40, "format": "date-time"}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
SEGMENT = {"type": "string", "maxLength": 200,
           "pattern": r"^recordings/[0-9]{1,10}/[0-9]{8}/[0-9]{6}(-[0-9]{1,4})?\.mp4$"}
OUTPUT = {"type": "string", "maxLength": 300,
          "pattern": rf"^{worker_api.EXPORTS_DIR}/[A-Za-z0-9_-]{{1,64}}/[A-Za-z0-9][A-Za-z0-9_.-]{{0,127}}\.mp4$"}

SCHEMAS: dict[str, Any] = {
    "ExportReport": {
        "type": "object",
        "required": ["id", "state"],
        "description": "A worker's report on one export job; a finished one (`done`) carries its results.",
        "properties": {
            "id": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
            "state": {"type": "string", "enum": list(worker_api.EXPORT_STATES)},
            "progress": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "output": OUTPUT,
            "bytes": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
            "sha256": SHA256,
            "duration_s": {"type": ["number", "null"], "minimum": 0, "maximum": 604800},
            "actual_start": TIME,
            "actual_end": TIME,
            "sources": {"type": "array", "maxItems": MAX_SOURCES, "items": {
                "type": "object", "required": ["path", "bytes", "sha256"],
                "properties": {"path": SEGMENT, "bytes": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
                               "sha256": SHA256}}},
            "missing": {"type": ["array", "null"], "maxItems": MAX_SOURCES, "items": SEGMENT},
            "error": {"type": ["string", "null"], "maxLength": 4000},
            "ffmpeg_version": {"type": ["string", "null"], "maxLength": 200},
        },
    },
}
REQUEST_PROPERTIES: dict[str, Any] = {
    "exports": {"type": "array", "maxItems": MAX_REPORTS, "items": {"$ref": "#/components/schemas/ExportReport"}},
    "deleted_exports": {"type": "array", "maxItems": MAX_DELETED, "items": OUTPUT},
}
RESPONSE_PROPERTIES: dict[str, Any] = {
    "holds": {"type": "array", "description": "Every active legal hold, as time spans per camera.", "items": {
        "type": "object", "required": list(worker_api.HOLD_FIELDS)}},
    "exports": {"type": "array", "description": "Export jobs for this worker.", "items": {
        "type": "object", "required": list(worker_api.EXPORT_JOB_FIELDS)}},
    "expired_exports": {"type": "array", "items": OUTPUT},
}
