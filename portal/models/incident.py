"""112 incidents, their immutable event log, routing rules, dispatches and the outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.models.base import db, utcnow

INCIDENT_CATEGORIES = (
    "fire", "accident", "brawl", "crime", "missing_person", "disaster", "medical", "city_problem", "other",
)
INCIDENT_STATUSES = ("new", "verified", "dispatched", "resolved", "rejected", "merged")
DISPATCH_STATUSES = ("pending", "sent", "acknowledged", "en_route", "on_scene", "done", "rejected", "cancelled")


class Incident(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(20), unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    district: Mapped[str] = mapped_column(String(80), default="", index=True)
    reporter_name: Mapped[str] = mapped_column(String(200), default="")
    reporter_phone: Mapped[str] = mapped_column(String(40), default="")
    source: Mapped[str] = mapped_column(String(16), default="web")
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    events: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident", order_by="IncidentEvent.id", cascade="save-update"
    )


class IncidentEvent(db.Model):  # type: ignore[name-defined,misc]
    """Append-only: an event, once written, is never updated or deleted (enforced below)."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="events")


class ImmutableRecordError(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_event_changes(session: Session, _ctx: object, _instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, IncidentEvent | AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise ImmutableRecordError(f"{type(obj).__name__} rows are append-only")


class RoutingRule(db.Model):  # type: ignore[name-defined,misc]
    """Which agency gets an incident of a category (optionally only in one district)."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    district: Mapped[str | None] = mapped_column(String(80))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    sla_minutes: Mapped[int] = mapped_column(Integer, default=15)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Dispatch(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "dispatches"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    sla_due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # SLA escalation (portal/dispatch/escalation.py): 0 none yet, 1 the supervisor, 2 the officials
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[dt.datetime | None] = mapped_column()


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    """A message to deliver (webhook, CAP alert), written in the same transaction as its cause."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    destination: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(80), default="application/json")
    payload: Mapped[str] = mapped_column(Text)
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    # delivery (portal/dispatch/delivery.py): the id a receiver keeps to apply a message once, and the claim of
    # the jobs process sending it now (a claim that outlives its lease, e.g. after SIGKILL, is taken over)
    delivery_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"))
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    # a notice to a footage requester (portal/footage/notices.py): shown on the request's page with its outcome
    footage_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("footage_requests.id", ondelete="SET NULL"), index=True)


from portal.models.audit import AuditEntry  # noqa: E402  (the guard above needs it)
