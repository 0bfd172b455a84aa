"""Police requests for archived footage, and legal holds that keep footage from deletion."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import db, utcnow

FOOTAGE_STATUSES = ("pending", "approved", "rejected", "exporting", "ready", "failed", "expired")


class FootageRequest(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "footage_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(80), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    start_at: Mapped[dt.datetime] = mapped_column()
    end_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(Text, default="")
    export_path: Mapped[str | None] = mapped_column(String(500))
    export_bytes: Mapped[int | None] = mapped_column(BigInteger)
    export_sha256: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LegalHold(db.Model):  # type: ignore[name-defined,misc]
    """Footage of a camera between two times that retention and the disk guard must keep."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: a hold outlives any attempt to delete its camera (cameras are archived, not deleted)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="RESTRICT"), index=True)
    start_at: Mapped[dt.datetime] = mapped_column()
    end_at: Mapped[dt.datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    footage_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("footage_requests.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column()
