"""Statistics for planning: counts, p50/p90 against targets and SLAs, the heat map and the CSV, in the city's
time zone (a report at 23:30 UTC is a 07:30 report of the next day in Kendari, 08:30 in Ambon)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.models import Agency, AuditEntry, Dispatch, Incident, IncidentEvent, db
from portal.stats import figures
from tests.conftest import login_as, make_settings, migrated_app

UTC = dt.UTC
# 2026-11-30 23:30 UTC: 2026-12-01 07:30 WITA (Kendari), 08:30 WIT (Ambon); a UTC count puts it on Nov 30, 23h
LATE = dt.datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


def _app(tmp: Path, **overrides: object) -> Flask:
    return migrated_app(make_settings(tmp, **overrides))


@pytest.fixture(params=["Asia/Makassar", "Asia/Jayapura"])
def city(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    application = _app(tmp_path, timezone=request.param)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


_codes = iter(range(10_000, 99_999))


def incident(at: dt.datetime, *, category: str = "fire", district: str = "Kadia", status: str = "new",
             lat: float = -3.99, lon: float = 122.51, phone: str = "") -> Incident:
    row = Incident(tracking_code=f"LP-T{next(_codes)}", category=category, district=district, status=status,
                   latitude=lat, longitude=lon, created_at=at, updated_at=at, reporter_phone=phone,
                   reporter_name="Siti Rahma", description="rahasia pelapor")
    db.session.add(row)
    db.session.flush()
    return row


def event(row: Incident, kind: str, at: dt.datetime) -> None:
    db.session.add(IncidentEvent(incident_id=row.id, kind=kind, at=at, data={}))


def agency(code: str) -> Agency:
    found = db.session.scalar(select(Agency).where(Agency.code == code))
    if found is None:
        found = Agency(code=code, name=code.upper(), kind="other")
        db.session.add(found)
        db.session.flush()
    return found


def dispatch(row: Incident, code: str, at: dt.datetime, *, ack_s: float | None, sla_min: int = 15,
             closed_s: float | None = None, status: str = "sent") -> Dispatch:
    d = Dispatch(incident_id=row.id, agency_id=agency(code).id, created_at=at, status=status,
                 sla_due_at=at + dt.timedelta(minutes=sla_min),
                 acknowledged_at=at + dt.timedelta(seconds=ack_s) if ack_s is not None else None,
                 closed_at=at + dt.timedelta(seconds=closed_s) if closed_s is not None else None)
    db.session.add(d)
    return d


def test_days_and_hours_are_the_citys_not_utc(city: Flask) -> None:
    zone = city.config["PANTAU"].timezone
    incident(LATE)
    incident(LATE - dt.timedelta(hours=12), category="medical")  # 2026-11-30 19:30/20:30 local
    db.session.commit()
    client = city.test_client()
    login_as(client, "operator")
    local_hour = {"Asia/Makassar": 7, "Asia/Jayapura": 8}[zone]
    page = client.get("/statistik?dari=2026-12-01&sampai=2026-12-01&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'id="stats-total"><strong>1</strong>', html)  # a UTC day would hold the other one
    assert re.search(rf'data-hour="{local_hour}"><th scope="row">{local_hour:02d}:00</th><td>1</td>', html)
    assert re.search(r'data-hour="23"><th scope="row">23:00</th><td>0</td>', html)
    assert re.search(r'data-day="2026-12-01"><th scope="row">2026-12-01</th><td>1</td>', html)
    assert {"Asia/Makassar": "WITA (UTC+08:00)", "Asia/Jayapura": "WIT (UTC+09:00)"}[zone] in html
    # the day before (local) holds only the evening report, not the 23:30 UTC one
    before = client.get("/statistik?dari=2026-11-30&sampai=2026-11-30").get_data(as_text=True)
    assert re.search(r'id="stats-total"><strong>1</strong>', before)
    assert 'data-name="medical"' in before and 'data-name="fire"' not in before
    rows = list(csv.DictReader(io.StringIO(client.get("/statistik.csv?dari=2026-12-01&sampai=2026-12-01")
                                          .get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1
    offset = {"Asia/Makassar": "+08:00", "Asia/Jayapura": "+09:00"}[zone]
    assert rows[0]["received_local"] == f"2026-12-01T{local_hour:02d}:30:00{offset}"
    assert rows[0]["date_local"] == "2026-12-01" and rows[0]["hour_local"] == str(local_hour)


def test_period_bounds_follow_the_city_zone() -> None:
    wita = figures.Period(dt.date(2026, 12, 1), dt.date(2026, 12, 1), zoneinfo.ZoneInfo("Asia/Makassar"))
    assert wita.start == dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert wita.end == dt.datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    wit = figures.Period(dt.date(2026, 12, 1), dt.date(2026, 12, 2), zoneinfo.ZoneInfo("Asia/Jayapura"))
    assert wit.start == dt.datetime(2026, 11, 30, 15, 0, tzinfo=UTC) and len(wit.days) == 2


def test_percentiles_nearest_rank() -> None:
    assert figures.percentile([], 50) is None
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert figures.percentile(values, 50) == 5 and figures.percentile(values, 90) == 9
    assert figures.percentile([7.0], 90) == 7


def test_counts_and_durations_against_targets_and_slas(any_db_app: Flask) -> None:
    base = dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 WITA
    verify_s = [30, 60, 90, 150, 600]  # p50 90 s, p90 600 s; 3 of 5 within the 120 s target
    for i, seconds in enumerate(verify_s):
        row = incident(base + dt.timedelta(minutes=i), category="fire" if i < 3 else "accident",
                       district="Kadia" if i % 2 == 0 else "Poasia")
        event(row, "verified", row.created_at + dt.timedelta(seconds=seconds))
        sent = row.created_at + dt.timedelta(seconds=seconds + 30)
        dispatch(row, "damkar" if i < 3 else "polres", sent, ack_s=[60, 120, 1200, None, 300][i],
                 closed_s=3600 if i == 0 else None,
                 status="done" if i == 0 else ("sent" if i == 3 else "acknowledged"))
    # an unacknowledged dispatch whose SLA ran out long ago: a miss, though it has no time to acknowledge
    overdue = incident(base + dt.timedelta(minutes=10), category="medical", district="")
    dispatch(overdue, "dinkes", overdue.created_at + dt.timedelta(seconds=20), ack_s=None, sla_min=5)
    incident(base + dt.timedelta(minutes=11), status="merged")  # a merged duplicate is not counted again
    db.session.commit()

    filters = figures.Filters(period=figures.Period(dt.date(2026, 12, 1), dt.date(2026, 12, 1),
                                                    zoneinfo.ZoneInfo("Asia/Makassar")))
    reports = figures.load(filters)
    summary = figures.summarise(reports, filters.period, now=base + dt.timedelta(days=1))
    assert summary.total == 6
    assert dict(summary.by_category) == {"fire": 3, "accident": 2, "medical": 1}
    assert dict(summary.by_district) == {"Kadia": 3, "Poasia": 2, "": 1}
    assert dict(summary.by_agency) == {"DAMKAR": 3, "POLRES": 2, "DINKES": 1}
    assert dict(summary.by_hour)[10] == 6 and sum(n for _, n in summary.by_hour) == 6
    durations = {d.key: d for d in summary.durations}
    verify = durations["verify"]
    assert (verify.count, verify.p50_s, verify.p90_s, verify.target_s) == (5, 90, 600, figures.VERIFY_TARGET_S)
    assert (verify.within, verify.judged) == (3, 5)
    dispatched = durations["dispatch"]  # verify + 30 s; the overdue one 20 s
    assert dispatched.count == 6 and dispatched.p50_s == 90 and dispatched.p90_s == 630
    assert (dispatched.within, dispatched.judged) == (5, 6)  # 20, 60, 90, 120, 180 within 180 s; 630 late
    ack = durations["acknowledge"]
    assert ack.count == 4 and ack.p50_s == 120 and ack.p90_s == 1200
    assert ack.target_s == 15 * 60
    # 60, 120, 300 within; 1200 late; two never acknowledged and past their SLA: misses
    assert (ack.within, ack.judged) == (3, 6)
    damkar = summary.agency_acknowledge["DAMKAR"]  # 60, 120, 1200 s against 15 min
    assert (damkar.count, damkar.p50_s, damkar.within, damkar.judged) == (3, 120, 2, 3)
    dinkes = summary.agency_acknowledge["DINKES"]
    assert (dinkes.count, dinkes.within, dinkes.judged) == (0, 0, 1)
    close = durations["close"]
    assert close.count == 1 and close.p50_s == 30 + 30 + 3600 and close.target_s is None

    # the page and the CSV from the same database (SQLite and PostgreSQL alike)
    client = any_db_app.test_client()
    login_as(client, "admin")
    page = client.get("/statistik?dari=2026-12-01&sampai=2026-12-01").get_data(as_text=True)
    assert re.search(r'id="stats-total"><strong>6</strong>', page) and "60% (3/5)" in page
    assert len(client.get("/statistik.csv?dari=2026-12-01&sampai=2026-12-01").get_data(as_text=True)
               .strip().splitlines()) == 7

    # filters: category and district narrow every figure
    fire = figures.load(figures.Filters(period=filters.period, category="fire", district="Kadia"))
    assert sorted(r.category for r in fire) == ["fire", "fire"]


def _signed_in(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    login_as(client, role)
    return client


def test_who_may_see_statistics(app: Flask) -> None:
    for role in ("admin", "operator", "leadership"):
        client = _signed_in(app, role)
        assert client.get("/statistik").status_code == 200, role
        assert client.get("/statistik.csv").status_code == 200, role
        assert client.get("/statistik/peta.js").status_code == 200, role
    menu = _signed_in(app, "leadership").get("/statistik").get_data(as_text=True)
    assert 'href="/statistik" aria-current="page"' in menu  # in the staff menu
    for role in ("agency", "police"):
        client = _signed_in(app, role)
        assert 'href="/statistik"' not in client.get("/").get_data(as_text=True)
        assert client.get("/statistik").status_code == 403, role
        assert client.get("/statistik.csv").status_code == 403, role
    anonymous = app.test_client()
    assert anonymous.get("/statistik").status_code in (302, 401)
    assert anonymous.get("/statistik.csv").status_code in (302, 401)


def test_bad_filters_get_a_clear_400(app: Flask) -> None:
    client = _signed_in(app, "admin")
    for query, field in (("dari=kemarin", "dari"), ("sampai=2026-13-01", "sampai"), ("dari=1900-01-01", "dari"),
                         ("dari=2026-12-02&sampai=2026-12-01", "dari"), ("dari=2024-01-01&sampai=2026-01-01", "dari"),
                         ("kategori=ufo", "kategori"), ("kecamatan=" + "k" * 300, "kecamatan"),
                         ("dari=" + "9" * 5000, "dari")):
        response = client.get(f"/statistik?{query}")
        assert response.status_code == 400, query
        assert field in response.get_data(as_text=True), query
        assert client.get(f"/statistik.csv?{query}").status_code == 400


def test_csv_export_has_no_personal_data_defuses_formulas_and_is_audited(app: Flask) -> None:
    row = incident(dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC), district="=HYPERLINK(\"http://127.0.0.1\")",
                   phone="081234567890")
    event(row, "verified", row.created_at + dt.timedelta(seconds=45))
    dispatch(row, "damkar", row.created_at + dt.timedelta(seconds=70), ack_s=100)
    db.session.commit()
    client = _signed_in(app, "leadership")
    response = client.get("/statistik.csv?dari=2026-12-01&sampai=2026-12-01")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    text = response.get_data(as_text=True)
    assert "081234567890" not in text and "Siti" not in text and "rahasia" not in text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0]["district"].startswith("'=")  # a spreadsheet shows it as text, never runs it
    assert rows[0]["seconds_to_verify"] == "45" and rows[0]["seconds_to_dispatch"] == "70"
    assert rows[0]["seconds_to_first_acknowledge"] == "170" and rows[0]["dispatches_within_sla"] == "1"
    assert rows[0]["agencies"] == "DAMKAR" and rows[0]["received_local"] == "2026-12-01T10:00:00+08:00"
    page = client.get("/statistik?dari=2026-12-01&sampai=2026-12-01").get_data(as_text=True)
    assert re.search(r'<tr data-name="DAMKAR"><th scope="row">DAMKAR</th><td>1</td><td>100 dtk</td>', page)
    assert "100% (1/1)" in page
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "stats.export"))
    assert entry is not None and entry.detail["rows"] == 1 and entry.detail["period"]["dari"] == "2026-12-01"


def test_heat_map_is_folium_served_locally_without_inline_script(app: Flask) -> None:
    for i in range(3):
        incident(dt.datetime(2026, 12, 1, 2, i, tzinfo=UTC), lat=-3.98 - i / 1000, lon=122.52)
    incident(dt.datetime(2026, 12, 1, 2, 9, tzinfo=UTC), category="medical", lat=-4.01, lon=122.55)
    db.session.commit()
    client = _signed_in(app, "operator")
    page = client.get("/statistik?dari=2026-12-01&sampai=2026-12-01&kategori=fire")
    html = page.get_data(as_text=True)
    assert 'class="folium-map stats-heat" id="map_heat"' in html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attrs for attrs in scripts), "no inline script (the CSP refuses it)"
    sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert all(src.startswith("/") for src in sources), sources  # nothing from a CDN
    assert "/static/vendor/leaflet-heat/leaflet_heat.min.js" in sources
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    map_src = next(src for src in sources if src.startswith("/statistik/peta.js"))
    js = client.get(map_src.replace("&amp;", "&"))
    assert js.status_code == 200 and js.mimetype == "text/javascript"
    body = js.get_data(as_text=True)
    assert 'L.map(\n                "map_heat"' in body or '"map_heat"' in body
    assert "L.heatLayer(" in body and "[-3.98, 122.52]" in body and "[-3.981, 122.52]" in body
    assert "-4.01" not in body  # the category filter holds for the map too
    assert "cdn" not in body.lower() and "127.0.0.1:9/tiles" in body  # the configured tile server
    for path in ("vendor/leaflet-heat/leaflet_heat.min.js", "vendor/leaflet/leaflet.js"):
        assert client.get(f"/static/{path}").status_code == 200
