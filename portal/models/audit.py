"""The audit log: who did what to which thing, append-only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import db, utcnow


class AuditEntry(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(120), default="system")
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


def record(action: str, *, actor: str = "system", actor_user_id: int | None = None, target_type: str = "",
           target_id: object = None, ip: str | None = None, **detail: Any) -> AuditEntry:
    """Add an audit entry to the current session (committed with the change it describes)."""
    entry = AuditEntry(
        action=action, actor=actor, actor_user_id=actor_user_id, target_type=target_type,
        target_id=None if target_id is None else str(target_id), detail=detail, ip=ip,
    )
    db.session.add(entry)
    return entry
