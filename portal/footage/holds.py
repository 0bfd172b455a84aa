"""Legal holds: putting them, releasing them by the rules, telling workers, and what they cost in storage.

The rules (issue 11): a police request holds its spans from the moment it is made, before any decision. A hold
is released only by an admin with a reason, or when its request is rejected or withdrawn, or when its request's
export has expired and the hold's own end date (``keep_until``) has passed. A hold without a request (a
resident's, an admin's) ends at ``keep_until``. Every release is in the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

from portal.models import Camera, FootageExport, FootageRequest, LegalHold, RecordingSegment, Worker, db
from portal.models.audit import record
from portal.models.footage import ExportStatus, HoldKind, RequestStatus

ENDED_REQUESTS = (RequestStatus.REJECTED.value, RequestStatus.CANCELLED.value)


def active() -> Any:
    return LegalHold.released_at.is_(None)


def put(camera_id: int, start: dt.datetime, end: dt.datetime, *, kind: HoldKind, reason: str,
        request: FootageRequest | None = None, keep_until: dt.datetime | None = None,
        created_by_id: int | None = None, resident_request_id: int | None = None) -> LegalHold:
    hold = LegalHold(camera_id=camera_id, start_at=start, end_at=end, kind=kind.value, reason=reason[:2000],
                     request=request, keep_until=keep_until, created_by_id=created_by_id,
                     resident_request_id=resident_request_id)
    db.session.add(hold)
    return hold


def release(hold: LegalHold, now: dt.datetime, *, reason: str, by_user_id: int | None = None,
            **audit: Any) -> None:
    """Release one hold and say so in the audit log (``audit`` carries the actor of a person's release)."""
    if hold.released_at is not None:
        return
    hold.released_at = now
    hold.released_by_id = by_user_id
    hold.release_reason = reason[:2000]
    record("footage.hold_released", target_type="legal_hold", target_id=hold.id, camera_id=hold.camera_id,
           start=hold.start_at.isoformat(), end=hold.end_at.isoformat(), kind=hold.kind,
           request_id=hold.footage_request_id, reason=reason[:500], **audit)


def release_of_request(request: FootageRequest, now: dt.datetime, reason: str) -> int:
    """Release the holds of a request that ended without footage (rejected, withdrawn). A resident's hold the
    request had taken over goes back to the resident's own end date."""
    count = 0
    for hold in list(request.holds):
        if hold.released_at is not None:
            continue
        if hold.kind == HoldKind.RESIDENT.value:
            hold.request = None
            record("footage.hold_returned", target_type="legal_hold", target_id=hold.id, actor="system",
                   request_id=request.id, keep_until=hold.keep_until.isoformat() if hold.keep_until else None)
            continue
        release(hold, now, reason=reason, actor="system")
        count += 1
    return count


def due(now: dt.datetime) -> list[LegalHold]:
    """Holds whose time is over: without a request, past keep_until; with one, its request ended (rejected,
    withdrawn) or its export expired and keep_until passed."""
    expired_request = and_(FootageRequest.status == RequestStatus.EXPIRED.value,
                           or_(LegalHold.keep_until.is_(None), LegalHold.keep_until < now))
    query = (
        select(LegalHold)
        .outerjoin(FootageRequest, FootageRequest.id == LegalHold.footage_request_id)
        .where(active(), or_(
            and_(LegalHold.footage_request_id.is_(None), LegalHold.keep_until.is_not(None),
                 LegalHold.keep_until < now),
            FootageRequest.status.in_(ENDED_REQUESTS),
            expired_request,
        ))
        .order_by(LegalHold.id)
    )
    return list(db.session.scalars(query))


def release_due(now: dt.datetime) -> int:
    holds = due(now)
    for hold in holds:
        if hold.footage_request_id is None:
            reason = "the hold's end date passed"
        elif hold.request is not None and hold.request.status in ENDED_REQUESTS:
            reason = f"request {hold.request.status}"
        else:
            reason = "the export expired and the hold's end date passed"
        release(hold, now, reason=reason, actor="system")
    return len(holds)


# -- what the workers are told --


def spans() -> list[dict[str, Any]]:
    """Every active hold as a (camera, start, end) span, merged per camera: for every worker's disk."""
    rows = db.session.execute(
        select(LegalHold.camera_id, LegalHold.start_at, LegalHold.end_at).where(active())
        .order_by(LegalHold.camera_id, LegalHold.start_at)
    ).all()
    merged: list[list[Any]] = []
    for camera_id, start, end in rows:
        if merged and merged[-1][0] == camera_id and start <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], end)
        else:
            merged.append([camera_id, start, end])
    return [{"camera_id": c, "start": s.isoformat(), "end": e.isoformat()} for c, s, e in merged]


def _held_segments() -> Any:
    return (
        select(RecordingSegment.id)
        .join(LegalHold, LegalHold.camera_id == RecordingSegment.camera_id)
        .where(active(), RecordingSegment.deleted_at.is_(None), RecordingSegment.start_at < LegalHold.end_at,
               RecordingSegment.end_at > LegalHold.start_at)
        .distinct()
    )


def held_paths(worker_id: int, camera_ids: set[int]) -> list[str]:
    """Paths under a hold on this worker's disk: segments it recorded, and any of the cameras it runs now."""
    mine = or_(RecordingSegment.worker_id == worker_id, RecordingSegment.camera_id.in_(camera_ids or {-1}))
    query = select(RecordingSegment.path).where(RecordingSegment.id.in_(_held_segments()), mine)
    return sorted(set(db.session.scalars(query)))


# -- storage --


@dataclass(frozen=True)
class Storage:
    holds: int
    segments: int
    bytes: int
    by_camera: list[tuple[Camera, int, int]]  # camera, segments, bytes
    by_worker: list[tuple[str, int, int, int | None]]  # worker name, segments, bytes, disk total
    exports: int = 0  # exported files still on the workers' disks
    exports_bytes: int = 0


def storage() -> Storage:
    """How much recorded footage active holds keep (each segment counted once, however many holds cover it)."""
    held = select(RecordingSegment.camera_id, RecordingSegment.worker_id, RecordingSegment.bytes).where(
        RecordingSegment.id.in_(_held_segments())).subquery()
    per_camera = db.session.execute(
        select(held.c.camera_id, func.count(), func.coalesce(func.sum(held.c.bytes), 0))
        .group_by(held.c.camera_id)
    ).all()
    per_worker = db.session.execute(
        select(held.c.worker_id, func.count(), func.coalesce(func.sum(held.c.bytes), 0))
        .group_by(held.c.worker_id)
    ).all()
    cameras = {c.id: c for c in db.session.scalars(select(Camera).where(Camera.id.in_([r[0] for r in per_camera])))}
    workers = {w.id: w for w in db.session.scalars(select(Worker))}
    count = db.session.scalar(select(func.count()).select_from(LegalHold).where(active())) or 0
    by_worker = []
    for worker_id, n, size in per_worker:
        worker = workers.get(worker_id)
        by_worker.append((worker.name if worker else "?", int(n), int(size),
                          worker.disk_total_bytes if worker else None))
    files, files_bytes = db.session.execute(
        select(func.count(), func.coalesce(func.sum(FootageExport.bytes), 0)).where(
            FootageExport.status.in_((ExportStatus.DONE.value, ExportStatus.EXPIRED.value)),
            FootageExport.deleted_at.is_(None), FootageExport.path.is_not(None))
    ).one()
    return Storage(
        exports=int(files), exports_bytes=int(files_bytes or 0),
        holds=int(count),
        segments=sum(int(r[1]) for r in per_camera),
        bytes=sum(int(r[2]) for r in per_camera),
        by_camera=sorted(((cameras[r[0]], int(r[1]), int(r[2])) for r in per_camera if r[0] in cameras),
                         key=lambda t: -t[2]),
        by_worker=sorted(by_worker, key=lambda t: -t[2]),
    )
