"""What is near a report: the closest cameras (public and private, as far as the operator may view them) and
likely duplicates (the same category within 250 m and 30 minutes)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import select

from portal.incidents.geo import distance_m
from portal.media.views import may_view
from portal.models import Camera, db
from portal.models.incident import Incident

DUPLICATE_RADIUS_M = 250.0
DUPLICATE_WINDOW = dt.timedelta(minutes=30)
CAMERAS_SHOWN = 6
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class NearCamera:
    camera: Camera
    distance_m: float


@dataclass(frozen=True)
class Duplicate:
    incident: Incident
    distance_m: float
    minutes_apart: float


def nearest_cameras(latitude: float | None, longitude: float | None, *, limit: int = CAMERAS_SHOWN) -> list[NearCamera]:
    """The ``limit`` closest cameras the current user may view, nearest first. The database orders by a flat-earth
    distance (plain arithmetic: SQLite and PostgreSQL agree); the great-circle distance is computed for the few."""
    if latitude is None or longitude is None:
        return []
    scale = math.cos(math.radians(latitude)) ** 2
    dlat = Camera.latitude - latitude
    dlon = Camera.longitude - longitude
    candidates = db.session.scalars(
        select(Camera).where(Camera.archived_at.is_(None), Camera.latitude.is_not(None), Camera.longitude.is_not(None))
        .order_by(dlat * dlat + dlon * dlon * scale, Camera.id).limit(limit * 4)).all()
    near = [NearCamera(c, distance_m(latitude, longitude, c.latitude, c.longitude)) for c in candidates if may_view(c)]
    near.sort(key=lambda n: (n.distance_m, n.camera.id))
    return near[:limit]


def likely_duplicates(incident: Incident, *, radius_m: float = DUPLICATE_RADIUS_M,
                      window: dt.timedelta = DUPLICATE_WINDOW) -> list[Duplicate]:
    """Other reports of the same category within ``radius_m`` and ``window`` of this one, not already closed as
    rejected or merged; nearest first."""
    if incident.latitude is None or incident.longitude is None:
        return []
    dlat = radius_m / METRES_PER_DEGREE
    dlon = radius_m / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(incident.latitude))))
    candidates = db.session.scalars(select(Incident).where(
        Incident.id != incident.id, Incident.category == incident.category,
        Incident.status.notin_(("rejected", "merged")),
        Incident.created_at >= incident.created_at - window, Incident.created_at <= incident.created_at + window,
        Incident.latitude.between(incident.latitude - dlat, incident.latitude + dlat),
        Incident.longitude.between(incident.longitude - dlon, incident.longitude + dlon),
    ).limit(50)).all()
    found = []
    for other in candidates:
        assert other.latitude is not None and other.longitude is not None
        metres = distance_m(incident.latitude, incident.longitude, other.latitude, other.longitude)
        if metres <= radius_m:
            apart = abs((other.created_at - incident.created_at).total_seconds()) / 60
            found.append(Duplicate(other, metres, apart))
    found.sort(key=lambda d: (d.distance_m, d.incident.id))
    return found
