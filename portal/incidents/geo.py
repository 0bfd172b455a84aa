"""Distances on the earth and the city's area (a report from outside it is refused with a clear message)."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_000.0

# The area of Kota Kendari (approximate outline, lon/lat), used when the settings name no other.
KENDARI_AREA: tuple[tuple[float, float], ...] = (
    (122.43, -3.93), (122.52, -3.92), (122.62, -3.94), (122.66, -3.99), (122.64, -4.06),
    (122.56, -4.10), (122.47, -4.08), (122.42, -4.02),
)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def inside(lat: float, lon: float, area: tuple[tuple[float, float], ...] = KENDARI_AREA) -> bool:
    """Is (lat, lon) inside the polygon ``area`` of (lon, lat) corners? (ray casting)"""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    result = False
    j = len(area) - 1
    for i, (xi, yi) in enumerate(area):
        xj, yj = area[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            result = not result
        j = i
    return result


DISTRICT_RADIUS_M = 3000.0  # a camera this close names the district of a report that gives none


def district_near(lat: float | None, lon: float | None, radius_m: float = DISTRICT_RADIUS_M) -> str:
    """The district (kecamatan) of the nearest camera that names one, within ``radius_m``; '' when none does.

    Admins give every camera its district, and cameras stand in every district, so the nearest camera's district
    is the report's (for routing rules by district and the statistics) without a boundary file; a report far
    from every camera keeps none and is routed by category alone."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return ""
    from sqlalchemy import select

    from portal.models import db
    from portal.models.camera import Camera

    # a box around the point first (about radius_m each way), then the exact distance
    dlat = radius_m / 111_000.0
    dlon = radius_m / (111_000.0 * max(0.1, math.cos(math.radians(lat))))
    rows = db.session.execute(select(Camera.latitude, Camera.longitude, Camera.district).where(
        Camera.district != "", Camera.latitude.between(lat - dlat, lat + dlat),
        Camera.longitude.between(lon - dlon, lon + dlon))).all()
    best: tuple[float, str] | None = None
    for clat, clon, district in rows:
        if clat is None or clon is None:
            continue
        distance = distance_m(lat, lon, clat, clon)
        if distance <= radius_m and (best is None or distance < best[0]):
            best = (distance, district)
    return best[1] if best else ""
