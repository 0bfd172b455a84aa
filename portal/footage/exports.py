"""A request's life after it is asked: decided by an admin, exported on the workers, signed, expired.

Every step moves a status through its table (``portal.models.footage``), is in the audit log, and tells the
requester (the request shows as new to them until they open it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import Any

from flask import current_app
from sqlalchemy import select

from contract import worker_api
from portal.footage import holds, manifest, notices
from portal.footage.evidence import EvidenceKeyError
from portal.models import (
    DownloadLink,
    FootageExport,
    FootageRequest,
    RecordingSegment,
    User,
    Worker,
    db,
)
from portal.models.audit import record
from portal.models.footage import FINISHED_EXPORTS, ExportStatus, RequestStatus
from portal.settings import Settings

log = logging.getLogger("pantau.footage")
R, E = RequestStatus, ExportStatus


class DecisionError(ValueError):
    """A decision the rules refuse (deciding one's own request, a request no longer pending); ``code`` names it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def tell_requester(request: FootageRequest, event: str) -> None:
    """The request shows as new to its requester until they open it, and they get an e-mail
    (``portal.footage.notices``) when they have an address."""
    request.requester_seen_at = None
    notices.tell(request, event)


# -- decisions --


def approve(request: FootageRequest, admin: User, note: str, now: dt.datetime, **audit: Any) -> None:
    if admin.id == request.requester_id:
        raise DecisionError("own_request")
    if request.status != R.PENDING.value:
        raise DecisionError("not_pending")
    request.move(R.APPROVED)
    request.decided_by_id, request.decided_at, request.decision_note = admin.id, now, note
    request.decided_by = admin
    record("footage.request_approved", target_type="footage_request", target_id=request.id, note=note[:500],
           case_number=request.case_number, **audit)
    plan_exports(request, now)
    tell_requester(request, "approved")
    settle(request, now)


def reject(request: FootageRequest, admin: User, note: str, now: dt.datetime, **audit: Any) -> None:
    if admin.id == request.requester_id:
        raise DecisionError("own_request")
    if request.status != R.PENDING.value:
        raise DecisionError("not_pending")
    request.move(R.REJECTED)
    request.decided_by_id, request.decided_at, request.decision_note = admin.id, now, note
    record("footage.request_rejected", target_type="footage_request", target_id=request.id, note=note[:500],
           case_number=request.case_number, **audit)
    holds.release_of_request(request, now, "request rejected")
    tell_requester(request, "rejected")


def cancel(request: FootageRequest, user: User, now: dt.datetime, **audit: Any) -> None:
    if user.id != request.requester_id:
        raise DecisionError("not_requester")
    if request.status != R.PENDING.value:
        raise DecisionError("not_pending")
    request.move(R.CANCELLED)
    record("footage.request_cancelled", target_type="footage_request", target_id=request.id, **audit)
    holds.release_of_request(request, now, "request withdrawn by the requester")


def retry(request: FootageRequest, now: dt.datetime, **audit: Any) -> None:
    """An admin tries a failed request again: its failed exports are queued anew."""
    if request.status != R.FAILED.value:
        raise DecisionError("not_failed")
    request.move(R.APPROVED)
    for export in request.exports:
        if export.status == E.FAILED.value:
            export.move(E.QUEUED)
            export.progress, export.error = 0.0, None
    record("footage.export_retried", target_type="footage_request", target_id=request.id, **audit)
    settle(request, now)


# -- planning: which worker cuts what --


def output_path(request: FootageRequest, export: FootageExport) -> str:
    local = manifest.Clock(_settings()).zone
    start = export.start_at.astimezone(local)
    return (f"{worker_api.EXPORTS_DIR}/{request.id}/"
            f"pantau-r{request.id}-kamera{export.camera_id}-{start:%Y%m%d-%H%M%S}-e{export.id}.mp4")


def _segments(camera_id: int, start: dt.datetime, end: dt.datetime, worker_id: int | None = None,
              any_worker: bool = True) -> list[RecordingSegment]:
    query = select(RecordingSegment).where(
        RecordingSegment.camera_id == camera_id, RecordingSegment.deleted_at.is_(None),
        RecordingSegment.start_at < end, RecordingSegment.end_at > start,
    ).order_by(RecordingSegment.start_at)
    if not any_worker:
        query = query.where(RecordingSegment.worker_id == worker_id if worker_id else
                            RecordingSegment.worker_id.is_(None))
    return list(db.session.scalars(query))


def plan_exports(request: FootageRequest, now: dt.datetime) -> None:
    """One export per camera and per worker holding part of its footage (normally one worker per camera)."""
    for camera in request.cameras:
        found = _segments(camera.id, request.start_at, request.end_at)
        by_worker: dict[int | None, list[RecordingSegment]] = {}
        for segment in found:
            by_worker.setdefault(segment.worker_id, []).append(segment)
        if not by_worker:
            db.session.add(FootageExport(request=request, camera_id=camera.id, status=E.EMPTY.value,
                                         start_at=request.start_at, end_at=request.end_at, finished_at=now,
                                         progress=1.0, gaps=[], sources=[]))
            continue
        for worker_id, segments in by_worker.items():
            export = FootageExport(
                request=request, camera_id=camera.id, worker_id=worker_id,
                start_at=max(request.start_at, segments[0].start_at), end_at=min(request.end_at, segments[-1].end_at),
            )
            if worker_id is None:
                export.status, export.finished_at = E.FAILED.value, now
                export.error = "the worker that recorded this footage is no longer known"
            db.session.add(export)
            db.session.flush()
            export.path = output_path(request, export)


def jobs_for(worker: Worker) -> list[dict[str, Any]]:
    """The sync reply's ``exports`` for this worker."""
    exports = db.session.scalars(
        select(FootageExport).join(FootageRequest)
        .where(FootageExport.worker_id == worker.id,
               FootageExport.status.in_((E.QUEUED.value, E.RUNNING.value)),
               FootageRequest.status.in_((R.APPROVED.value, R.EXPORTING.value)))
        .order_by(FootageExport.id)
    ).all()
    jobs = []
    for export in exports:
        segments = _segments(export.camera_id, export.start_at, export.end_at, worker.id, any_worker=False)
        jobs.append({
            "id": export.id, "camera_id": export.camera_id, "start": export.start_at.isoformat(),
            "end": export.end_at.isoformat(), "output": export.path,
            "sources": [{"path": s.path, "start": s.start_at.isoformat(), "end": s.end_at.isoformat()}
                        for s in segments],
        })
    return jobs


# -- what the worker reports --


def take_reports(worker: Worker, reports: list[dict[str, Any]], now: dt.datetime) -> None:
    """Store the worker's export reports (checked by ``portal.footage.payload``); settle finished requests."""
    touched: dict[int, FootageRequest] = {}
    for report in reports:
        export = db.session.get(FootageExport, report["id"])
        if export is None or export.worker_id != worker.id:
            log.warning("worker %s reported export %s, which is not its own; ignored", worker.name, report["id"])
            continue
        if export.status not in (E.QUEUED.value, E.RUNNING.value):
            continue  # finished already (a report sent twice), or expired
        if export.request.status not in (R.APPROVED.value, R.EXPORTING.value):
            continue
        _apply(export, worker, report, now)
        touched[export.request_id] = export.request
    for request in touched.values():
        settle(request, now)


def _apply(export: FootageExport, worker: Worker, report: dict[str, Any], now: dt.datetime) -> None:
    state = report["state"]
    if state == "running" and export.status == E.QUEUED.value:
        export.move(E.RUNNING)
        export.started_at, export.attempts = now, export.attempts + 1
    if state == "running":
        export.progress = report.get("progress") or 0.0
        return
    if state == "queued":
        return
    export.worker_name, export.worker_version = worker.name, worker.version
    export.ffmpeg_version = (report.get("ffmpeg_version") or "")[:80]
    export.finished_at = now
    if state == "failed":
        export.move(E.FAILED)
        export.error = (report.get("error") or "failed")[:2000]
        record("footage.export_failed", target_type="footage_export", target_id=export.id, actor="system",
               worker=worker.name, error=export.error[:300])
        return
    index = {s.path: s for s in _segments(export.camera_id, export.start_at, export.end_at, worker.id,
                                          any_worker=False)}
    missing = [index[p] for p in report.get("missing") or [] if p in index]
    missing_spans = [(s.start_at, s.end_at) for s in missing]
    if state == "empty":
        export.move(E.EMPTY)
        export.progress = 1.0
        export.gaps = _stored_gaps(manifest.gaps(export.start_at, export.end_at, [], missing_spans))
        return
    sources = []
    for item in report.get("sources") or []:
        segment = index.get(item["path"])
        if segment is None:
            continue
        sources.append({"path": item["path"], "start": segment.start_at.isoformat(),
                        "end": segment.end_at.isoformat(), "bytes": item["bytes"], "sha256": item["sha256"]})
    covered = [(dt.datetime.fromisoformat(s["start"]), dt.datetime.fromisoformat(s["end"])) for s in sources]
    export.move(E.DONE)
    export.progress = 1.0
    export.sources = sources
    export.gaps = _stored_gaps(manifest.gaps(export.start_at, export.end_at, covered, missing_spans))
    export.bytes, export.sha256, export.duration_s = report["bytes"], report["sha256"], report.get("duration_s")
    export.actual_start, export.actual_end = report.get("actual_start"), report.get("actual_end")
    record("footage.export_done", target_type="footage_export", target_id=export.id, actor="system",
           worker=worker.name, sha256=export.sha256, bytes=export.bytes, gaps=len(export.gaps))


def _stored_gaps(found: list[tuple[dt.datetime, dt.datetime, str]]) -> list[dict[str, Any]]:
    return [{"start": a.isoformat(), "end": b.isoformat(), "seconds": round((b - a).total_seconds(), 1),
             "reason": reason} for a, b, reason in found]


def settle(request: FootageRequest, now: dt.datetime) -> None:
    """Move the request along as its exports progress; sign the manifest when they all finished."""
    exports = request.exports
    if request.status == R.APPROVED.value and any(e.status == E.RUNNING.value for e in exports):
        request.move(R.EXPORTING)
        record("footage.export_started", target_type="footage_request", target_id=request.id, actor="system")
    if request.status not in (R.APPROVED.value, R.EXPORTING.value):
        return
    if not exports or any(e.status not in FINISHED_EXPORTS for e in exports):
        return
    if not any(e.status == E.DONE.value for e in exports) and any(e.status == E.FAILED.value for e in exports):
        request.move(R.FAILED)
        record("footage.request_failed", target_type="footage_request", target_id=request.id, actor="system")
        tell_requester(request, "failed")
        return
    settings = _settings()
    try:
        signed = manifest.sign(request, settings, now)
    except EvidenceKeyError as exc:
        log.error("cannot sign the manifest of request %s: %s", request.id, exc)
        request.move(R.FAILED)
        record("footage.request_failed", target_type="footage_request", target_id=request.id, actor="system",
               error="the city's signing key is missing")
        return
    request.manifest = signed.decode()
    request.manifest_sha256 = hashlib.sha256(signed).hexdigest()
    request.move(R.READY)
    request.ready_at = now
    request.expires_at = now + dt.timedelta(days=settings.export_days)
    for hold in request.holds:  # the footage stays held at least as long as the export can be downloaded
        if hold.released_at is None and (hold.keep_until is None or hold.keep_until < request.expires_at):
            hold.keep_until = request.expires_at
    link = DownloadLink(token=secrets.token_urlsafe(32), request_id=request.id, user_id=request.requester_id,
                        expires_at=request.expires_at)
    db.session.add(link)
    record("footage.request_ready", target_type="footage_request", target_id=request.id, actor="system",
           manifest_sha256=request.manifest_sha256, expires_at=request.expires_at.isoformat(),
           files=sum(1 for e in exports if e.status == E.DONE.value))
    tell_requester(request, "ready")


# -- expiry --


def expire_due(now: dt.datetime) -> int:
    """Ready requests past their days: the link stops working, the files are deleted by their workers."""
    count = 0
    for request in db.session.scalars(select(FootageRequest).where(
            FootageRequest.status == R.READY.value, FootageRequest.expires_at <= now)):
        request.move(R.EXPIRED)
        for export in request.exports:
            if export.status == E.DONE.value:
                export.move(E.EXPIRED)
        record("footage.export_expired", target_type="footage_request", target_id=request.id, actor="system",
               expired_at=request.expires_at.isoformat() if request.expires_at else None)
        count += 1
    for link in db.session.scalars(select(DownloadLink).where(
            DownloadLink.expires_at <= now, DownloadLink.expired_logged_at.is_(None))):
        link.expired_logged_at = now
        record("footage.link_expired", target_type="footage_request", target_id=link.request_id, actor="system",
               link_id=link.id, user_id=link.user_id, downloads=link.downloads)
    return count


def expired_files_for(worker: Worker) -> list[str]:
    return list(db.session.scalars(select(FootageExport.path).where(
        FootageExport.worker_id == worker.id, FootageExport.status == E.EXPIRED.value,
        FootageExport.deleted_at.is_(None), FootageExport.path.is_not(None))))


def mark_deleted(worker: Worker, paths: list[str], now: dt.datetime) -> None:
    if not paths:
        return
    for export in db.session.scalars(select(FootageExport).where(
            FootageExport.worker_id == worker.id, FootageExport.path.in_(paths),
            FootageExport.deleted_at.is_(None))):
        export.deleted_at = now
        record("footage.export_deleted", target_type="footage_export", target_id=export.id, actor="system",
               worker=worker.name, path=export.path)


def tick(now: dt.datetime) -> dict[str, int]:
    """The jobs loop's turn for footage: expire exports and links, release the holds that are due."""
    expired = expire_due(now)
    released = holds.release_due(now)
    return {"expired": expired, "released": released}



def links_of(request: FootageRequest) -> list[DownloadLink]:
    return list(db.session.scalars(select(DownloadLink).where(DownloadLink.request_id == request.id)
                                   .order_by(DownloadLink.id)))
