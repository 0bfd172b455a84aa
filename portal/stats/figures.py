"""Planning figures from the incidents, their events and dispatches, counted in the city's time zone.

Every time is converted to the city's zone (``settings.timezone``: WITA, Asia/Makassar, for Kendari; WIT,
Asia/Jayapura, for Ambon) in Python, so days and hours are the city's on SQLite and PostgreSQL alike: a report
at 23:30 UTC is one of the next morning's 07:30 reports in Kendari. A period is a range of the city's dates.

Durations, each as p50/p90 (nearest rank) against its target:

- to verify: the report's arrival to its first ``verified`` event;
- to dispatch: arrival to its first dispatch;
- to acknowledge: each dispatch to the agency's acknowledgement, against that dispatch's SLA (``sla_due_at``,
  from the routing rule); a dispatch past its SLA and still unacknowledged counts as a miss;
- to close: arrival to its ``resolved`` event, or else to the last of its dispatches closed when all are.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select

from portal.incidents.events import RESOLVED, VERIFIED
from portal.models import Agency, Dispatch, Incident, IncidentEvent, db

# Targets for the command centre's own steps (seconds); acknowledging has each dispatch's own SLA.
VERIFY_TARGET_S = 120
DISPATCH_TARGET_S = 180
MAX_DAYS = 366
MAX_MAP_POINTS = 20_000
CLOSED_DISPATCH = ("done", "rejected", "cancelled")


@dataclass(frozen=True)
class Period:
    """The city's dates ``first``..``last`` (inclusive) in ``zone``."""

    first: dt.date
    last: dt.date
    zone: zoneinfo.ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), self.zone).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:  # exclusive
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), self.zone).astimezone(dt.UTC)

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass(frozen=True)
class Filters:
    period: Period
    category: str = ""
    district: str = ""


@dataclass
class DispatchFacts:
    agency: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    sla_due_at: dt.datetime | None
    status: str


@dataclass
class Report:
    id: int
    category: str
    district: str
    status: str
    created_at: dt.datetime
    latitude: float | None
    longitude: float | None
    verified_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    dispatches: list[DispatchFacts] = field(default_factory=list)

    @property
    def dispatched_at(self) -> dt.datetime | None:
        return min((d.created_at for d in self.dispatches), default=None)

    @property
    def closed_at(self) -> dt.datetime | None:
        if self.resolved_at is not None:
            return self.resolved_at
        if self.dispatches and all(d.closed_at is not None for d in self.dispatches):
            return max(d.closed_at for d in self.dispatches if d.closed_at is not None)
        return None

    @property
    def first_ack_at(self) -> dt.datetime | None:
        return min((d.acknowledged_at for d in self.dispatches if d.acknowledged_at), default=None)


@dataclass(frozen=True)
class Duration:
    key: str
    count: int
    p50_s: float | None
    p90_s: float | None
    target_s: float | None  # the target (for acknowledging: the median SLA of the dispatches)
    within: int  # how many met their target
    judged: int  # how many could be judged against a target (includes overdue ones still open)

    @property
    def within_share(self) -> float | None:
        return self.within / self.judged if self.judged else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _incidents(filters: Filters) -> Select[Any]:
    stmt = select(Incident).where(Incident.created_at >= filters.period.start, Incident.created_at < filters.period.end,
                                  Incident.status != "merged")
    if filters.category:
        stmt = stmt.where(Incident.category == filters.category)
    if filters.district:
        stmt = stmt.where(Incident.district == filters.district)
    return stmt


def load(filters: Filters) -> list[Report]:
    """The period's reports (merged duplicates left out: they are counted in the report they joined)."""
    base = _incidents(filters)
    ids = base.with_only_columns(Incident.id)
    reports: dict[int, Report] = {}
    found: Any = db.session.scalars(base.order_by(Incident.created_at, Incident.id))
    for inc in found:
        reports[inc.id] = Report(id=inc.id, category=inc.category, district=inc.district or "", status=inc.status,
                                 created_at=inc.created_at, latitude=inc.latitude, longitude=inc.longitude)
    if not reports:
        return []
    for kind, attr in ((VERIFIED, "verified_at"), (RESOLVED, "resolved_at")):
        rows = db.session.execute(select(IncidentEvent.incident_id, func.min(IncidentEvent.at))
                                  .where(IncidentEvent.kind == kind, IncidentEvent.incident_id.in_(ids))
                                  .group_by(IncidentEvent.incident_id))
        for incident_id, at in rows:
            if incident_id in reports and at is not None:
                setattr(reports[incident_id], attr, _aware(at))
    dispatches: Any = db.session.execute(select(Dispatch, Agency.name).join(Agency, Agency.id == Dispatch.agency_id)
                              .where(Dispatch.incident_id.in_(ids)).order_by(Dispatch.id))
    for dispatch, agency in dispatches:
        reports[dispatch.incident_id].dispatches.append(DispatchFacts(
            agency=agency, created_at=dispatch.created_at, acknowledged_at=dispatch.acknowledged_at,
            closed_at=dispatch.closed_at, sla_due_at=dispatch.sla_due_at, status=dispatch.status))
    return list(reports.values())


def _aware(value: dt.datetime) -> dt.datetime:
    """``min()`` over a column may come back naive on SQLite: the stored value is UTC."""
    if isinstance(value, str):  # SQLite without the column type on an aggregate
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def local(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return _aware(moment).astimezone(zone)


@dataclass
class Summary:
    total: int
    by_category: list[tuple[str, int]]
    by_district: list[tuple[str, int]]
    by_agency: list[tuple[str, int]]
    agency_acknowledge: dict[str, Duration]  # each agency's time to acknowledge against its SLAs
    by_hour: list[tuple[int, int]]
    by_day: list[tuple[dt.date, int]]
    durations: list[Duration]


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (_aware(end) - _aware(start)).total_seconds())


def _duration(key: str, values: Iterable[float | None], target: float | None) -> Duration:
    got = [v for v in values if v is not None]
    within = sum(1 for v in got if target is not None and v <= target)
    return Duration(key=key, count=len(got), p50_s=percentile(got, 50), p90_s=percentile(got, 90), target_s=target,
                    within=within, judged=len(got) if target is not None else 0)


def _acknowledge(dispatches: Iterable[DispatchFacts], now: dt.datetime) -> Duration:
    times, slas, within, judged = [], [], 0, 0
    for d in dispatches:
        sla = _seconds(d.created_at, d.sla_due_at)
        waited = _seconds(d.created_at, d.acknowledged_at)
        if sla is not None:
            slas.append(sla)
        if waited is not None:
            times.append(waited)
            if sla is not None:
                judged += 1
                within += waited <= sla
        elif d.sla_due_at is not None and _aware(d.sla_due_at) < now and d.status not in CLOSED_DISPATCH:
            judged += 1  # overdue and still unacknowledged: a miss
    return Duration(key="acknowledge", count=len(times), p50_s=percentile(times, 50), p90_s=percentile(times, 90),
                    target_s=percentile(slas, 50), within=within, judged=judged)


def summarise(reports: Sequence[Report], period: Period, *, now: dt.datetime) -> Summary:
    zone = period.zone
    hours = Counter(local(r.created_at, zone).hour for r in reports)
    days = Counter(local(r.created_at, zone).date() for r in reports)
    agencies = Counter(d.agency for r in reports for d in r.dispatches)
    return Summary(
        total=len(reports),
        by_category=Counter(r.category for r in reports).most_common(),
        by_district=Counter(r.district for r in reports).most_common(),
        by_agency=agencies.most_common(),
        agency_acknowledge={name: _acknowledge((d for r in reports for d in r.dispatches if d.agency == name), now)
                            for name in agencies},
        by_hour=[(hour, hours.get(hour, 0)) for hour in range(24)],
        by_day=[(day, days.get(day, 0)) for day in period.days],
        durations=[
            _duration("verify", (_seconds(r.created_at, r.verified_at) for r in reports), VERIFY_TARGET_S),
            _duration("dispatch", (_seconds(r.created_at, r.dispatched_at) for r in reports), DISPATCH_TARGET_S),
            _acknowledge((d for r in reports for d in r.dispatches), now),
            _duration("close", (_seconds(r.created_at, r.closed_at) for r in reports), None),
        ],
    )


def places(filters: Filters) -> list[tuple[float, float]]:
    """The period's reports' coordinates only (the heat map needs nothing else), newest last."""
    stmt = _incidents(filters).with_only_columns(Incident.latitude, Incident.longitude).where(
        Incident.latitude.is_not(None), Incident.longitude.is_not(None)).order_by(Incident.created_at.desc())
    rows: Any = db.session.execute(stmt.limit(MAX_MAP_POINTS)).all()
    return [(float(lat), float(lon)) for lat, lon in reversed(rows)]


def districts() -> list[str]:
    return [d for d in db.session.scalars(select(Incident.district).distinct().order_by(Incident.district)) if d][:500]
