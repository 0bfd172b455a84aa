"""Telling a footage requester what became of their request: approved, rejected, ready, failed.

The request shows as new to its requester until they open it (every page shows the count), and, when the
requester has an e-mail address, an e-mail goes out through the dispatch outbox (``pantau jobs`` sends it,
with its retries) in the requester's language (Bahasa Indonesia unless they chose English). The e-mail says
what happened and links to the request's page, which needs the requester's sign-in and second factor: it never
carries a download link or token. Each e-mail is in the audit log, and its delivery shows on the request's page.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from flask import current_app, has_request_context, request, url_for
from flask_babel import force_locale, gettext
from sqlalchemy import select

from portal.dispatch import outbox
from portal.i18n import LANGUAGES, when
from portal.models import FootageRequest, db
from portal.models.audit import record
from portal.models.incident import OutboxMessage
from portal.settings import Settings

EVENTS = ("approved", "rejected", "ready", "failed")


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def page_url(request_id: int) -> str:
    """The request's page for its requester (absolute when the portal knows its public address)."""
    settings = _settings()
    try:
        path = url_for("footage.request_page", request_id=request_id)
    except RuntimeError:  # outside a request and without SERVER_NAME
        path = f"/polisi/permintaan/{request_id}"
    base = settings.public_url or (request.host_url.rstrip("/") if has_request_context() else "")
    return base + path


def compose(req: FootageRequest, event: str) -> tuple[str, str]:
    """Subject and text of the e-mail for ``event``, in the current locale."""
    headline = {
        "approved": gettext("Footage request %(id)s was approved", id=req.id),
        "rejected": gettext("Footage request %(id)s was rejected", id=req.id),
        "ready": gettext("Footage of request %(id)s is ready to download", id=req.id),
        "failed": gettext("The export of footage request %(id)s failed", id=req.id),
    }[event]
    subject = f"[Pantau] {headline} ({req.case_number})"
    name = req.requester.full_name or req.requester.username
    lines = [gettext("Dear %(name)s,", name=name), "", headline + ".", "",
             gettext("Case number: %(case)s", case=req.case_number),
             gettext("Cameras: %(cameras)s", cameras=", ".join(c.name for c in req.cameras)),
             gettext("Span: %(start)s to %(end)s", start=when(req.start_at), end=when(req.end_at))]
    if event in ("approved", "rejected") and req.decision_note:
        lines.append(gettext("Note from the admin: %(note)s", note=req.decision_note))
    if event == "approved":
        lines += ["", gettext("The footage is being exported; you will get another e-mail when it is ready.")]
    elif event == "rejected":
        lines += ["", gettext("The footage is no longer held for this request.")]
    elif event == "ready" and req.expires_at is not None:
        lines += ["", gettext("Download the files and the signed manifest from the request's page (sign-in "
                              "needed) until %(when)s.", when=when(req.expires_at))]
    elif event == "failed":
        lines += ["", gettext("An admin of Diskominfo can try the export again.")]
    lines += ["", gettext("Request page: %(url)s", url=page_url(req.id)), "",
              gettext("This message was sent automatically by Pantau. It holds no download link: sign in to the "
                      "portal to see the request.")]
    return subject[:200], "\n".join(lines)


def tell(req: FootageRequest, event: str) -> OutboxMessage | None:
    """Queue the e-mail for ``event`` to the requester, if they have an address (the caller commits)."""
    requester = req.requester
    address = (requester.email or "").strip() if requester is not None else ""
    if event not in EVENTS or not address:
        return None
    locale = requester.locale if requester.locale in LANGUAGES else _settings().default_locale
    with force_locale(locale):
        subject, text = compose(req, event)
    row = outbox.email(address, subject, text, footage_request_id=req.id)
    db.session.flush()
    record("footage.requester_emailed", target_type="footage_request", target_id=req.id, actor="system",
           event=event, to=address, locale=locale, outbox_id=row.id)
    return row


@dataclass(frozen=True)
class Notice:
    """An e-mail to the requester as the request's page shows it."""

    subject: str
    to: str
    status: str  # the outbox's: pending, sent, failed
    created_at: dt.datetime
    sent_at: dt.datetime | None


def of(req: FootageRequest) -> list[Notice]:
    """The e-mails sent (or being sent) to the requester about this request, oldest first."""
    if req.id is None:
        return []
    found = []
    for row in db.session.scalars(select(OutboxMessage).where(OutboxMessage.footage_request_id == req.id)
                                  .order_by(OutboxMessage.id)):
        try:
            subject = str(json.loads(row.payload).get("subject", ""))
        except (ValueError, AttributeError):
            subject = ""
        found.append(Notice(subject, row.destination, row.status, row.created_at, row.sent_at))
    return found
