"""What people read: statuses, kinds and checks in their language, moments in the city's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from flask import Flask, current_app
from flask_babel import format_date, gettext
from flask_babel import lazy_gettext as _l

from portal.footage import notices
from portal.i18n import ZONES

REQUEST_STATUS = {
    "pending": _l("waiting for a decision"), "approved": _l("approved, export queued"),
    "rejected": _l("rejected"), "cancelled": _l("withdrawn"), "exporting": _l("exporting"),
    "ready": _l("ready to download"), "failed": _l("export failed"), "expired": _l("expired"),
}
EXPORT_STATUS = {
    "queued": _l("queued"), "running": _l("exporting"), "done": _l("done"), "empty": _l("no footage"),
    "failed": _l("failed"), "expired": _l("expired"),
}
HOLD_KIND = {"police": _l("police request"), "resident": _l("resident's request"), "admin": _l("by an admin")}
NOTICE_STATUS = {"pending": _l("waiting to be sent"), "sent": _l("sent"), "failed": _l("could not be sent")}
GAP_REASON = {"not_recorded": _l("nothing was recorded"), "missing_on_disk": _l("a recorded segment was missing")}
CHECK_OK = {
    "manifest_readable": _l("The manifest is a Pantau evidence manifest."),
    "manifest_unaltered": _l("The manifest is unchanged, byte for byte."),
    "key_is_city": _l("It was signed with the city's key."),
    "signature_valid": _l("The signature is valid."),
    "file_listed": _l("The file's SHA-256 is the one in the manifest."),
}
CHECK_BAD = {
    "manifest_readable": _l("This is not a Pantau evidence manifest."),
    "manifest_unaltered": _l("The manifest was changed after it was signed."),
    "key_is_city": _l("It was not signed with the city's key."),
    "signature_valid": _l("The signature does not match the manifest."),
    "file_listed": _l("The file is not the one the manifest lists: it was changed, or it is another file."),
}


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(current_app.config["PANTAU"].timezone)


def zone_label() -> str:
    name = current_app.config["PANTAU"].timezone
    return ZONES.get(name, name)


def clock(moment: dt.datetime | None) -> str:
    return moment.astimezone(_zone()).strftime("%H:%M:%S") if moment else "—"


def isoclock(value: str | None) -> str:
    return clock(dt.datetime.fromisoformat(value)) if value else "—"


def longdate(day: dt.date) -> str:
    return str(format_date(day, "full"))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return gettext("%(h)d h %(m)02d min", h=hours, m=minutes)
    if minutes:
        return gettext("%(m)d min %(s)02d s", m=minutes, s=secs)
    return gettext("%(s)d s", s=secs)


def filesize(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def check_label(code: str, passed: bool) -> str:
    return str((CHECK_OK if passed else CHECK_BAD).get(code, code))


def init_app(app: Flask) -> None:
    for name, fn in (("clock", clock), ("isoclock", isoclock), ("longdate", longdate), ("duration", duration),
                     ("filesize", filesize)):
        app.add_template_filter(fn, name)

    @app.context_processor
    def _told() -> dict[str, Any]:
        """How many of a police officer's requests changed since they last opened them (decided, ready)."""
        from portal.footage.people import current_user

        user = current_user()
        if user is None or user.role != "police":
            return {"footage_unseen": 0}
        from sqlalchemy import func, select

        from portal.models import FootageRequest, db

        count = db.session.scalar(select(func.count()).select_from(FootageRequest).where(
            FootageRequest.requester_id == user.id, FootageRequest.requester_seen_at.is_(None)))
        return {"footage_unseen": count or 0}

    @app.context_processor
    def _labels() -> dict[str, Any]:
        return {
            "request_status_label": lambda s: str(REQUEST_STATUS.get(s, s)),
            "export_status_label": lambda s: str(EXPORT_STATUS.get(s, s)),
            "hold_kind_label": lambda s: str(HOLD_KIND.get(s, s)),
            "gap_label": lambda s: str(GAP_REASON.get(s, s)),
            "check_label": check_label,
            "notices_of": notices.of,
            "notice_status_label": lambda s: str(NOTICE_STATUS.get(s, s)),
            "zone_label": zone_label(),
            "max_play": dt.timedelta(hours=1),
        }
