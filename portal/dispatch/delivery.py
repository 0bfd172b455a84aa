"""Delivering the outbox (``pantau jobs``): claim due rows safely, send them, record the outcome.

A claim is a lease: ``claimed_by`` and ``lease_until`` are set in one UPDATE that only takes rows nobody holds
(or whose holder's lease ran out, e.g. a jobs process killed with SIGKILL), with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL so several jobs processes share the work; SQLite's single writer makes the same UPDATE atomic. A
message that fails is tried again with exponential backoff; one that was sent but whose success was never
recorded (a kill between the two) is sent again with the same delivery id, which the receiver keeps: at least
once, applied once.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import smtplib
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from flask import current_app
from sqlalchemy import or_, select, update

from portal.dispatch import sealing, signing
from portal.dispatch.outbox import CAP, EMAIL, WEBHOOK
from portal.models import db
from portal.models.base import utcnow
from portal.models.incident import Dispatch, OutboxMessage
from portal.models.people import Agency
from portal.secret import redact_text, redact_url
from portal.settings import Settings

BATCH = 32
SENDERS = 8


class DeliveryError(RuntimeError):
    """A message could not be delivered this time (its text never holds a secret)."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    destination: str
    content_type: str
    payload: str
    delivery_id: str
    secret: str | None
    event: str


def new_claimer() -> str:
    return uuid.uuid4().hex[:24]


def backoff_s(attempts: int, settings: Settings, *, rand: random.Random | None = None) -> float:
    """Seconds before the next try after ``attempts`` failures: base x 2^(n-1), at most max, +-20 % jitter."""
    base = min(settings.outbox_backoff_max_s, settings.outbox_backoff_base_s * 2 ** max(attempts - 1, 0))
    return base * (rand or random).uniform(0.8, 1.2)


def claim(claimer: str, now: dt.datetime, settings: Settings, limit: int = BATCH) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this claimer (committed), oldest first."""
    free = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
    due = (select(OutboxMessage.id)
           .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now, free)
           .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
    if db.session.scalar(due.with_only_columns(OutboxMessage.id).limit(1)) is None:
        db.session.rollback()  # nothing due: no write (SQLite's one writer stays free for the portal)
        return []
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    lease_until = now + dt.timedelta(seconds=settings.outbox_lease_s)
    # the WHERE is checked again on the row itself, so a row another claimer took meanwhile is left alone
    db.session.execute(update(OutboxMessage)
                       .where(OutboxMessage.id.in_(due), OutboxMessage.status == "pending", free)
                       .values(claimed_by=claimer, lease_until=lease_until)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.claimed_by == claimer, OutboxMessage.lease_until == lease_until,
        OutboxMessage.status == "pending").order_by(OutboxMessage.id)))


def _job(row: OutboxMessage, settings: Settings) -> Job:
    secret = None
    event = ""
    if row.kind in (WEBHOOK, CAP) and row.agency_id is not None:
        agency = db.session.get(Agency, row.agency_id)
        if agency is not None and agency.webhook_secret:
            try:
                secret = sealing.unseal(agency.webhook_secret, settings.secret_key)
            except sealing.SecretUnreadable:
                secret = None
    if row.kind == WEBHOOK:
        try:
            event = str(json.loads(row.payload).get("event", ""))
        except ValueError:
            event = ""
    elif row.kind == CAP:
        event = "cap"
    return Job(row.id, row.kind, row.destination, row.content_type, row.payload, row.delivery_id or str(row.id),
               secret, event)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a receiver that redirects has not received: the message is tried again later


_opener = urllib.request.build_opener(_NoRedirect)


def post(job: Job, timeout: float) -> None:
    body = job.payload.encode()
    headers = {"Content-Type": job.content_type, "User-Agent": "Pantau-Dispatch/1",
               **signing.headers(job.secret, job.delivery_id, body)}
    if job.event:
        headers[signing.EVENT_HEADER] = job.event
    request = urllib.request.Request(job.destination, data=body, headers=headers, method="POST")
    if request.type not in ("http", "https"):
        raise DeliveryError("the address is not http(s)")
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} from {redact_url(job.destination)}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{redact_url(job.destination)}: {reason.__class__.__name__}: "
                            f"{redact_text(str(reason))[:200]}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status} from {redact_url(job.destination)}")


def send_email(job: Job, settings: Settings) -> None:
    data = json.loads(job.payload)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = job.destination
    message["Subject"] = data.get("subject", "Pantau 112")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{job.delivery_id}@pantau>"
    message[signing.DELIVERY_HEADER] = job.delivery_id
    message.set_content(data.get("text", ""))
    if data.get("cap"):
        message.add_attachment(data["cap"].encode(), maintype="application", subtype="cap+xml", filename="cap.xml")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.delivery_timeout_s) as smtp:
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc.__class__.__name__}") from None


def send(job: Job, settings: Settings) -> str | None:
    """Deliver one message; None when it was received, else why not."""
    try:
        if job.kind == EMAIL:
            send_email(job, settings)
        else:
            post(job, settings.delivery_timeout_s)
    except DeliveryError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a bug in one message must not stop the others
        return f"{exc.__class__.__name__}"
    return None


def record(row_id: int, error: str | None, now: dt.datetime, settings: Settings) -> None:
    row = db.session.get(OutboxMessage, row_id)
    if row is None:
        return
    row.attempts = (row.attempts or 0) + 1
    row.claimed_by, row.lease_until = None, None
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", now, None
        if row.dispatch_id is not None and row.kind in (WEBHOOK, CAP):
            # the agency's system holds it: a pending dispatch is now sent (never undoes an acknowledgement)
            db.session.execute(update(Dispatch).where(Dispatch.id == row.dispatch_id, Dispatch.status == "pending")
                               .values(status="sent", updated_at=now).execution_options(synchronize_session=False))
    else:
        row.last_error = error[:500]
        if row.attempts >= settings.outbox_max_attempts:
            row.status = "failed"
        else:
            row.next_attempt_at = now + dt.timedelta(seconds=backoff_s(row.attempts, settings))


_pool: ThreadPoolExecutor | None = None


def run_once(claimer: str, settings: Settings | None = None) -> dict[str, int]:
    """Claim one batch of due messages, send them (several at a time) and record each outcome."""
    global _pool
    settings = settings or current_app.config["PANTAU"]
    rows = claim(claimer, utcnow(), settings)
    if not rows:
        return {"sent": 0, "failed": 0}
    jobs = [_job(row, settings) for row in rows]
    db.session.rollback()  # nothing is held open while the network is slow
    if _pool is None:
        _pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="pantau-delivery")
    errors = list(_pool.map(lambda job: send(job, settings), jobs))
    now = utcnow()
    for job, error in zip(jobs, errors, strict=True):
        record(job.id, error, now, settings)
    db.session.commit()
    return {"sent": sum(e is None for e in errors), "failed": sum(e is not None for e in errors)}
