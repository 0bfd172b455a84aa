"""The camera map's settings: where it opens and which tile server it draws. ``static/js/map.js`` builds the
Leaflet map from these (data attributes), so the page carries no inline script for the Content-Security-Policy
to refuse."""

from __future__ import annotations

from dataclasses import dataclass

from portal.settings import Settings


@dataclass(frozen=True)
class MapSettings:
    latitude: float
    longitude: float
    zoom: int
    tile_url: str
    attribution: str
    max_zoom: int = 19


def map_settings(settings: Settings, *, center: tuple[float, float] | None = None,
                 zoom: int | None = None) -> MapSettings:
    lat, lon = center or (settings.map_center_lat, settings.map_center_lon)
    return MapSettings(latitude=lat, longitude=lon, zoom=zoom or settings.map_zoom, tile_url=settings.tile_url,
                       attribution=settings.tile_attribution)
