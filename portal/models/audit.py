"""The audit log: who did what to which thing, from where; append-only and hash-chained.

``record()`` is the one way to write an entry; it is added to the current session and committed with the change it
describes. When the caller names no actor (or no address), the signed-in user and the request's address are used,
so a view's call is one line:
``record("camera.update", target_type="camera", target_id=cam.id, before=..., after=...)``.

Every entry carries a sequence number, the hash of the entry before it and its own hash (SHA-256 over the entry's
fields and that previous hash). The chain is extended when the session flushes, under a lock on the one-row
``audit_head`` table (a row lock on PostgreSQL, the write lock on SQLite), so concurrent writers queue instead of
forking the chain; ``audit_head`` remembers the last sequence number and hash, so deleting the newest entries is
seen too. The database refuses UPDATE and DELETE on ``audit_log`` (triggers, migration 0009); ``verify_chain``
(``pantau audit verify``) finds an entry edited, removed or inserted behind the application's back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.models.base import db, utcnow

GENESIS = ""  # the "previous hash" of the first entry
_order = itertools.count()


class AuditEntry(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), unique=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(db.Model):  # type: ignore[name-defined,misc]
    """One row: the newest entry's sequence number and hash (and the lock writers queue on)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def _plain(detail: Any) -> dict[str, Any]:
    """What the JSON column will give back (tuples as lists, dates as text), so the hash survives a round trip."""
    value = json.loads(json.dumps(detail or {}, default=str))
    return value if isinstance(value, dict) else {"value": value}


def _when(at: dt.datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_hash(*, seq: int, prev_hash: str, at: dt.datetime, actor_user_id: int | None, actor: str, action: str,
               target_type: str, target_id: str | None, detail: dict[str, Any], ip: str | None) -> str:
    body = [seq, prev_hash, _when(at), actor_user_id, actor, action, target_type, target_id, detail, ip]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def hash_of(entry: AuditEntry) -> str:
    return entry_hash(seq=entry.seq, prev_hash=entry.prev_hash, at=entry.at, actor_user_id=entry.actor_user_id,
                      actor=entry.actor, action=entry.action, target_type=entry.target_type or "",
                      target_id=entry.target_id, detail=entry.detail or {}, ip=entry.ip)


def record(action: str, *, actor: str | None = None, actor_user_id: int | None = None, target_type: str = "",
           target_id: object = None, ip: str | None = None, **detail: Any) -> AuditEntry:
    """Add an audit entry to the current session (committed with the change it describes).

    ``actor``/``actor_user_id``/``ip`` default to the signed-in user and the address of the current request
    (``"system"`` outside a request). Leave secrets out of ``detail``.
    """
    if actor is None:
        from portal.auth.actor import current_actor  # the request's user; the models stay importable without it

        who = current_actor()
        actor, actor_user_id = who.name, who.user_id if actor_user_id is None else actor_user_id
        ip = ip if ip is not None else who.ip
    entry = AuditEntry(
        action=action, actor=actor, actor_user_id=actor_user_id, target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:40], detail=_plain(detail), ip=ip,
    )
    db.session.add(entry)
    return entry


@event.listens_for(AuditEntry, "init")
def _remember_order(target: AuditEntry, _args: object, _kwargs: object) -> None:
    target.__dict__["_audit_order"] = next(_order)


@event.listens_for(Session, "before_flush")
def _extend_chain(session: Session, _ctx: object, _instances: object) -> None:
    new = [o for o in session.new if isinstance(o, AuditEntry)]
    if not new:
        return
    new.sort(key=lambda e: e.__dict__.get("_audit_order", 0))
    connection = session.connection()
    head_table = AuditHead.__table__
    # Lock the head first (a row lock on PostgreSQL, the database's write lock on SQLite), then read it.
    connection.execute(update(head_table).where(head_table.c.id == 1).values(seq=head_table.c.seq))
    row = connection.execute(select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)).first()
    if row is None:
        raise RuntimeError("audit_head is missing: run `pantau db upgrade`")
    seq, previous = int(row[0]), str(row[1])
    for entry in new:
        seq += 1
        entry.seq = seq
        entry.prev_hash = previous
        entry.at = entry.at or utcnow()
        entry.actor = entry.actor or "system"
        entry.target_type = entry.target_type or ""
        entry.detail = _plain(entry.detail)
        entry.hash = previous = hash_of(entry)
    connection.execute(update(head_table).where(head_table.c.id == 1).values(seq=seq, hash=previous))


@dataclass
class ChainReport:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _entries(batch: int = 2000) -> Iterator[AuditEntry]:
    last = -1
    while True:
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        db.session.expunge_all()


def verify_chain(max_problems: int = 50) -> ChainReport:
    """Walk the whole log in order: numbering without gaps, each link, each hash, and the head."""
    report = ChainReport()
    expected_seq, previous = 1, GENESIS

    def problem(text: str) -> None:
        if len(report.problems) < max_problems:
            report.problems.append(text)

    for entry in _entries():
        report.entries += 1
        if entry.seq != expected_seq:
            problem(f"entries {expected_seq}..{entry.seq - 1} are missing (gap before seq {entry.seq})")
        if entry.prev_hash != previous:
            problem(f"seq {entry.seq} (id {entry.id}) does not link to the entry before it")
        if hash_of(entry) != entry.hash:
            problem(f"seq {entry.seq} (id {entry.id}) was changed after it was written (hash mismatch)")
        expected_seq, previous = entry.seq + 1, entry.hash
    head = db.session.get(AuditHead, 1)
    report.head_seq, report.head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head is None:
        problem("audit_head is missing")
    elif head.seq != expected_seq - 1 or head.hash != previous:
        problem(f"the log ends at seq {expected_seq - 1} but its head says seq {head.seq}: newest entries removed")
    return report
