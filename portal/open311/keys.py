"""API keys of Open311 clients: issued by an admin (page or ``pantau open311 keys add``), shown once, stored as a
SHA-256, revocable, every issue and revocation in the audit log.

A key is 32 random bytes (``pantau_o311_`` + URL-safe base64), so a plain SHA-256 keeps it secret at rest and
finds its client with one indexed lookup per request (a slow password hash would cost every post).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select

from portal.models import db, utcnow
from portal.models.audit import record
from portal.models.open311 import Open311Client

PREFIX = "pantau_o311_"
MAX_KEY_CHARS = 200
HINT_CHARS = len(PREFIX) + 4


class KeyRefused(ValueError):
    """A refused issue or revocation; the message names the client, never a key."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def check_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not 1 <= len(name) <= 120 or not name.isprintable():
        raise KeyRefused("a client name has 1 to 120 printable characters")
    return name


def issue(name: str, *, contact: str = "", actor: str | None = None, actor_user_id: int | None = None,
          now: dt.datetime | None = None) -> tuple[Open311Client, str]:
    """A new key for client ``name`` (created if new); refuses a client holding an active key (revoke it first,
    so a key is never replaced by accident). Audited; the caller commits. Returns the client and the key."""
    name = check_name(name)
    contact = " ".join(str(contact).split())
    if len(contact) > 200 or not contact.isprintable():
        raise KeyRefused("a contact has at most 200 printable characters")
    now = now or utcnow()
    client = db.session.scalar(select(Open311Client).where(Open311Client.name == name))
    if client is None:
        client = Open311Client(name=name, contact=contact, created_at=now, created_by_id=actor_user_id,
                               requests_posted=0)
        db.session.add(client)
    elif client.active:
        raise KeyRefused(f"client {name!r} has an active key already: revoke it first")
    elif contact:
        client.contact = contact
    key = PREFIX + secrets.token_urlsafe(32)
    client.key_hash = digest(key)
    client.key_hint = key[:HINT_CHARS]
    client.revoked_at = None
    db.session.flush()
    record("open311.key.issue", actor=actor, actor_user_id=actor_user_id, target_type="open311_client",
           target_id=client.id, name=client.name, hint=client.key_hint)
    return client, key


def find(name_or_id: str) -> Open311Client | None:
    value = str(name_or_id).strip()
    if value.isdigit() and len(value) < 10:
        client = db.session.get(Open311Client, int(value))
        if client is not None:
            return client
    return db.session.scalar(select(Open311Client).where(Open311Client.name == value[:120]))


def revoke(client: Open311Client, *, actor: str | None = None, actor_user_id: int | None = None,
           now: dt.datetime | None = None) -> Open311Client:
    """The key stops working at once (its hash is forgotten). Audited; the caller commits."""
    if not client.active:
        raise KeyRefused(f"client {client.name!r} holds no active key")
    client.key_hash = None
    client.revoked_at = now or utcnow()
    db.session.flush()
    record("open311.key.revoke", actor=actor, actor_user_id=actor_user_id, target_type="open311_client",
           target_id=client.id, name=client.name, hint=client.key_hint)
    return client


def client_for(key: object) -> Open311Client | None:
    """The active client holding ``key``, or None (unknown, revoked, malformed)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS or not key.startswith(PREFIX):
        return None
    return db.session.scalar(select(Open311Client).where(Open311Client.key_hash == digest(key),
                                                         Open311Client.revoked_at.is_(None)))


def clients() -> list[Open311Client]:
    return list(db.session.scalars(select(Open311Client).order_by(Open311Client.name)))
