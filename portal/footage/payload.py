"""Checks of what a worker reports about export jobs (``exports`` and ``deleted_exports`` of a sync request).

A malformed report raises :class:`portal.payload.PayloadError` (400) before anything is stored, like the rest of
the sync body.
"""

from __future__ import annotations

import re
from typing import Any

from contract import worker_api
from portal.payload import PayloadError, parse_time, want

MAX_REPORTS = 200
MAX_SOURCES = 20000
_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXPORT_PATH = re.compile(rf"{worker_api.EXPORTS_DIR}/[A-Za-z0-9_-]{{1,64}}/[A-Za-z0-9][A-Za-z0-9_.-]{{0,127}}\.mp4")
_SEGMENT_PATH = re.compile(r"recordings/[0-9]{1,10}/[0-9]{8}/[0-9]{6}(-[0-9]{1,4})?\.mp4")


def _items(body: dict[str, Any], key: str, limit: int) -> list[Any]:
    items = want(body, key, list, default=[])
    if len(items) > limit:
        raise PayloadError(f"{key} has more than {limit} entries")
    return items  # type: ignore[no-any-return]


def _obj(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise PayloadError(f"{where} must be an object")
    return item


def _sha(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise PayloadError(f"{where} must be a SHA-256 in lower-case hex")
    return value


def _count(obj: dict[str, Any], key: str) -> int:
    value = want(obj, key, int)
    if value < 0 or value > 2**62:
        raise PayloadError(f"{key} is out of range")
    return int(value)


def export_reports(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The checked reports: each with ``id`` and ``state``; finished ones with their results."""
    reports = []
    for n, raw in enumerate(_items(body, "exports", MAX_REPORTS)):
        item = _obj(raw, f"exports[{n}]")
        state = want(item, "state", str)
        if state not in worker_api.EXPORT_STATES:
            raise PayloadError(f"exports[{n}].state must be one of {', '.join(worker_api.EXPORT_STATES)}")
        report: dict[str, Any] = {"id": want(item, "id", int), "state": state}
        progress = want(item, "progress", float, default=0.0)
        report["progress"] = min(1.0, max(0.0, progress))
        report["ffmpeg_version"] = want(item, "ffmpeg_version", str, default="")[:80]
        report["missing"] = [p for p in want(item, "missing", list, default=[])[:MAX_SOURCES]
                             if isinstance(p, str) and _SEGMENT_PATH.fullmatch(p)]
        if state == "failed":
            report["error"] = want(item, "error", str, default="failed")[:2000]
        if state == "done":
            output = want(item, "output", str)
            if not _EXPORT_PATH.fullmatch(output):
                raise PayloadError(f"exports[{n}].output must be a file under {worker_api.EXPORTS_DIR}/")
            report["output"] = output
            report["bytes"] = _count(item, "bytes")
            report["sha256"] = _sha(item.get("sha256"), f"exports[{n}].sha256")
            report["duration_s"] = want(item, "duration_s", float, default=None)
            report["actual_start"] = parse_time(want(item, "actual_start", str))
            report["actual_end"] = parse_time(want(item, "actual_end", str))
            sources = []
            for m, source in enumerate(want(item, "sources", list)[:MAX_SOURCES]):
                source = _obj(source, f"exports[{n}].sources[{m}]")
                path = want(source, "path", str)
                if not _SEGMENT_PATH.fullmatch(path):
                    raise PayloadError(f"exports[{n}].sources[{m}].path must be a recording path")
                sources.append({"path": path, "bytes": _count(source, "bytes"),
                                "sha256": _sha(source.get("sha256"), f"exports[{n}].sources[{m}].sha256")})
            report["sources"] = sources
        reports.append(report)
    return reports


def deleted_exports(body: dict[str, Any]) -> list[str]:
    return [p for p in _items(body, "deleted_exports", MAX_REPORTS * 10)
            if isinstance(p, str) and _EXPORT_PATH.fullmatch(p)]
