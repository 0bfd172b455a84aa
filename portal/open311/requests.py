"""Service requests: reading a POST's fields within bounds, and the requests as GeoReport v2 shows them.

What the public sees of a report through Open311 carries nobody's personal data: no description, address,
name or phone, and the place rounded to about 100 m. The client that posted a report (with its API key) sees
its own reports in full. ``service_request_id`` is the report's number; the ``token`` is its tracking code
(what the reporter follows it with on ``/lacak``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from portal.bounds import EARLIEST, LATEST, InputError, clean_text, moment
from portal.incidents.stages import stage_of
from portal.models import Agency, Dispatch, Incident, db
from portal.models.open311 import Open311Request
from portal.open311.services import ATTRIBUTE_VALUES, PEOPLE_AT_RISK, SERVICES

OPEN = ("new", "verified", "dispatched")
CLOSED = ("resolved", "rejected", "merged")
MAX_RESULTS = 1000  # the spec's advice for one answer
DEFAULT_DAYS = 90  # without dates, the last 90 days (the spec's default)
MAX_IDS = 100
PUBLIC_DECIMALS = 3  # about 110 m: where, not whose door
LIMITS = {  # field -> most characters
    "api_key": 200, "jurisdiction_id": 100, "service_code": 40, "lat": 40, "long": 40, "address_string": 300,
    "address_id": 100, "email": 254, "device_id": 100, "account_id": 100, "first_name": 100, "last_name": 100,
    "phone": 40, "description": 2000, "media_url": 300,
}
ATTRIBUTE = re.compile(r"^attribute\[([a-z_]{1,40})\]$")
MEDIA_URL = re.compile(r"^https?://[^\s<>\"']{1,290}$")


class Open311Error(Exception):
    """An answer in the spec's error format: ``status`` (4xx) and a description (translated, no echoed value)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _field_error(field: str, message: str) -> Open311Error:
    return Open311Error(400, f"{field}: {message}")


def text_field(form: Mapping[str, str], field: str, *, multiline: bool = False) -> str:
    value = form.get(field)
    if value is None:
        return ""
    if len(value) > LIMITS[field]:
        raise _field_error(field, gettext("must be at most %(max)d characters", max=LIMITS[field]))
    try:
        clean_text(value, field, multiline=multiline)
    except InputError as exc:
        raise _field_error(field, str(exc.message)) from None
    return value.strip()


def coordinate(form: Mapping[str, str], field: str, limit: float) -> float | None:
    raw = text_field(form, field)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _field_error(field, gettext("must be a number in decimal degrees")) from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise _field_error(field, gettext("must be between %(min)s and %(max)s", min=-limit, max=limit))
    return value


@dataclass(frozen=True)
class NewRequest:
    service_code: str
    latitude: float | None
    longitude: float | None
    address: str
    description: str
    reporter_name: str
    reporter_phone: str
    device_id: str
    account_id: str
    media_url: str


def read_post(form: Mapping[str, str]) -> NewRequest:
    """A POST's fields, each within its bounds (400 naming the first field out of them; 404 for an unknown
    service). The api_key is checked by the caller first."""
    for key in form:
        if key not in LIMITS and not ATTRIBUTE.match(key):
            if len(key) > 60 or not key.isprintable():
                raise Open311Error(400, gettext("unknown field"))
            raise _field_error(key[:60], gettext("is not a GeoReport v2 field"))
    text_field(form, "jurisdiction_id")
    code = text_field(form, "service_code")
    if not code:
        raise _field_error("service_code", gettext("is required"))
    if code not in SERVICES:
        raise Open311Error(404, gettext("service_code: no such service (see services.json)"))
    latitude = coordinate(form, "lat", 90)
    longitude = coordinate(form, "long", 180)
    address = text_field(form, "address_string")
    if (latitude is None) != (longitude is None):
        raise _field_error("lat" if latitude is None else "long", gettext("is required with the other coordinate"))
    if latitude is None and not address:
        raise Open311Error(400, gettext("lat and long, or address_string, are required (where did it happen?)"))
    text_field(form, "address_id")
    email = text_field(form, "email")
    if email and ("@" not in email or any(ch.isspace() for ch in email)):
        raise _field_error("email", gettext("is not an e-mail address"))
    description = text_field(form, "description", multiline=True)
    name = " ".join(part for part in (text_field(form, "first_name"), text_field(form, "last_name")) if part)
    phone = text_field(form, "phone")
    if phone and not re.fullmatch(r"[0-9+() .-]{3,40}", phone):
        raise _field_error("phone", gettext("may hold only digits, spaces and + ( ) . -"))
    media_url = text_field(form, "media_url")
    if media_url and not MEDIA_URL.match(media_url):
        raise _field_error("media_url", gettext("must be an http or https address"))
    notes = []
    for key, raw in form.items():
        match = ATTRIBUTE.match(key)
        if not match:
            continue
        if match.group(1) != PEOPLE_AT_RISK:
            raise _field_error(key, gettext("is not an attribute of this service (see its definition)"))
        if raw not in ATTRIBUTE_VALUES:
            raise _field_error(key, gettext("must be one of %(options)s", options=", ".join(ATTRIBUTE_VALUES)))
        notes.append(gettext("People in danger or hurt: %(answer)s", answer=str(ATTRIBUTE_VALUES[raw])))
    if email:
        notes.append(gettext("E-mail: %(email)s", email=email))
    full = "\n".join(part for part in (description, *notes) if part)
    return NewRequest(service_code=code, latitude=latitude, longitude=longitude, address=address,
                      description=full, reporter_name=name[:200], reporter_phone=phone,
                      device_id=text_field(form, "device_id"), account_id=text_field(form, "account_id"),
                      media_url=media_url)


@dataclass(frozen=True)
class Query:
    ids: tuple[int, ...] = ()
    codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None


def _listed(raw: str | None, field: str, max_items: int) -> list[str]:
    if raw is None:
        return []
    if len(raw) > 2000:
        raise _field_error(field, gettext("must be at most %(max)d characters", max=2000))
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if len(values) > max_items:
        raise _field_error(field, gettext("must have at most %(max)d entries", max=max_items))
    return values


def _moment(raw: str | None, field: str) -> dt.datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value: dt.datetime = moment(raw, field, earliest=EARLIEST, latest=LATEST)
    except InputError as exc:
        raise _field_error(field, str(exc.message)) from None
    return value


def read_query(args: Mapping[str, str], *, now: dt.datetime) -> Query:
    ids = []
    for value in _listed(args.get("service_request_id"), "service_request_id", MAX_IDS):
        if not value.isdigit() or len(value) > 9:
            raise _field_error("service_request_id", gettext("must be request numbers separated by commas"))
        ids.append(int(value))
    codes = _listed(args.get("service_code"), "service_code", len(SERVICES))
    if any(code not in SERVICES for code in codes):
        raise _field_error("service_code", gettext("no such service (see services.json)"))
    statuses = _listed(args.get("status"), "status", 2)
    if any(status not in ("open", "closed") for status in statuses):
        raise _field_error("status", gettext("must be open, closed or both (open,closed)"))
    start, end = _moment(args.get("start_date"), "start_date"), _moment(args.get("end_date"), "end_date")
    if start and end and end < start:
        raise _field_error("end_date", gettext("must not be before start_date"))
    if not ids and start is None and end is None:
        start = now - dt.timedelta(days=DEFAULT_DAYS)
    return Query(ids=tuple(ids), codes=tuple(codes), statuses=tuple(statuses), start=start, end=end)


def find(query: Query) -> list[Incident]:
    stmt = select(Incident)
    if query.ids:
        stmt = stmt.where(Incident.id.in_(query.ids))
    if query.codes:
        stmt = stmt.where(Incident.category.in_(query.codes))
    if query.statuses and len(query.statuses) == 1:
        stmt = stmt.where(Incident.status.in_(OPEN if query.statuses[0] == "open" else CLOSED))
    if query.start:
        stmt = stmt.where(Incident.created_at >= query.start)
    if query.end:
        stmt = stmt.where(Incident.created_at <= query.end)
    return list(db.session.scalars(stmt.order_by(Incident.created_at.desc(), Incident.id.desc()).limit(MAX_RESULTS)))


def _agencies(incident_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(incident_ids)
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    rows = db.session.execute(select(Dispatch.incident_id, Agency.name).join(Agency, Agency.id == Dispatch.agency_id)
                              .where(Dispatch.incident_id.in_(ids)).order_by(Dispatch.id))
    for incident_id, name in rows:
        names = found.setdefault(incident_id, [])
        if name not in names:
            names.append(name)
    return found


def _owned(incident_ids: Iterable[int], client_id: int | None) -> dict[int, str]:
    """The client's own requests among these (incident id -> the media_url it sent)."""
    ids = list(incident_ids)
    if client_id is None or not ids:
        return {}
    rows = db.session.execute(select(Open311Request.incident_id, Open311Request.media_url).where(
        Open311Request.client_id == client_id, Open311Request.incident_id.in_(ids)))
    return {incident_id: media_url or "" for incident_id, media_url in rows}


STAGE_NOTES = {"received": "received", "verified": "verified", "dispatched": "dispatched", "handled": "handled",
               "closed": "closed"}


def as_dicts(incidents: list[Incident], *, zone: zoneinfo.ZoneInfo,
             client_id: int | None = None) -> list[dict[str, Any]]:
    agencies = _agencies(i.id for i in incidents)
    owned = _owned((i.id for i in incidents), client_id)
    answers = []
    for incident in incidents:
        mine = incident.id in owned
        lat, lon = incident.latitude, incident.longitude
        if not mine and lat is not None and lon is not None:
            lat, lon = round(lat, PUBLIC_DECIMALS), round(lon, PUBLIC_DECIMALS)
        answers.append({
            "service_request_id": str(incident.id),
            "status": "closed" if incident.status in CLOSED else "open",
            "status_notes": stage_of(incident),
            "service_name": str(SERVICES[incident.category][0]) if incident.category in SERVICES else incident.category,
            "service_code": incident.category,
            "description": incident.description if mine else "",
            "agency_responsible": ", ".join(agencies.get(incident.id, [])),
            "service_notice": "",
            "requested_datetime": local_time(incident.created_at, zone),
            "updated_datetime": local_time(incident.updated_at or incident.created_at, zone),
            "expected_datetime": "",
            "address": incident.address if mine else "",
            "address_id": "",
            "zipcode": "",
            "lat": lat,
            "long": lon,
            "media_url": owned[incident.id] if mine else "",
        })
    return answers


def local_time(moment_: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """W3C time in the city's offset (``2026-12-01T07:30:00+08:00``), never ``Z``."""
    if moment_.tzinfo is None:
        moment_ = moment_.replace(tzinfo=dt.UTC)
    return moment_.astimezone(zone).isoformat(timespec="seconds")
