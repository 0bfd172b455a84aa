"""The console's camera table: every camera with its live figures, searchable, filtered, problems first."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, func, or_, select

from portal.auth.scope import scoped
from portal.models import Agency, Camera, CameraLease, CameraStatus, Worker, db, utcnow
from portal.public.catalogue import effective_status

PROBLEM_ORDER = {"error": 0, "offline": 1, "unknown": 2, "starting": 3, "online": 4, "disabled": 5, "archived": 6}
STATES = tuple(PROBLEM_ORDER)
PER_PAGE = 50


@dataclass(frozen=True)
class Filters:
    q: str = ""
    status: str = ""
    visibility: str = ""  # public | private
    district: str = ""
    agency: str = ""  # agency id
    archived: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        status, visibility = args.get("status", ""), args.get("visibility", "")
        agency = args.get("agency", "")
        return cls(q=" ".join(args.get("q", "").split())[:80], status=status if status in STATES else "",
                   visibility=visibility if visibility in ("public", "private") else "",
                   district=args.get("district", "").strip()[:80], agency=agency if agency.isdigit() else "",
                   archived=args.get("archived") in ("1", "on", "true"))

    def args(self) -> dict[str, str]:
        values = {"q": self.q, "status": self.status, "visibility": self.visibility, "district": self.district,
                  "agency": self.agency, "archived": "1" if self.archived else ""}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Row:
    id: int
    name: str
    district: str
    public: bool
    enabled: bool
    archived: bool
    may_be_public: bool
    agency: str
    state: str  # effective: online, starting, offline, error, unknown, disabled, archived
    worker: str | None
    bitrate_kbps: float | None
    last_segment_age_s: float | None
    restarts_last_hour: int
    error: str | None
    since: dt.datetime | None  # last time it was seen online (for a camera that is down)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def rows(filters: Filters, *, now: dt.datetime | None = None) -> list[Row]:
    now = now or utcnow()
    lease_seconds = int(current_app.config["PANTAU"].lease_seconds)
    query = (
        select(Camera.id, Camera.name, Camera.district, Camera.public, Camera.enabled, Camera.archived_at,
               Camera.agency_id, Camera.owner_allows_public, Agency.name, CameraStatus.status,
               CameraStatus.updated_at, CameraStatus.bitrate_kbps, CameraStatus.last_segment_at,
               CameraStatus.restarts_last_hour, CameraStatus.error, CameraStatus.last_online_at, Worker.name)
        .outerjoin(CameraStatus, CameraStatus.camera_id == Camera.id)
        .outerjoin(Agency, Agency.id == Camera.agency_id)
        .outerjoin(CameraLease, (CameraLease.camera_id == Camera.id) & (CameraLease.expires_at >= now))
        .outerjoin(Worker, Worker.id == CameraLease.worker_id)
    )
    query = scoped(query, Camera.agency_id)
    if not filters.archived:
        query = query.where(Camera.archived_at.is_(None))
    if filters.q:
        like = _like(filters.q)
        conditions: list[ColumnElement[bool]] = [func.lower(Camera.name).like(like, escape="\\"),
                      func.lower(Camera.district).like(like, escape="\\")]
        if filters.q.isdigit():
            conditions.append(Camera.id == int(filters.q))
        query = query.where(or_(*conditions))
    if filters.visibility:
        query = query.where(Camera.public.is_(filters.visibility == "public"))
    if filters.district:
        query = query.where(Camera.district == filters.district)
    if filters.agency:
        query = query.where(Camera.agency_id == int(filters.agency))
    found = []
    for r in db.session.execute(query):
        (cid, name, district, public, enabled, archived_at, agency_id, owner_ok, agency_name, status, updated,
         bitrate, last_segment, restarts, error, last_online, worker) = r
        if archived_at is not None:
            state = "archived"
        elif not enabled:
            state = "disabled"
        else:
            state = effective_status(status, updated, now=now, lease_seconds=lease_seconds)
        found.append(Row(
            id=cid, name=name, district=district or "", public=bool(public), enabled=bool(enabled),
            archived=archived_at is not None, may_be_public=archived_at is None and (agency_id is None or owner_ok),
            agency=agency_name or "", state=state, worker=worker, bitrate_kbps=bitrate,
            last_segment_age_s=(now - last_segment).total_seconds() if last_segment else None,
            restarts_last_hour=restarts or 0, error=error if state in ("error", "offline") else None,
            since=last_online,
        ))
    if filters.status:
        found = [r for r in found if r.state == filters.status]
    found.sort(key=lambda r: (PROBLEM_ORDER.get(r.state, 9), -r.restarts_last_hour, r.name.lower(), r.id))
    return found


@dataclass(frozen=True)
class Page:
    items: list[Row]
    number: int
    pages: int
    total: int
    counts: dict[str, int]


def page_of(filters: Filters, number: int, per_page: int = PER_PAGE) -> Page:
    everything = rows(filters)
    counts: dict[str, int] = {}
    for r in everything:
        counts[r.state] = counts.get(r.state, 0) + 1
    pages = max(1, math.ceil(len(everything) / per_page))
    number = min(max(1, number), pages)
    start = (number - 1) * per_page
    return Page(items=everything[start:start + per_page], number=number, pages=pages, total=len(everything),
                counts=counts)


def all_districts() -> list[str]:
    query = select(Camera.district).where(Camera.district != "").distinct().order_by(Camera.district)
    return list(db.session.scalars(scoped(query, Camera.agency_id)))
