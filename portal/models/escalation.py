"""Who hears of a dispatch whose SLA ran out unacknowledged: the command centre's supervisor (level 1), then the
officials named for the report's category (level 2; in Kendari the mayor, vice mayor or city secretary)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import db, utcnow

ESCALATION_LEVELS = (1, 2)  # 1: command centre supervisor, 2: officials for the category


class EscalationContact(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "escalation_contacts"
    __table_args__ = (CheckConstraint("level IN (1, 2)", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    category: Mapped[str] = mapped_column(String(32), default="", index=True)  # "": every category
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")  # e.g. Wali Kota Kendari
    email: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
