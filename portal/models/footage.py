"""Footage for the police: requests, their per-camera exports and download links, residents' hold requests,
and the legal holds that keep footage from retention and the disk guard.

Statuses are enums with their allowed moves in one table each (``REQUEST_TRANSITIONS``,
``EXPORT_TRANSITIONS``); :meth:`FootageRequest.move` and :meth:`FootageExport.move` are the only way code
changes a status, and a CHECK constraint makes the database refuse any other value (migration 0011).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import db, utcnow

if TYPE_CHECKING:
    from portal.models.camera import Camera, Worker
    from portal.models.people import User


class TransitionError(ValueError):
    """A status change its domain's table does not allow."""

    def __init__(self, domain: str, current: str, wanted: str) -> None:
        super().__init__(f"{domain}: {current} -> {wanted} is not allowed")
        self.domain, self.current, self.wanted = domain, current, wanted


def in_check(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    """``column IN ('a', 'b', ...)`` as a named CHECK constraint (values are code constants, never input)."""
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


class RequestStatus(StrEnum):
    PENDING = "pending"  # asked; the footage is held at once
    APPROVED = "approved"  # an admin (not the requester) said yes; export jobs are queued
    REJECTED = "rejected"  # an admin said no; the request's holds are released
    CANCELLED = "cancelled"  # the requester withdrew it before a decision
    EXPORTING = "exporting"  # a worker is cutting the footage
    READY = "ready"  # every export finished, the manifest is signed, the link works until expires_at
    FAILED = "failed"  # no export could be made; an admin may try again
    EXPIRED = "expired"  # the link and the files are gone


R = RequestStatus
REQUEST_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    R.PENDING: frozenset({R.APPROVED, R.REJECTED, R.CANCELLED}),
    R.APPROVED: frozenset({R.EXPORTING, R.READY, R.FAILED}),
    R.EXPORTING: frozenset({R.READY, R.FAILED}),
    R.FAILED: frozenset({R.APPROVED}),  # an admin tries again
    R.READY: frozenset({R.EXPIRED}),
    R.REJECTED: frozenset(),
    R.CANCELLED: frozenset(),
    R.EXPIRED: frozenset(),
}
REQUEST_STATUSES = tuple(s.value for s in RequestStatus)
OPEN_REQUEST_STATUSES = (R.PENDING.value, R.APPROVED.value, R.EXPORTING.value)


class ExportStatus(StrEnum):
    QUEUED = "queued"  # waiting for the worker that holds the recordings
    RUNNING = "running"  # that worker is cutting it
    DONE = "done"  # the file exists on the worker's disk, hashed
    EMPTY = "empty"  # nothing was recorded in the asked span (listed in the manifest, no file)
    FAILED = "failed"  # ffmpeg or the disk failed; the error says why
    EXPIRED = "expired"  # the file is past its days; the worker deletes it


E = ExportStatus
EXPORT_TRANSITIONS: dict[ExportStatus, frozenset[ExportStatus]] = {
    E.QUEUED: frozenset({E.RUNNING, E.DONE, E.EMPTY, E.FAILED}),
    E.RUNNING: frozenset({E.DONE, E.FAILED, E.QUEUED}),
    E.FAILED: frozenset({E.QUEUED}),
    E.DONE: frozenset({E.EXPIRED}),
    E.EMPTY: frozenset({E.QUEUED}),
    E.EXPIRED: frozenset(),
}
EXPORT_STATUSES = tuple(s.value for s in ExportStatus)
FINISHED_EXPORTS = (E.DONE.value, E.EMPTY.value, E.FAILED.value)


class HoldKind(StrEnum):
    POLICE = "police"  # put by a police footage request, governed by it
    RESIDENT = "resident"  # put by a resident's request: a short hold, until keep_until
    ADMIN = "admin"  # put by an admin by hand


HOLD_KINDS = tuple(k.value for k in HoldKind)


def allowed(table: dict[Any, frozenset[Any]], current: str, wanted: str) -> bool:
    return any(state.value == current and any(t.value == wanted for t in targets) for state, targets in table.items())


def check_move(domain: str, table: dict[Any, frozenset[Any]], current: str, wanted: str) -> None:
    if not allowed(table, current, wanted):
        raise TransitionError(domain, current, wanted)


footage_request_cameras = Table(
    "footage_request_cameras",
    db.Model.metadata,
    Column("request_id", ForeignKey("footage_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("camera_id", ForeignKey("cameras.id", ondelete="RESTRICT"), primary_key=True),
)


class FootageRequest(db.Model):  # type: ignore[name-defined,misc]
    """Police ask for one or several cameras over one time range, for a case."""

    __tablename__ = "footage_requests"
    __table_args__ = (
        in_check("status", REQUEST_STATUSES, "status"),
        CheckConstraint("end_at > start_at", name="span"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(80), index=True)
    legal_basis: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    start_at: Mapped[dt.datetime] = mapped_column()
    end_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=R.PENDING.value, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(Text, default="")
    ready_at: Mapped[dt.datetime | None] = mapped_column()
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    manifest: Mapped[str | None] = mapped_column(Text)  # the signed manifest, byte for byte as downloaded
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    requester_seen_at: Mapped[dt.datetime | None] = mapped_column()  # the requester saw the latest decision
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    cameras: Mapped[list[Camera]] = relationship(secondary=footage_request_cameras, order_by="Camera.id")
    exports: Mapped[list[FootageExport]] = relationship(back_populates="request", order_by="FootageExport.id",
                                                        cascade="all, delete-orphan")
    holds: Mapped[list[LegalHold]] = relationship(back_populates="request", order_by="LegalHold.id")

    def move(self, wanted: RequestStatus) -> None:
        check_move("footage request", REQUEST_TRANSITIONS, self.status, wanted.value)
        self.status = wanted.value


class FootageExport(db.Model):  # type: ignore[name-defined,misc]
    """One MP4 of one camera for one request, cut on the worker that holds the recordings.

    A camera that moved between workers within the asked span has one export per worker (each lists its part).
    """

    __tablename__ = "footage_exports"
    __table_args__ = (in_check("status", EXPORT_STATUSES, "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("footage_requests.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="RESTRICT"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=E.QUEUED.value, index=True)
    start_at: Mapped[dt.datetime] = mapped_column()  # the part of the asked span this export covers
    end_at: Mapped[dt.datetime] = mapped_column()
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    path: Mapped[str | None] = mapped_column(String(500))  # relative to the worker's media root
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    actual_start: Mapped[dt.datetime | None] = mapped_column()
    actual_end: Mapped[dt.datetime | None] = mapped_column()
    gaps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    worker_name: Mapped[str] = mapped_column(String(120), default="")
    worker_version: Mapped[str] = mapped_column(String(40), default="")
    ffmpeg_version: Mapped[str] = mapped_column(String(80), default="")
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    deleted_at: Mapped[dt.datetime | None] = mapped_column()  # the worker confirmed the file is gone
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    request: Mapped[FootageRequest] = relationship(back_populates="exports")
    camera: Mapped[Camera] = relationship()
    worker: Mapped[Worker | None] = relationship()

    def move(self, wanted: ExportStatus) -> None:
        check_move("footage export", EXPORT_TRANSITIONS, self.status, wanted.value)
        self.status = wanted.value

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1] if self.path else ""


class DownloadLink(db.Model):  # type: ignore[name-defined,misc]
    """An expiring link to a ready request's package, for one user only (anyone else is refused)."""

    __tablename__ = "footage_download_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("footage_requests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    expired_logged_at: Mapped[dt.datetime | None] = mapped_column()
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    request: Mapped[FootageRequest] = relationship()


class ResidentHoldRequest(db.Model):  # type: ignore[name-defined,misc]
    """A resident asks to keep footage until the police can ask for it; the resident never sees it."""

    __tablename__ = "resident_hold_requests"
    __table_args__ = (CheckConstraint("end_at > start_at", name="span"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # given to the resident, told to the police
    phone: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200), default="")
    police_report_number: Mapped[str] = mapped_column(String(80), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    start_at: Mapped[dt.datetime] = mapped_column()
    end_at: Mapped[dt.datetime] = mapped_column()
    camera_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    keep_until: Mapped[dt.datetime] = mapped_column()
    ip: Mapped[str] = mapped_column(String(64), default="")
    taken_over_by_id: Mapped[int | None] = mapped_column(ForeignKey("footage_requests.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LegalHold(db.Model):  # type: ignore[name-defined,misc]
    """Footage of a camera between two times that retention and the disk guard must keep.

    A hold of a footage request lasts as long as the request needs it (see ``portal.footage.holds``); one
    without a request (a resident's, an admin's) lasts until ``keep_until``. Only an admin releases one early,
    with a reason. Holds outlive their camera: a camera is archived, never deleted, while holds point at it.
    """

    __tablename__ = "legal_holds"
    __table_args__ = (
        in_check("kind", HOLD_KINDS, "kind"),
        Index("ix_legal_holds_active", "released_at", "camera_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: a hold outlives any attempt to delete its camera (cameras are archived, not deleted)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="RESTRICT"), index=True)
    start_at: Mapped[dt.datetime] = mapped_column()
    end_at: Mapped[dt.datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16), default=HoldKind.ADMIN.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    footage_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("footage_requests.id", ondelete="SET NULL"), index=True
    )
    resident_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident_hold_requests.id", ondelete="SET NULL"), index=True
    )
    keep_until: Mapped[dt.datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column()
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    release_reason: Mapped[str] = mapped_column(Text, default="")

    camera: Mapped[Camera] = relationship()
    request: Mapped[FootageRequest | None] = relationship(back_populates="holds")
    resident_request: Mapped[ResidentHoldRequest | None] = relationship()
