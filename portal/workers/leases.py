"""Handing cameras to workers: leases renewed on every sync, taken over when they expire.

A lease's time runs only while the portal runs. Workers keep their cameras through a portal outage (their
grace time), so when the portal (or its database) comes back after a while, a lease that expired meanwhile
must not go to another worker before its holder has had a chance to sync: the first sync after a silence
moves every lease's expiry on by the length of the silence (:func:`bridge_outage`).

Warm handovers. When a worker joins (or comes back) and another holds more than its share, the excess moves.
Stopping a camera on one worker and starting it on the other costs its viewers the time the new ffmpeg takes to
write its first segments (about 3 s, for every camera moved). So a worker on a media node of its own hands a
camera over warm: the lease is marked ``handover_since`` and the holder keeps running it; a worker on another
media node takes it as its ``successor`` and runs it too; viewers stay on the holder's node until the successor's
sync reports the camera online, then the lease is the successor's (viewers go there, the old holder stops it at
its next sync). A successor that never sees the camera live (its source is down) takes it after
``HANDOVER_MAX_S`` anyway; a handover nobody takes by then is let go as before. Workers that share one media
folder (the embedded default: no media address) never run one camera at once: theirs move as before."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from portal.models import Camera, CameraLease, LeaseRelease, Worker, db

RELEASES_KEPT = dt.timedelta(days=2)  # long enough for a worker that was away to come back and hand over
HANDOVER_MAX_S = 20.0  # a warm handover completes by then even if the camera never went live at the successor


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
        if lease.successor_id is not None:  # in the middle of a warm handover: the successor runs it already
            transfer(lease, lease.successor_id, now, lease.expires_at)
        else:
            let_go(lease, now)
    for lease in db.session.scalars(select(CameraLease).where(CameraLease.successor_id == worker.id)):
        lease.successor_id = None  # it was warming these up: another worker may take them over instead
    db.session.flush()
    return [lease.camera_id for lease in held]


def let_go(lease: CameraLease, now: dt.datetime) -> None:
    """The lease ends: its camera is free for whoever has room (what its holder recorded stays indexable)."""
    note_release(lease, now)
    db.session.delete(lease)


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


@dataclass
class Assignment:
    """What one sync gives a worker: the cameras it must run (``run``: the ones it holds, and the ones it warms up
    as a successor), which of them it holds (its statuses and segments count), and until when."""

    run: list[Camera]
    held: set[int]
    expires: dt.datetime


def assign(worker: Worker, now: dt.datetime, lease_seconds: int, live: AbstractSet[int] = frozenset()) -> Assignment:
    """Renew this worker's leases, drop the ones it may no longer hold, hand over its excess, complete the
    handovers to it whose camera it reports live (``live``: the cameras this sync says are online), take cameras
    being handed over and free ones up to its share."""
    expires = now + dt.timedelta(seconds=lease_seconds)
    for lapsed in db.session.scalars(select(CameraLease).where(CameraLease.expires_at < now)).all():
        if lapsed.successor_id is not None:  # its holder died without a word: the successor runs it already
            transfer(lapsed, lapsed.successor_id, now, now + dt.timedelta(seconds=lease_seconds))
        else:
            let_go(lapsed, now)
    db.session.flush()
    window = now - dt.timedelta(seconds=lease_seconds)
    for lease in db.session.scalars(select(CameraLease).where(CameraLease.successor_id == worker.id)).all():
        if lease.camera_id in live or _since(lease.handover_since, now) > HANDOVER_MAX_S:
            transfer(lease, worker.id, now, expires)  # live here now (or its source is down anyway): ours
    held = db.session.scalars(
        select(CameraLease).where(CameraLease.worker_id == worker.id).order_by(CameraLease.camera_id)
    ).all()
    keep: list[int] = []
    handing: list[int] = []
    for lease in held:
        camera = db.session.get(Camera, lease.camera_id)
        if camera is None or not camera.enabled or len(keep) + len(handing) >= worker.capacity:
            let_go(lease, now)
            continue
        lease.expires_at = expires
        if lease.handover_since is not None:
            overdue = _since(lease.handover_since, now) > HANDOVER_MAX_S
            if overdue and (lease.successor is None or not _is_live(lease.successor, window)):
                # nobody took it (every other worker shares this one's media folder, or is full), or the one
                # that did is gone: let it go the old way, for whoever has room
                let_go(lease, now)
                continue
            handing.append(lease.camera_id)
            continue
        keep.append(lease.camera_id)
    warming = list(db.session.scalars(select(CameraLease.camera_id).where(CameraLease.successor_id == worker.id)))

    enabled = db.session.scalar(select(func.count()).select_from(Camera).where(Camera.enabled.is_(True))) or 0
    active = db.session.scalar(select(func.count()).select_from(Worker).where(live_workers(window))) or 1
    share = fair_share(enabled, active, worker.capacity)
    if len(keep) > share and _others_have_room(worker, window, enabled, active):
        # A worker joined (or came back): give up the excess. On a media node of its own, a camera is handed
        # over warm (we keep running it until the taker's playlist is live); sharing the portal's media folder,
        # it is let go at once (two ffmpegs must not write one camera's folder).
        for lease in held:
            if lease.camera_id in keep[share:]:
                if worker.media_url:
                    lease.handover_since = now
                    handing.append(lease.camera_id)
                else:
                    let_go(lease, now)
        keep = keep[:share]
    wanted = share - len(keep) - len(warming)
    if wanted > 0 and worker.media_url:
        warming.extend(_take_handovers(worker, wanted))
        wanted = share - len(keep) - len(warming)
    if wanted > 0:
        keep.extend(_take_free(worker, wanted, now, expires))
    db.session.flush()
    ids = set(keep) | set(handing) | set(warming)
    cameras = db.session.scalars(select(Camera).where(Camera.id.in_(ids)).order_by(Camera.id)).all() if ids else []
    return Assignment(run=list(cameras), held=set(keep) | set(handing), expires=expires)


def transfer(lease: CameraLease, successor_id: int, now: dt.datetime, expires: dt.datetime) -> None:
    """The successor becomes the holder (viewers are sent to its media node from now on); the old holder stops
    the camera at its next sync, and the footage it recorded while it held it stays indexable (LeaseRelease)."""
    note_release(lease, now)
    lease.worker_id = successor_id
    lease.acquired_at = now
    lease.expires_at = expires
    lease.successor_id = None
    lease.handover_since = None
    db.session.flush()


def _since(moment: dt.datetime | None, now: dt.datetime) -> float:
    return (now - _aware(moment)).total_seconds() if moment is not None else 0.0


def _is_live(worker: Worker, window: dt.datetime) -> bool:
    return worker.left_at is None and worker.last_seen_at is not None and _aware(worker.last_seen_at) >= window


def _take_handovers(worker: Worker, wanted: int) -> list[int]:
    """Become the successor of cameras other workers are handing over, from media nodes other than ours."""
    offered = (
        select(CameraLease)
        .join(Worker, Worker.id == CameraLease.worker_id)
        .where(CameraLease.handover_since.is_not(None), CameraLease.successor_id.is_(None),
               CameraLease.worker_id != worker.id, Worker.media_url.is_not(None),
               Worker.media_url != (worker.media_url or ""))
        .order_by(CameraLease.camera_id)
        .limit(wanted)
    )
    if _savepoints():  # PostgreSQL: two workers syncing at once must not both take the same one
        offered = offered.with_for_update(of=CameraLease, skip_locked=True)
    taken = []
    for lease in db.session.scalars(offered).all():
        lease.successor_id = worker.id
        taken.append(lease.camera_id)
    db.session.flush()
    return taken


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
