"""Checks of what a worker reports about export jobs (``exports`` and ``deleted_exports`` of a sync request),
with the shared input bounds: a malformed report is a 400 before anything is stored, like the rest of the body.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l

from contract import worker_api
from portal import bounds
from portal.bounds import INT32_MAX, INT64_MAX, InputError

MAX_REPORTS = 200
MAX_SOURCES = 20000
MAX_DELETED = 2000
_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXPORT_PATH = re.compile(rf"{worker_api.EXPORTS_DIR}/[A-Za-z0-9_-]{{1,64}}/[A-Za-z0-9][A-Za-z0-9_.-]{{0,127}}\.mp4")
_SEGMENT_PATH = re.compile(r"recordings/[0-9]{1,10}/[0-9]{8}/[0-9]{6}(-[0-9]{1,4})?\.mp4")


def _sha(value: Any, where: str) -> str:
    text = bounds.text(value, where, max_len=64)
    if not _SHA256.fullmatch(text):
        raise InputError(where, _l("must be a SHA-256 in lower-case hex"))
    return text  # type: ignore[no-any-return]


def _segment_path(value: Any, where: str) -> str:
    path = bounds.text(value, where, max_len=200)
    if not _SEGMENT_PATH.fullmatch(path):
        raise InputError(where, _l("must be a recording path: recordings/<camera id>/..."))
    return path  # type: ignore[no-any-return]


def export_path(value: Any, where: str) -> str:
    path = bounds.text(value, where, max_len=300)
    if not _EXPORT_PATH.fullmatch(path):
        raise InputError(where, _l("must be a file under %(folder)s/", folder=worker_api.EXPORTS_DIR))
    return path  # type: ignore[no-any-return]


def _source(value: Any, where: str) -> dict[str, Any]:
    item = bounds.mapping(value, where)
    return {"path": _segment_path(item.get("path"), f"{where}.path"),
            "bytes": bounds.integer(item.get("bytes"), f"{where}.bytes", 0, INT64_MAX),
            "sha256": _sha(item.get("sha256"), f"{where}.sha256")}


def report(value: Any, where: str) -> dict[str, Any]:
    """One report: ``id`` and ``state``; a finished one with its results (worker_api.EXPORT_REPORT_FIELDS)."""
    item = bounds.mapping(value, where)
    state = bounds.choice(item.get("state"), f"{where}.state", worker_api.EXPORT_STATES)
    checked: dict[str, Any] = {
        "id": bounds.integer(item.get("id"), f"{where}.id", 1, INT32_MAX),
        "state": state,
        "progress": bounds.number(item.get("progress"), f"{where}.progress", 0, 1, default=0.0),
        "ffmpeg_version": bounds.text(item.get("ffmpeg_version"), f"{where}.ffmpeg_version", max_len=200,
                                      default="")[:80],
        "missing": bounds.items(item.get("missing"), f"{where}.missing", max_items=MAX_SOURCES,
                                each=_segment_path, default=[]),
    }
    if state == "failed":
        checked["error"] = bounds.text(item.get("error"), f"{where}.error", max_len=4000, multiline=True,
                                       default="failed")[:2000]
    if state == "done":
        checked["output"] = export_path(item.get("output"), f"{where}.output")
        checked["bytes"] = bounds.integer(item.get("bytes"), f"{where}.bytes", 0, INT64_MAX)
        checked["sha256"] = _sha(item.get("sha256"), f"{where}.sha256")
        checked["duration_s"] = bounds.number(item.get("duration_s"), f"{where}.duration_s", 0, 86400 * 7,
                                              default=None)
        checked["actual_start"] = bounds.moment(item.get("actual_start"), f"{where}.actual_start")
        checked["actual_end"] = bounds.moment(item.get("actual_end"), f"{where}.actual_end")
        checked["sources"] = bounds.items(item.get("sources"), f"{where}.sources", max_items=MAX_SOURCES,
                                          each=_source)
    return checked


def export_reports(body: dict[str, Any]) -> list[dict[str, Any]]:
    return bounds.items(body.get("exports"), "exports", max_items=MAX_REPORTS,  # type: ignore[no-any-return]
                        each=report, default=[])


def deleted_exports(body: dict[str, Any]) -> list[str]:
    return bounds.items(body.get("deleted_exports"), "deleted_exports",  # type: ignore[no-any-return]
                        max_items=MAX_DELETED, each=export_path, default=[])
