"""API tokens of agencies' own systems: issued by an admin (page or ``pantau agency token issue``), shown once,
stored as a SHA-256, revocable. Like the workers' credentials, a token is 32 random bytes, so a plain SHA-256
keeps it secret at rest and finds it with one indexed lookup per request."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select

from portal.models import Agency, AgencyToken, db, utcnow

PREFIX = "pantau_a1_"
MAX_TOKEN_CHARS = 200
MAX_NAME = 80
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often


class TokenError(ValueError):
    pass


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue(agency: Agency, name: str, *, created_by_id: int | None = None) -> tuple[AgencyToken, str]:
    """A new token for ``agency``'s system named ``name``: (row, the token itself, to show once)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise TokenError(f"a token name has 1 to {MAX_NAME} printable characters")
    token = PREFIX + secrets.token_urlsafe(32)
    row = AgencyToken(agency_id=agency.id, name=name, token_hash=digest(token), hint=token[-4:],
                      created_by_id=created_by_id, created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    return row, token


def revoke(row: AgencyToken) -> bool:
    """Revoke ``row``; False when it was revoked already."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.flush()
    return True


def token_for(token: str | None) -> AgencyToken | None:
    """The live token row for a presented bearer token (None: unknown, revoked, malformed, inactive agency)."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.startswith(PREFIX) or not token.isascii():
        return None
    row = db.session.scalar(select(AgencyToken).where(AgencyToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None or not row.agency.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
    return row
