"""Open311 GeoReport v2 clients (their API keys, stored as SHA-256 only) and which client posted which report."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import db, utcnow


class Open311Client(db.Model):  # type: ignore[name-defined,misc]
    """A civic-reporting app allowed to post reports: one API key each, shown once, revocable."""

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    contact: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # SHA-256 hex; None once revoked
    key_hint: Mapped[str] = mapped_column(String(24), default="")  # the key's first characters, to recognise it
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    requests_posted: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def active(self) -> bool:
        return self.key_hash is not None and self.revoked_at is None


class Open311Request(db.Model):  # type: ignore[name-defined,misc]
    """A report that arrived through Open311: which client sent it (its own device/account ids, bounded)."""

    __tablename__ = "open311_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("open311_clients.id", ondelete="SET NULL"), index=True)
    device_id: Mapped[str] = mapped_column(String(100), default="")
    account_id: Mapped[str] = mapped_column(String(100), default="")
    media_url: Mapped[str] = mapped_column(String(300), default="")  # the app's photo link (never fetched)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
