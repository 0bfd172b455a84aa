"""``/open311/v2/``: GeoReport v2 discovery, services, service definitions, requests (GET and POST) and tokens,
each as ``.json`` or ``.xml``. Reading is public; posting needs a client's API key (``api_key``)."""

from __future__ import annotations

import zoneinfo

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select, update
from werkzeug.routing import BuildError

from portal.auth.policy import PUBLIC, allow
from portal.incidents.codes import normalise
from portal.models import Incident, db, utcnow
from portal.models.open311 import Open311Client, Open311Request
from portal.open311 import keys, services
from portal.open311.formats import answer
from portal.open311.requests import Open311Error, as_dicts, find, local_time, read_post, read_query
from portal.security import external_url, public_base
from portal.settings import Settings

bp = Blueprint("open311", __name__, url_prefix="/open311")
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00+08:00"  # when the served endpoint last changed (the spec's changeset)
FMT = "<any(json,xml):fmt>"


# create_report's field names -> the GeoReport v2 names a client sent
_FIELDS = {"category": "service_code", "latitude": "lat", "longitude": "long", "address": "address_string",
           "reporter_name": "first_name", "reporter_phone": "phone", "location": "lat", "description": "description"}


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(_settings().timezone)


def _api_key() -> str | None:
    """The key from the POST form (the spec's ``api_key``) or an ``X-Api-Key`` header; never from the address,
    which access logs keep (a key there is refused, so a client learns it at once)."""
    if "api_key" in request.args:
        raise Open311Error(400, gettext("api_key: send it in the form body or the X-Api-Key header, never in the "
                                        "address (addresses are logged)"))
    if request.method == "POST":
        return request.form.get("api_key") or request.headers.get("X-Api-Key")
    return request.headers.get("X-Api-Key")


def _client(required: bool) -> Open311Client | None:
    key = _api_key()
    if not key:
        if required:
            raise Open311Error(403, gettext("api_key is required to post a request"))
        return None
    client = keys.client_for(key)
    if client is None:
        raise Open311Error(403, gettext("api_key is not valid (unknown or revoked)"))
    return client


@bp.get(f"/v2/discovery.{FMT}")
@allow(PUBLIC)
def discovery(fmt: str) -> ResponseReturnValue:
    base = public_base() + "/open311/v2"
    data = {
        "changeset": CHANGESET,
        "contact": gettext("Command centre of %(city)s: call 112 in an emergency", city=_settings().city_name),
        "key_service": gettext("API keys for apps that post reports are issued by the city's administrators"),
        "endpoints": [{"specification": SPEC, "url": base, "changeset": CHANGESET, "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }
    return answer(data, fmt, root="discovery", item=None, item_names={"endpoints": "endpoint", "formats": "format"})


@bp.get(f"/v2/services.{FMT}")
@allow(PUBLIC)
def service_list(fmt: str) -> ResponseReturnValue:
    _jurisdiction()
    return answer(services.service_list(), fmt, root="services", item="service")


@bp.get(f"/v2/services/<code>.{FMT}")
@allow(PUBLIC)
def service_definition(code: str, fmt: str) -> ResponseReturnValue:
    _jurisdiction()
    if code not in services.SERVICES:
        raise Open311Error(404, gettext("service_code: no such service (see services.json)"))
    return answer(services.definition(code), fmt, root="service_definition", item=None,
                  item_names={"attributes": "attribute", "values": "value"})


def _jurisdiction() -> None:
    value = request.values.get("jurisdiction_id")
    if value is not None and len(value) > 100:
        raise Open311Error(400, gettext("jurisdiction_id: must be at most %(max)d characters", max=100))


@bp.get(f"/v2/requests.{FMT}")
@allow(PUBLIC)
def request_list(fmt: str) -> ResponseReturnValue:
    _jurisdiction()
    client = _client(required=False)
    query = read_query(request.args, now=utcnow())
    found = find(query)
    return answer(as_dicts(found, zone=_zone(), client_id=client.id if client else None), fmt,
                  root="service_requests", item="request")


@bp.get(f"/v2/requests/<request_id>.{FMT}")
@allow(PUBLIC)
def request_one(request_id: str, fmt: str) -> ResponseReturnValue:
    _jurisdiction()
    client = _client(required=False)
    incident = db.session.get(Incident, int(request_id)) if request_id.isdigit() and len(request_id) <= 9 else None
    if incident is None:
        raise Open311Error(404, gettext("service_request_id: no such request"))
    return answer(as_dicts([incident], zone=_zone(), client_id=client.id if client else None), fmt,
                  root="service_requests", item="request")


@bp.post(f"/v2/requests.{FMT}")
@allow(PUBLIC)
def request_post(fmt: str) -> ResponseReturnValue:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(415, gettext("send the fields as application/x-www-form-urlencoded, as GeoReport v2 "
                                        "asks"))
    client = _client(required=True)
    assert client is not None
    new = read_post(request.form)
    from portal.reports.service import ReportRejected, create_report  # the reports area's (issue10-reports)

    client_id = client.id
    try:
        incident = create_report(category=new.service_code, description=new.description, latitude=new.latitude,
                                 longitude=new.longitude, address=new.address, reporter_name=new.reporter_name,
                                 reporter_phone=new.reporter_phone, source="open311", remote_addr=request.remote_addr)
    except ReportRejected as exc:
        db.session.rollback()
        status = exc.status if exc.status in (400, 403, 429) else 400
        message = f"{_FIELDS.get(exc.field or '', exc.field)}: {exc.message}" if exc.field else str(exc.message)
        raise Open311Error(status, message) from None
    db.session.add(Open311Request(incident_id=incident.id, client_id=client_id, device_id=new.device_id,
                                  account_id=new.account_id, media_url=new.media_url))
    db.session.execute(update(Open311Client).where(Open311Client.id == client_id).values(
        last_used_at=utcnow(), requests_posted=Open311Client.requests_posted + 1))
    db.session.commit()
    data = [{
        "service_request_id": str(incident.id),
        "token": incident.tracking_code,
        "service_notice": gettext("Tracking code %(code)s: follow the report at %(url)s", code=incident.tracking_code,
                                  url=_tracking_url(incident.tracking_code)),
        "account_id": new.account_id,
    }]
    response = answer(data, fmt, root="service_requests", item="request", status=201)
    response.headers["Location"] = public_base() + f"/open311/v2/requests/{incident.id}.{fmt}"
    return response


def _tracking_url(code: str) -> str:
    """The reporter's tracking page (the reports area's ``/lacak/<code>``)."""
    try:
        return external_url("reports.track", code=code)
    except BuildError:  # without the reports area's pages
        return public_base() + "/lacak/" + code


@bp.get(f"/v2/tokens/<token>.{FMT}")
@allow(PUBLIC)
def token(token: str, fmt: str) -> ResponseReturnValue:
    _jurisdiction()
    code = normalise(token[:40])
    incident_id = db.session.scalar(select(Incident.id).where(Incident.tracking_code == code)) if code else None
    if incident_id is None:
        raise Open311Error(404, gettext("token: no such token"))
    return answer([{"service_request_id": str(incident_id), "token": code}], fmt, root="service_requests",
                  item="request")


__all__ = ["bp", "local_time"]
