"""Handing cameras to workers: leases renewed on every sync, taken over when they expire.

A lease's time runs only while the portal runs. Workers keep their cameras through a portal outage (their
grace time), so when the portal (or its database) comes back after a while, a lease that expired meanwhile
must not go to another worker before its holder has had a chance to sync: the first sync after a silence
moves every lease's expiry on by the length of the silence (:func:`bridge_outage`)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from portal.models import Camera, CameraLease, LeaseRelease, Worker, db

RELEASES_KEPT = dt.timedelta(days=2)  # long enough for a worker that was away to come back and hand over


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    hostname: str = ""
    version: str = ""
    capacity: int = 200
    disk_free_bytes: int | None = None
    disk_total_bytes: int | None = None
    disk_guard_active: bool = False
    health: dict[str, Any] | None = None
    media_url: str | None = None  # the node's public media address; None: the portal's own /media
    leaving: bool = False  # the worker is going away: release its leases (contract.worker_api, "Leaving")


def upsert_worker(info: WorkerInfo, now: dt.datetime) -> Worker:
    worker = db.session.scalar(select(Worker).where(Worker.name == info.name))
    if worker is None:
        worker = Worker(name=info.name, created_at=now)
        if _savepoints():
            try:
                with db.session.begin_nested():
                    db.session.add(worker)
            except IntegrityError:  # another portal instance created it a moment ago
                worker = db.session.scalars(select(Worker).where(Worker.name == info.name)).one()
        else:
            db.session.add(worker)
    worker.hostname = info.hostname[:255]
    worker.version = info.version[:40]
    worker.capacity = max(0, info.capacity)
    worker.disk_free_bytes = info.disk_free_bytes
    worker.disk_total_bytes = info.disk_total_bytes
    worker.disk_guard_active = info.disk_guard_active
    worker.health = info.health or {}
    if worker.media_url != info.media_url:
        worker.media_url = info.media_url
    worker.last_seen_at = now
    worker.left_at = now if info.leaving else None
    db.session.flush()
    return worker


def release(worker: Worker, now: dt.datetime) -> list[int]:
    """A worker that said goodbye: drop every lease it holds (the others take the cameras on their next sync)."""
    held = list(db.session.scalars(select(CameraLease).where(CameraLease.worker_id == worker.id)))
    for lease in held:
        note_release(lease, now)
        db.session.delete(lease)
    db.session.flush()
    return [lease.camera_id for lease in held]


def note_release(lease: CameraLease, now: dt.datetime) -> None:
    """Remember that the lease's worker held its camera from ``acquired_at`` until now (see LeaseRelease)."""
    db.session.add(LeaseRelease(camera_id=lease.camera_id, worker_id=lease.worker_id,
                                acquired_at=lease.acquired_at, released_at=now))
    db.session.execute(delete(LeaseRelease).where(LeaseRelease.released_at < now - RELEASES_KEPT))


def held_within(worker: Worker, camera_ids: set[int]) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """The spans (acquired, released) in which this worker held each of these cameras before losing it."""
    spans: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    if not camera_ids:
        return spans
    rows = db.session.execute(select(LeaseRelease.camera_id, LeaseRelease.acquired_at, LeaseRelease.released_at)
                              .where(LeaseRelease.worker_id == worker.id, LeaseRelease.camera_id.in_(camera_ids)))
    for camera_id, acquired, released in rows:
        spans.setdefault(camera_id, []).append((_aware(acquired), _aware(released)))
    return spans


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def live_workers(window: dt.datetime) -> Any:
    """The condition on :class:`Worker` rows of the workers that count: seen within the window, not gone."""
    return (Worker.last_seen_at >= window) & Worker.left_at.is_(None)


OUTAGE_LOCK = 0x70616E74  # pg_advisory_xact_lock key: one sync bridges an outage, the others see it done


def bridge_outage(now: dt.datetime, quiet_s: float) -> dt.timedelta | None:
    """Call before this sync marks its worker seen. If no worker was seen for more than ``quiet_s`` seconds (the
    portal or its database was down, or every worker was), extend every lease by the silence and return it."""
    last = db.session.scalar(select(func.max(Worker.last_seen_at)))
    if last is None or (now - last).total_seconds() <= quiet_s:
        return None
    if _savepoints():  # PostgreSQL: several portal instances may take the first syncs at once; one bridges
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTAGE_LOCK})
        last = db.session.scalar(select(func.max(Worker.last_seen_at)).execution_options(populate_existing=True))
        if last is None or (now - last).total_seconds() <= quiet_s:
            return None
    gap = now - last
    leases = db.session.scalars(select(CameraLease).where(CameraLease.expires_at >= last)).all()
    if not leases:  # nothing was running (a new system: its workers were never seen): nothing to bridge
        return None
    for lease in leases:
        lease.expires_at = lease.expires_at + gap  # the time it had left when the silence began
    db.session.flush()
    return gap


def fair_share(enabled: int, active_workers: int, capacity: int) -> int:
    if enabled <= 0:
        return 0
    return min(capacity, math.ceil(enabled / max(1, active_workers)))


def assign(worker: Worker, now: dt.datetime, lease_seconds: int) -> tuple[list[Camera], dt.datetime]:
    """Renew this worker's leases, drop the ones it may no longer hold, take free cameras up to its share.

    Returns the cameras the worker must run and the new lease expiry.
    """
    expires = now + dt.timedelta(seconds=lease_seconds)
    for lapsed in db.session.scalars(select(CameraLease).where(CameraLease.expires_at < now)).all():
        note_release(lapsed, now)
    db.session.execute(delete(CameraLease).where(CameraLease.expires_at < now))
    held = db.session.scalars(
        select(CameraLease).where(CameraLease.worker_id == worker.id).order_by(CameraLease.camera_id)
    ).all()
    keep: list[int] = []
    for lease in held:
        camera = db.session.get(Camera, lease.camera_id)
        if camera is None or not camera.enabled or len(keep) >= worker.capacity:
            note_release(lease, now)
            db.session.delete(lease)
            continue
        lease.expires_at = expires
        keep.append(lease.camera_id)

    enabled = db.session.scalar(select(func.count()).select_from(Camera).where(Camera.enabled.is_(True))) or 0
    window = now - dt.timedelta(seconds=lease_seconds)
    active = db.session.scalar(select(func.count()).select_from(Worker).where(live_workers(window))) or 1
    share = fair_share(enabled, active, worker.capacity)
    if len(keep) > share and _others_have_room(worker, window, enabled, active):
        # A worker joined (or came back): give up the excess so it can take it on its next sync.
        for lease in held:
            if lease.camera_id in keep[share:]:
                note_release(lease, now)
                db.session.delete(lease)
        keep = keep[:share]
    wanted = share - len(keep)
    if wanted > 0:
        keep.extend(_take_free(worker, wanted, now, expires))
    db.session.flush()
    cameras = db.session.scalars(select(Camera).where(Camera.id.in_(keep)).order_by(Camera.id)).all() if keep else []
    return list(cameras), expires


def _others_have_room(worker: Worker, window: dt.datetime, enabled: int, active: int) -> bool:
    """Is another live worker below its own fair share? Only then is shedding cameras worth a restart."""
    counts: dict[int, int] = {
        worker_id: count
        for worker_id, count in db.session.execute(
            select(CameraLease.worker_id, func.count()).group_by(CameraLease.worker_id)
        )
    }
    others = db.session.scalars(select(Worker).where(live_workers(window), Worker.id != worker.id))
    return any(counts.get(other.id, 0) < fair_share(enabled, active, other.capacity) for other in others)


def _take_free(worker: Worker, wanted: int, now: dt.datetime, expires: dt.datetime) -> list[int]:
    free = (
        select(Camera.id)
        .outerjoin(CameraLease, CameraLease.camera_id == Camera.id)
        .where(Camera.enabled.is_(True), CameraLease.camera_id.is_(None))
        .order_by(Camera.id)
        .limit(wanted)
    )
    if not _savepoints():  # SQLite: one writer at a time, nothing can race us
        ids = list(db.session.scalars(free).all())
        db.session.add_all(
            CameraLease(camera_id=i, worker_id=worker.id, acquired_at=now, expires_at=expires) for i in ids
        )
        return ids
    taken: list[int] = []
    for camera_id in db.session.scalars(free.with_for_update(of=Camera, skip_locked=True)).all():
        try:
            with db.session.begin_nested():
                db.session.add(
                    CameraLease(camera_id=camera_id, worker_id=worker.id, acquired_at=now, expires_at=expires)
                )
        except IntegrityError:  # taken by a concurrent sync between our select and insert
            continue
        taken.append(camera_id)
    return taken


def _savepoints() -> bool:
    """Row locks and savepoints on PostgreSQL; SQLite (pysqlite) has neither in a usable form."""
    return db.session.get_bind().dialect.name == "postgresql"
