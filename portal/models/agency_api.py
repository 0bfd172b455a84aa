"""Agencies' own systems: API tokens (only a hash at rest) and the callbacks they sent (idempotent by the
client's request id)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import db, utcnow
from portal.models.people import Agency


class AgencyToken(db.Model):  # type: ignore[name-defined,misc]
    """A bearer token of one agency's system: SHA-256 of the token stored, the token shown once."""

    __tablename__ = "agency_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16), default="")  # the token's last characters, to tell them apart
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()

    agency: Mapped[Agency] = relationship()


class AgencyCallback(db.Model):  # type: ignore[name-defined,misc]
    """One request of an agency's system, kept so a retry with the same request id gets the same answer."""

    __tablename__ = "agency_callbacks"
    __table_args__ = (UniqueConstraint("agency_id", "request_id", name="uq_agency_callbacks_request"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of what was asked
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id", ondelete="SET NULL"))
    http_status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
