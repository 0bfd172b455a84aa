"""Cameras, their live status, the workers that run them and the recordings they leave."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contract import status as contract_status
from contract.media import MEDIA_KEY_BYTES
from portal.models.base import db, utcnow
from portal.secret import redact_url

if TYPE_CHECKING:
    from portal.models.people import Agency

CAMERA_CATEGORIES = ("traffic", "beach", "market", "border", "public_space", "government", "river", "other")
STATUSES = contract_status.STATUSES
REASONS = contract_status.REASONS
REASON_MAX_LENGTH = contract_status.REASON_MAX_LENGTH


def new_media_key() -> str:
    return secrets.token_hex(MEDIA_KEY_BYTES)


class Camera(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    district: Mapped[str] = mapped_column(String(80), default="", index=True)
    category: Mapped[str] = mapped_column(String(40), default="other", index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"))
    source_url: Mapped[str] = mapped_column(Text)
    substream_url: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    recording: Mapped[bool] = mapped_column(Boolean, default=True)
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    audio: Mapped[str] = mapped_column(String(8), default="drop")
    media_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_media_key)
    # an owner agency (e.g. Polda sharing its cameras) decides whether its camera may be shown to the public
    owner_allows_public: Mapped[bool] = mapped_column(Boolean, default=True)
    # removed from service: not run, not shown, but its recordings, index and legal holds stay
    archived_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency | None] = relationship()
    status: Mapped[CameraStatus | None] = relationship(
        back_populates="camera", uselist=False, cascade="all, delete-orphan", lazy="joined"
    )
    lease: Mapped[CameraLease | None] = relationship(
        back_populates="camera", uselist=False, cascade="all, delete-orphan"
    )

    @property
    def source_redacted(self) -> str:
        return redact_url(self.source_url)

    @property
    def status_name(self) -> str:
        return self.status.status if self.status else "unknown"

    @property
    def publicly_visible(self) -> bool:
        """The one rule for what the public sees (portal.public.catalogue.publicly_visible in SQL)."""
        return bool(self.public and self.enabled and self.may_be_public)

    @property
    def may_be_public(self) -> bool:
        """May this camera be made public? Not when archived, nor when its owner agency has not allowed it."""
        return self.archived_at is None and (self.agency_id is None or self.owner_allows_public)


class CameraStatus(db.Model):  # type: ignore[name-defined,misc]
    """The latest state a worker reported for a camera (one row per camera, overwritten): the status an operator
    acts on (``contract.status``), the reason code behind it and the technical line (``error``)."""

    __tablename__ = "camera_status"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status_known"),
        CheckConstraint(f"reason IS NULL OR reason IN ({', '.join(repr(r) for r in sorted(REASONS))})",
                        name="reason_known"),
    )

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    state: Mapped[str] = mapped_column(String(16), default="stopped")
    error: Mapped[str | None] = mapped_column(Text)
    stderr_tail: Mapped[str | None] = mapped_column(Text)
    bitrate_kbps: Mapped[float | None] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    codec: Mapped[str | None] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    last_segment_at: Mapped[dt.datetime | None] = mapped_column()
    last_online_at: Mapped[dt.datetime | None] = mapped_column()
    restarts_last_hour: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    camera: Mapped[Camera] = relationship(back_populates="status")


class Worker(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[str] = mapped_column(String(40), default="")
    capacity: Mapped[int] = mapped_column(Integer, default=200)
    disk_free_bytes: Mapped[int | None] = mapped_column(BigInteger)
    disk_total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    disk_guard_active: Mapped[bool] = mapped_column(Boolean, default=False)
    health: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Where this worker's node serves its media (the sync's worker.media_url); NULL: the portal's own /media.
    media_url: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # When the worker said goodbye (a sync with worker.leaving: it stopped, or it was killed and its watcher
    # spoke for it): its leases are gone and it no longer counts as a live worker; NULL again on its next sync.
    left_at: Mapped[dt.datetime | None] = mapped_column()
    # The worker's own credential (``pantau workers add``): only its SHA-256 is kept; NULL when revoked.
    credential_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    credential_issued_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class CameraLease(db.Model):  # type: ignore[name-defined,misc]
    """Which worker runs a camera, until when. One row per camera: at most one holder, whose media node viewers
    are sent to. While the lease is handed over (``handover_since``), a ``successor`` on another media node runs
    the camera too, until its own live playlist is there (portal/workers/leases.py, "Warm handovers")."""

    __tablename__ = "camera_leases"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    acquired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"), index=True)
    handover_since: Mapped[dt.datetime | None] = mapped_column()

    camera: Mapped[Camera] = relationship(back_populates="lease")
    worker: Mapped[Worker] = relationship(foreign_keys=[worker_id])
    successor: Mapped[Worker | None] = relationship(foreign_keys=[successor_id])


class LeaseRelease(db.Model):  # type: ignore[name-defined,misc]
    """A lease a worker held and lost (it left, shed the camera to another worker, or let it run out): the span in
    which the footage of that camera on its disk was recorded by right, so the segments it hands over after the
    camera moved (the last one of a stopped ffmpeg, what a killed one left) are indexed, and nothing else."""

    __tablename__ = "lease_releases"
    __table_args__ = (Index("ix_lease_releases_worker_camera", "worker_id", "camera_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"))
    acquired_at: Mapped[dt.datetime] = mapped_column()
    released_at: Mapped[dt.datetime] = mapped_column(index=True)


class RecordingSegment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "recording_segments"
    __table_args__ = (
        UniqueConstraint("camera_id", "path", name="uq_recording_segments_camera_path"),
        Index("ix_recording_segments_camera_start", "camera_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # RESTRICT: the index of recordings is never dropped with a camera (cameras are archived, not deleted)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="RESTRICT"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    start_at: Mapped[dt.datetime] = mapped_column()
    end_at: Mapped[dt.datetime] = mapped_column()
    bytes: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(500))
    init_bytes: Mapped[int | None] = mapped_column(Integer)  # size of the ftyp+moov head (archive playback)
    deleted_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


CAMERA_EVENT_KINDS = ("down", "up", "restart", "error")


class CameraEvent(db.Model):  # type: ignore[name-defined,misc]
    """A camera's recent history for the health page: outages (down/up), restarts, new errors (redacted)."""

    __tablename__ = "camera_events"
    __table_args__ = (
        Index("ix_camera_events_camera_at", "camera_id", "at"),
        CheckConstraint(f"kind IN {CAMERA_EVENT_KINDS!r}", name="kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))


class CameraGroup(db.Model):  # type: ignore[name-defined,misc]
    """Cameras an admin put together (all clinics, all junctions, one district), opened as a video wall."""

    __tablename__ = "camera_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    members: Mapped[list[CameraGroupMember]] = relationship(
        cascade="all, delete-orphan", order_by="CameraGroupMember.position"
    )


class CameraGroupMember(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "camera_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("camera_groups.id", ondelete="CASCADE"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    camera: Mapped[Camera] = relationship()
