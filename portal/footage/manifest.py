"""The manifest of a ready request: what was asked, what was exported, from which segments, by whom; signed.

Times are written in the city's time zone (with their offset), spans as ``{"start", "end"}``. A gap is any
stretch of the asked span longer than ``GAP_TOLERANCE_S`` that no exported segment covers, with why: nothing
was recorded then (``not_recorded``) or a recorded segment was missing on the worker's disk
(``missing_on_disk``).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

from portal.footage import evidence
from portal.models import FootageExport, FootageRequest, User
from portal.models.footage import ExportStatus
from portal.settings import Settings

GAP_TOLERANCE_S = 1.5  # segment boundaries carry up to a second of wall-clock jitter
Interval = tuple[dt.datetime, dt.datetime]


def software_version() -> str:
    try:
        return importlib.metadata.version("pantau")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0"


def gaps(start: dt.datetime, end: dt.datetime, covered: Iterable[Interval], missing: Iterable[Interval] = (),
         tolerance_s: float = GAP_TOLERANCE_S) -> list[tuple[dt.datetime, dt.datetime, str]]:
    """The stretches of [start, end] that ``covered`` leaves out, each with its reason."""
    found: list[tuple[dt.datetime, dt.datetime, str]] = []
    cursor = start
    lost = sorted(missing)
    for a, b in sorted(covered):
        if b <= cursor:
            continue
        if a > cursor:
            found.append((cursor, min(a, end), ""))
        cursor = max(cursor, b)
        if cursor >= end:
            break
    if cursor < end:
        found.append((cursor, end, ""))
    out = []
    for a, b, _ in found:
        if (b - a).total_seconds() <= tolerance_s:
            continue
        reason = "missing_on_disk" if any(m0 < b and m1 > a for m0, m1 in lost) else "not_recorded"
        out.append((a, b, reason))
    return out


class Clock:
    """Writes moments in the city's time zone."""

    def __init__(self, settings: Settings) -> None:
        self.zone = zoneinfo.ZoneInfo(settings.timezone)

    def at(self, moment: dt.datetime | None) -> str | None:
        return moment.astimezone(self.zone).isoformat() if moment else None

    def span(self, start: dt.datetime | None, end: dt.datetime | None) -> dict[str, str | None] | None:
        return {"start": self.at(start), "end": self.at(end)} if start and end else None

    def moments(self, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items stored with UTC ``start``/``end`` strings, written in the city's zone."""
        out = []
        for item in items:
            item = dict(item)
            for key in ("start", "end"):
                if isinstance(item.get(key), str):
                    item[key] = self.at(dt.datetime.fromisoformat(item[key]))
            out.append(item)
        return out

    def gaps(self, found: Sequence[tuple[dt.datetime, dt.datetime, str]]) -> list[dict[str, Any]]:
        return [{"start": self.at(a), "end": self.at(b), "seconds": round((b - a).total_seconds(), 1),
                 "reason": reason} for a, b, reason in found]


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "full_name": user.full_name,
            "agency": user.agency.name if user.agency else None}


def covered_by(export: FootageExport) -> list[Interval]:
    out = []
    for source in export.sources or []:
        start, end = source.get("start"), source.get("end")
        if isinstance(start, str) and isinstance(end, str):
            out.append((dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)))
    return out


def missing_of(export: FootageExport) -> list[Interval]:
    out = []
    for gap in export.gaps or []:
        if gap.get("reason") == "missing_on_disk" and gap.get("start") and gap.get("end"):
            out.append((dt.datetime.fromisoformat(gap["start"]), dt.datetime.fromisoformat(gap["end"])))
    return out


def body(request: FootageRequest, settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """Everything the manifest says, before it is signed."""
    clock = Clock(settings)
    files = []
    cameras = []
    for camera in request.cameras:
        exports = [e for e in request.exports if e.camera_id == camera.id]
        done = [e for e in exports if e.status == ExportStatus.DONE.value]
        covered = [i for e in done for i in covered_by(e)]
        missing = [i for e in exports for i in missing_of(e)]
        actual = [(max(e.actual_start, request.start_at), min(e.actual_end, request.end_at))
                  for e in done if e.actual_start and e.actual_end]
        cameras.append({
            "id": camera.id, "name": camera.name, "district": camera.district,
            "latitude": camera.latitude, "longitude": camera.longitude,
            "asked": clock.span(request.start_at, request.end_at),
            "actual": clock.span(min(a for a, _ in actual), max(b for _, b in actual)) if actual else None,
            "gaps": clock.gaps(gaps(request.start_at, request.end_at, covered, missing)),
            "files": [e.file_name for e in done],
            "failed": [{"export_id": e.id, "error": e.error or ""} for e in exports
                       if e.status == ExportStatus.FAILED.value],
        })
        for export in done:
            files.append({
                "export_id": export.id, "camera_id": camera.id, "file": export.file_name,
                "bytes": export.bytes, "sha256": export.sha256, "duration_s": export.duration_s,
                "asked": clock.span(export.start_at, export.end_at),
                "actual": clock.span(export.actual_start, export.actual_end),
                "gaps": clock.moments(export.gaps or []),
                "sources": clock.moments(export.sources or []),
                "worker": {"name": export.worker_name, "version": export.worker_version},
                "ffmpeg": export.ffmpeg_version,
                "exported_at": clock.at(export.finished_at),
            })
    return {
        "issuer": {"city": settings.city_name, "software": "pantau", "version": software_version(),
                   "timezone": settings.timezone},
        "issued_at": clock.at(now),
        "case": {"request_id": request.id, "case_number": request.case_number,
                 "legal_basis": request.legal_basis, "reason": request.reason},
        "requested": {"by": _person(request.requester), "at": clock.at(request.created_at)},
        "approved": {"by": _person(request.decided_by), "at": clock.at(request.decided_at),
                     "note": request.decision_note},
        "asked": clock.span(request.start_at, request.end_at),
        "cameras": cameras,
        "files": files,
    }


def sign(request: FootageRequest, settings: Settings, now: dt.datetime) -> bytes:
    key = evidence.load_private_key(settings.evidence_key_path)
    return evidence.sign(body(request, settings, now), key)
