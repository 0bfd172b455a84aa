"""The folium map, pointed at the vendored Leaflet and the configured tile server."""

from __future__ import annotations

from dataclasses import dataclass

import folium
from flask import url_for

from portal.settings import Settings


@dataclass(frozen=True)
class RenderedMap:
    name: str
    header: str
    html: str
    script: str


def render_map(settings: Settings, *, center: tuple[float, float] | None = None, zoom: int | None = None,
               height: str = "100%") -> RenderedMap:
    m = folium.Map(
        location=list(center or (settings.map_center_lat, settings.map_center_lon)),
        zoom_start=zoom or settings.map_zoom,
        tiles=None,
        max_zoom=19,
        height=height,
        control_scale=True,
    )
    folium.TileLayer(tiles=settings.tile_url, attr=settings.tile_attribution, max_zoom=19, name="tiles").add_to(m)
    m.default_js = [("leaflet", url_for("static", filename="vendor/leaflet/leaflet.js"))]
    m.default_css = [("leaflet_css", url_for("static", filename="vendor/leaflet/leaflet.css"))]
    figure = m.get_root()
    figure.render()
    header = figure.header.render()  # type: ignore[attr-defined]
    # folium's viewport tag forbids zooming the page; people with poor sight need it.
    header = header.replace("maximum-scale=1.0, user-scalable=no", "")
    return RenderedMap(
        name=m.get_name(),
        header=header,
        html=figure.html.render(),  # type: ignore[attr-defined]
        script=figure.script.render(),  # type: ignore[attr-defined]
    )
