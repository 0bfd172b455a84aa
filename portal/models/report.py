"""The public's reports (issue 10, ``portal.reports``): photos, where a report came from, and the blocklist.

- ``ReportPhoto``: a photo re-encoded by the portal (never the uploaded bytes), stored outside the public media.
- ``ReportOrigin``: the address a report was sent from and why it was flagged; staff only, never on a public page.
- ``ReportBlock``: a phone number or network address operators blocked (refused) or watch (flagged).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import db, utcnow

BLOCK_KINDS = ("phone", "address")
BLOCK_ACTIONS = ("refuse", "flag")


class ReportPhoto(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "report_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # path under <instance>/report-photos
    content_type: Mapped[str] = mapped_column(String(40), default="image/jpeg")
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReportOrigin(db.Model):  # type: ignore[name-defined,misc]
    """One row per report: the sender's address (for per-address limits and the blocklist) and the flags."""

    __tablename__ = "report_origins"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="", index=True)  # normalised, +62...
    # the sender's own id for this report (the offline queue's): a report sent twice is stored once
    client_ref: Mapped[str] = mapped_column(String(40), default="", index=True)
    suspicious: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ReportBlock(db.Model):  # type: ignore[name-defined,misc]
    """A blocklist entry: ``refuse`` turns reports away with a message, ``flag`` keeps them flagged."""

    __tablename__ = "report_blocks"
    __table_args__ = (
        CheckConstraint(f"kind IN {BLOCK_KINDS!r}", name="kind"),
        CheckConstraint(f"action IN {BLOCK_ACTIONS!r}", name="action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64), index=True)  # +62... or an IP address or network (CIDR)
    action: Mapped[str] = mapped_column(String(16), default="refuse")
    reason: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column()

    def as_audit(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "action": self.action, "reason": self.reason,
                "active": self.active, "expires_at": self.expires_at.isoformat() if self.expires_at else None}
