"""``/statistik``: planning figures for admins, operators and leadership; ``/statistik.csv`` and the heat map's
script ``/statistik/peta.js`` take the same filters (the city's dates ``dari``..``sampai``, category, district)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from portal.auth.policy import allow
from portal.bounds import InputError
from portal.models import utcnow
from portal.models.audit import record
from portal.models.incident import INCIDENT_CATEGORIES
from portal.open311.services import name_of
from portal.settings import Settings
from portal.stats import export, figures, heatmap

bp = Blueprint("stats", __name__)
ROLES = ("admin", "operator", "leadership")
DEFAULT_DAYS = 30
LABELS = {
    "verify": _l("Report to verified"),
    "dispatch": _l("Report to dispatched"),
    "acknowledge": _l("Dispatch to acknowledged by the agency"),
    "close": _l("Report to closed"),
}


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def _date(raw: str | None, field: str, default: dt.date) -> dt.date:
    if not raw:
        return default
    if len(raw) > 10:
        raise InputError(field, _l("must be a date (YYYY-MM-DD)"))
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise InputError(field, _l("must be a date (YYYY-MM-DD)")) from None
    if not dt.date(2000, 1, 1) <= value <= dt.date(2099, 12, 31):
        raise InputError(field, _l("must be between %(earliest)s and %(latest)s", earliest="2000-01-01",
                                   latest="2099-12-31"))
    return value


def filters_from(args: dict[str, str] | object) -> figures.Filters:
    zone = zoneinfo.ZoneInfo(_settings().timezone)
    today = utcnow().astimezone(zone).date()
    get = request.args.get
    last = _date(get("sampai"), "sampai", today)
    first = _date(get("dari"), "dari", last - dt.timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise InputError("dari", _l("must not be after the end date"))
    if (last - first).days >= figures.MAX_DAYS:
        raise InputError("dari", _l("a period has at most %(max)d days", max=figures.MAX_DAYS))
    category = get("kategori") or ""
    if category and category not in INCIDENT_CATEGORIES:
        raise InputError("kategori", _l("must be one of %(options)s", options=", ".join(INCIDENT_CATEGORIES)))
    district = " ".join((get("kecamatan") or "")[:200].split())
    if len(district) > 80:
        raise InputError("kecamatan", _l("must be at most %(max)d characters", max=80))
    return figures.Filters(period=figures.Period(first, last, zone), category=category, district=district)


def _query(filters: figures.Filters) -> dict[str, str]:
    values = {"dari": filters.period.first.isoformat(), "sampai": filters.period.last.isoformat()}
    if filters.category:
        values["kategori"] = filters.category
    if filters.district:
        values["kecamatan"] = filters.district
    return values


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/statistik")
@allow(*ROLES)
def index() -> ResponseReturnValue:
    filters = filters_from(request.args)
    reports = figures.load(filters)
    summary = figures.summarise(reports, filters.period, now=utcnow())
    zone = filters.period.zone
    offset = dt.datetime.now(zone).strftime("%z")
    page = render_template(
        "stats/index.html", filters=filters, summary=summary, query=_query(filters), labels=LABELS,
        categories=INCIDENT_CATEGORIES, category_label=name_of, districts=figures.districts(),
        zone_name=dt.datetime.now(zone).tzname(), zone_offset=f"{offset[:3]}:{offset[3:]}", map_id=heatmap.ELEMENT_ID,
        peak=max(summary.by_hour, key=lambda h: h[1]),
        hour_max=max((n for _, n in summary.by_hour), default=0))
    return _private(Response(page, mimetype="text/html"))


@bp.get("/statistik.csv")
@allow(*ROLES)
def csv() -> ResponseReturnValue:
    filters = filters_from(request.args)
    reports = figures.load(filters)
    record("stats.export", target_type="stats", period=_query(filters), rows=len(reports))
    from portal.models import db

    db.session.commit()
    name = f"laporan-112-{filters.period.first.isoformat()}-{filters.period.last.isoformat()}.csv"
    response = Response("\ufeff" + export.to_csv(reports, filters.period), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return _private(response)


@bp.get("/statistik/peta.js")
@allow(*ROLES)
def heatmap_js() -> ResponseReturnValue:
    filters = filters_from(request.args)
    body = heatmap.script(figures.places(filters), _settings())
    return _private(Response(body, mimetype="text/javascript"))
