"""Taking a report from the public, whichever way it comes (the ``/lapor`` form, the offline queue, Open311).

``create_report(...)`` is the one way in: it checks every field, the city's area, the blocklist and the
per-phone and per-address limits, re-encodes the photos, and either raises :class:`ReportRejected` (a
translated message naming what to fix; nothing stored) or stores the report with its ``received`` event and,
when something about it looks wrong, a ``flagged`` event with the reasons, and commits. A flagged report is
kept in the operators' queue like any other: no report that passed validation is ever dropped.

    try:
        incident = create_report(category="fire", description="...", latitude=-3.99, longitude=122.51,
                                 reporter_phone="0812...", photos=[request.files["photo"]],
                                 remote_addr=request.remote_addr)
    except ReportRejected as exc:
        ...  # exc.message (translated), exc.field ("latitude", "photos", ... or None), exc.status (400/403/429)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.incidents import geo
from portal.incidents.codes import new_tracking_code
from portal.incidents.events import FLAGGED, NOTE, RECEIVED, record_event
from portal.models import db
from portal.models.base import utcnow
from portal.models.incident import INCIDENT_CATEGORIES, Incident
from portal.models.report import ReportBlock, ReportOrigin, ReportPhoto
from portal.reports import photos as photo_store
from portal.reports.imaging import PhotoError, clean_photo

log = logging.getLogger("pantau.reports")
SOURCES = ("web", "offline", "open311", "phone")
MAX_DESCRIPTION = 2000
MIN_DESCRIPTION = 3
MAX_ADDRESS = 300
MAX_NAME = 100
MAX_PHONE_CHARS = 40
REPEAT_WINDOW = dt.timedelta(minutes=30)  # this many reports from one phone/address in this window: flagged
LIMIT_WINDOW = dt.timedelta(hours=1)
# Reasons a report is flagged (shown to operators, translated by portal.reports.labels).
REASONS = ("honeypot", "too_fast", "repeat", "blocklist", "link", "no_location")

_MARKUP = re.compile(r"<\s*[a-zA-Z!/?]|&#|javascript\s*:", re.IGNORECASE)
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"(?:\+62|62|0)(\d{7,12})")
_CLIENT_REF = re.compile(r"[A-Za-z0-9-]{8,40}")


def _(text: str, **params: Any) -> str:
    """Translated in a request (the reporter's language), English outside one (CLI, jobs, benches)."""
    if has_request_context():
        return gettext(text, **params)
    return text % params if params else text


class ReportRejected(ValueError):
    """A report refused: ``message`` is translated and says what to do; nothing was stored."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 400) -> None:
        self.message = message
        self.field = field
        self.status = status
        super().__init__(message)


def _settings() -> Any:
    return current_app.config["PANTAU"]


def normalise_phone(raw: str) -> str:
    """``0812-3456 7890`` / ``62812...`` / ``+62 812...`` -> ``+628123457890``; ValueError when it is not one."""
    compact = _PHONE_SEPARATORS.sub("", raw or "")
    match = _PHONE.fullmatch(compact)
    if match is None:
        raise ValueError("not a phone number")
    return "+62" + match.group(1)


# -- field checks ------------------------------------------------------------------------------------------

def _text(value: Any, field: str, label: str, *, max_len: int, min_len: int = 0, multiline: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ReportRejected(_("%(field)s must be text.", field=label), field=field)
    if len(value) > max_len:
        raise ReportRejected(_("%(field)s is too long (at most %(max)d characters).", field=label, max=max_len),
                             field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ReportRejected(_("%(field)s contains characters that are not valid text.", field=label),
                             field=field) from None
    allowed = "\t\n\r" if multiline else ""
    if any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in value):
        raise ReportRejected(_("%(field)s must not contain control characters.", field=label), field=field)
    if _MARKUP.search(value):
        raise ReportRejected(_("%(field)s must not contain HTML or script code.", field=label), field=field)
    value = value.strip()
    if len(value) < min_len:
        raise ReportRejected(_("%(field)s is too short (at least %(min)d characters).", field=label, min=min_len),
                             field=field)
    return value


def _coordinate(value: Any, field: str, label: str, limit: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ReportRejected(_("%(field)s must be a number.", field=label), field=field)
    if isinstance(value, str):
        if len(value) > 32:
            raise ReportRejected(_("%(field)s must be a number.", field=label), field=field)
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            raise ReportRejected(_("%(field)s must be a number.", field=label), field=field) from None
    if isinstance(value, int) and not -limit <= value <= limit:
        raise ReportRejected(_("%(field)s must be between -%(max)s and %(max)s.", field=label, max=int(limit)),
                             field=field)
    if not isinstance(value, int | float):
        raise ReportRejected(_("%(field)s must be a number.", field=label), field=field)
    number = float(value)
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise ReportRejected(_("%(field)s must be between -%(max)s and %(max)s.", field=label, max=int(limit)),
                             field=field)
    return number


def _read_photo(item: Any, max_bytes: int) -> bytes | None:
    """Bytes of one uploaded photo (bytes, a file-like object or a werkzeug FileStorage); None when empty."""
    if isinstance(item, bytes | bytearray | memoryview):
        data = bytes(item)
    elif hasattr(item, "read"):
        stream = getattr(item, "stream", item)
        data = stream.read(max_bytes + 1)
    else:
        raise ReportRejected(_("A photo must be an image file."), field="photos")
    return data or None  # an empty upload is a file input left empty, not a photo


def _photo_message(reason: str, max_bytes: int) -> str:
    if reason == "too_large":
        return _("A photo is too large (at most %(mb)d MB).", mb=max(1, max_bytes // (1024 * 1024)))
    if reason == "type":
        return _("A photo must be a JPEG, PNG, WebP or GIF image.")
    if reason == "too_many_pixels":
        return _("A photo has too many pixels.")
    if reason == "empty":
        return _("A photo is empty.")
    return _("A photo could not be read as an image.")


# -- blocklist and limits ----------------------------------------------------------------------------------

def _address_matches(value: str, remote_addr: str) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
        return address in ipaddress.ip_network(value, strict=False)
    except ValueError:
        return value == remote_addr


def matching_blocks(phone: str, remote_addr: str) -> list[ReportBlock]:
    now = utcnow()
    rows = db.session.scalars(select(ReportBlock).where(ReportBlock.active.is_(True))).all()
    found = []
    for block in rows:
        if block.expires_at is not None and block.expires_at <= now:
            continue
        if (block.kind == "phone" and phone and block.value == phone) or (
                block.kind == "address" and remote_addr and _address_matches(block.value, remote_addr)):
            found.append(block)
    return found


def _count_since(column: Any, value: str, since: dt.datetime) -> int:
    return int(db.session.scalar(select(func.count()).select_from(ReportOrigin)
                                 .where(column == value, ReportOrigin.created_at >= since)) or 0)


# -- the one way in ----------------------------------------------------------------------------------------

def create_report(*, category: Any, description: Any, latitude: Any, longitude: Any, address: Any = "",
                  reporter_name: Any = "", reporter_phone: Any = "", source: str = "web",
                  photos: Iterable[Any] = (), remote_addr: str | None = None,
                  flags: Iterable[str] = (), client_ref: str = "") -> Incident:
    """Store a report from the public, or raise :class:`ReportRejected`. ``flags``: reasons the caller
    already has to flag it (``honeypot``, ``too_fast``); it is stored and queued all the same.
    ``client_ref``: the sender's own id for the report (the offline queue sends one); a report sent again
    with the same id (its answer was lost) is not stored twice: the first one is returned."""
    settings = _settings()
    client_ref = client_ref if isinstance(client_ref, str) and _CLIENT_REF.fullmatch(client_ref) else ""
    if client_ref:
        earlier = db.session.scalar(select(ReportOrigin.incident_id).where(ReportOrigin.client_ref == client_ref))
        if earlier is not None:
            found = db.session.get(Incident, earlier)
            if found is not None:
                return found
    if not isinstance(category, str) or category not in INCIDENT_CATEGORIES:
        raise ReportRejected(_("Choose what happened from the list."), field="category")
    description = _text(description, "description", _("Description"), max_len=MAX_DESCRIPTION,
                        min_len=MIN_DESCRIPTION, multiline=True)
    address = _text(address, "address", _("Address"), max_len=MAX_ADDRESS)
    reporter_name = _text(reporter_name, "reporter_name", _("Name"), max_len=MAX_NAME)
    phone_raw = _text(reporter_phone, "reporter_phone", _("Phone"), max_len=MAX_PHONE_CHARS)
    phone = ""
    if phone_raw:
        try:
            phone = normalise_phone(phone_raw)
        except ValueError:
            raise ReportRejected(_("Enter an Indonesian phone number, e.g. 0812 3456 7890."),
                                 field="reporter_phone") from None
    if source not in SOURCES:
        source = "web"
    lat = _coordinate(latitude, "latitude", _("Latitude"), 90.0)
    lon = _coordinate(longitude, "longitude", _("Longitude"), 180.0)
    if (lat is None) != (lon is None):
        raise ReportRejected(_("Give both latitude and longitude, or neither and an address."), field="latitude")
    if lat is None or lon is None:
        if len(address) < 5:
            raise ReportRejected(_("Tell us where: put a pin on the map, use your phone's position, or write the "
                                   "address."), field="location")
    elif not geo.inside(lat, lon, city_area()):
        raise ReportRejected(_("This place is outside %(city)s. Reports here are only for places inside the "
                               "city; for an emergency elsewhere, call 112.", city=settings.city_name),
                             field="location")
    addr = (remote_addr or "")[:64]
    reasons = [r for r in dict.fromkeys(flags) if r in REASONS]

    blocks = matching_blocks(phone, addr)
    if any(b.action == "refuse" for b in blocks):
        for block in blocks:
            block.hits = (block.hits or 0) + 1
        db.session.commit()
        raise ReportRejected(_("Reports from this phone number or network are not accepted here. For an "
                               "emergency, call 112."), status=403)
    if blocks:
        reasons.append("blocklist")

    now = utcnow()
    if phone and _count_since(ReportOrigin.phone, phone, now - LIMIT_WINDOW) >= settings.report_phone_per_hour:
        raise ReportRejected(_("Too many reports from this phone number in the last hour. For an emergency, "
                               "call 112."), field="reporter_phone", status=429)
    if addr and source in ("web", "offline") and _count_since(
            ReportOrigin.remote_addr, addr, now - LIMIT_WINDOW) >= settings.report_address_per_hour:
        raise ReportRejected(_("Too many reports from this network in the last hour. For an emergency, call "
                               "112."), status=429)
    repeats = max(_count_since(ReportOrigin.phone, phone, now - REPEAT_WINDOW) if phone else 0,
                  _count_since(ReportOrigin.remote_addr, addr, now - REPEAT_WINDOW) if addr else 0)
    if repeats + 1 >= settings.report_flag_repeat:
        reasons.append("repeat")
    if _LINK.search(description):
        reasons.append("link")
    if lat is None:
        reasons.append("no_location")

    cleaned = []
    items = list(photos) if photos else []
    if len(items) > settings.report_max_photos:
        raise ReportRejected(_("At most %(max)d photos.", max=settings.report_max_photos), field="photos")
    for item in items:
        data = _read_photo(item, settings.report_photo_max_bytes)
        if data is None:
            continue
        try:
            cleaned.append(clean_photo(data, max_bytes=settings.report_photo_max_bytes))
        except PhotoError as exc:
            raise ReportRejected(_photo_message(exc.reason, settings.report_photo_max_bytes),
                                 field="photos") from None

    reasons = list(dict.fromkeys(reasons))
    written: list[Path] = []
    try:
        incident = Incident(tracking_code=_free_code(), category=category, description=description,
                            latitude=lat, longitude=lon, address=address, reporter_name=reporter_name,
                            reporter_phone=phone, source=source, status="new",
                            district=geo.district_near(lat, lon))
        db.session.add(incident)
        db.session.flush()
        db.session.add(ReportOrigin(incident_id=incident.id, remote_addr=addr, phone=phone, client_ref=client_ref,
                                    suspicious=bool(reasons), reasons=reasons))
        lost = 0
        for clean in cleaned:
            try:
                key, path = photo_store.write(clean)
            except OSError:  # a full or broken disk costs the photo, never the report
                log.exception("a report photo could not be written")
                lost += 1
                continue
            written.append(path)
            db.session.add(ReportPhoto(incident_id=incident.id, key=key, content_type=clean.content_type,
                                       bytes=len(clean.data), width=clean.width, height=clean.height,
                                       sha256=clean.sha256))
        record_event(incident, RECEIVED, source=source, photos=len(cleaned) - lost)
        if lost:
            record_event(incident, NOTE, text=f"{lost} photo(s) sent with the report could not be stored",
                         photos_lost=lost)
        if reasons:
            record_event(incident, FLAGGED, reasons=reasons)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return incident


def _free_code() -> str:
    for _attempt in range(5):
        code = new_tracking_code()
        if db.session.scalar(select(Incident.id).where(Incident.tracking_code == code)) is None:
            return code
    raise IntegrityError("tracking code", None, Exception("no free tracking code"))


def city_area() -> tuple[tuple[float, float], ...]:
    """The city's outline (lon, lat corners): ``PANTAU_REPORT_AREA`` ("lon lat, lon lat, ...") or Kendari's."""
    raw = _settings().report_area
    return parse_area(raw) if raw else geo.KENDARI_AREA


def parse_area(raw: str) -> tuple[tuple[float, float], ...]:
    corners = []
    for pair in raw.split(","):
        lon, lat = (float(part) for part in pair.split())
        corners.append((lon, lat))
    if len(corners) < 3:
        raise ValueError("an area needs at least three corners")
    return tuple(corners)


def flag_reasons(incident: Incident | int) -> list[str]:
    """Why a report was flagged ([] when it was not): for the console's queue."""
    incident_id = incident if isinstance(incident, int) else incident.id
    origin = db.session.get(ReportOrigin, incident_id)
    return list(origin.reasons or []) if origin is not None else []
