"""Each worker its own credential: issued by ``pantau workers add``, shown once, stored as a SHA-256, revocable.

A credential is 32 random bytes (``pantau_w1_`` + URL-safe base64), so a plain SHA-256 is enough to keep it
secret at rest and lets the portal find the worker with one indexed lookup per request; a slow password hash
would cost every sync. Revoking clears the hash and drops the worker's leases, so its cameras move to
the other workers on their next sync.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select

from portal.models import CameraLease, Worker, db, utcnow

PREFIX = "pantau_w1_"
MAX_CREDENTIAL_CHARS = 200


class CredentialError(ValueError):
    pass


def digest(credential: str) -> str:
    return hashlib.sha256(credential.encode("utf-8", "replace")).hexdigest()


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 120 or not name.isprintable():
        raise CredentialError("a worker name has 1 to 120 printable characters")
    return name


def issue(name: str, *, now: dt.datetime | None = None) -> str:
    """A new credential for worker ``name`` (created if new). Refuses a worker that holds one already:
    revoke it first, so a credential is never replaced by accident."""
    name = check_name(name)
    now = now or utcnow()
    worker = db.session.scalar(select(Worker).where(Worker.name == name))
    if worker is None:
        worker = Worker(name=name, created_at=now, last_seen_at=now - dt.timedelta(days=3650))
        db.session.add(worker)
    elif worker.credential_hash is not None:
        raise CredentialError(f"worker {name!r} has a credential already (pantau workers revoke {name} first)")
    credential = PREFIX + secrets.token_urlsafe(32)
    worker.credential_hash = digest(credential)
    worker.credential_issued_at = now
    worker.revoked_at = None
    db.session.flush()
    return credential


def revoke(name: str, *, now: dt.datetime | None = None) -> Worker:
    worker = db.session.scalar(select(Worker).where(Worker.name == name.strip()))
    if worker is None:
        raise CredentialError(f"no worker named {name!r}")
    worker.credential_hash = None
    worker.revoked_at = now or utcnow()
    db.session.execute(delete(CameraLease).where(CameraLease.worker_id == worker.id))
    db.session.flush()
    return worker


def worker_for(credential: str | None) -> Worker | None:
    """The worker this credential belongs to, or None (unknown, revoked or malformed)."""
    if not credential or len(credential) > MAX_CREDENTIAL_CHARS or not credential.startswith(PREFIX):
        return None
    return db.session.scalar(select(Worker).where(Worker.credential_hash == digest(credential)))
