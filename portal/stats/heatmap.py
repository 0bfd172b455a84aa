"""The heat map of reports: a folium map with the HeatMap plugin, its JavaScript served by the portal.

folium writes a page with inline script and style, which the Content-Security-Policy refuses; so the page
holds only the map's element (``folium-map``, sized by ``pantau.css``) and loads the vendored Leaflet and
leaflet.heat (``static/vendor``, never a CDN) and this module's script from ``/statistik/peta.js``. The
element's id is fixed (``map_heat``), so the page and the script agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
from folium.plugins import HeatMap

from portal.settings import Settings
from portal.stats.figures import MAX_MAP_POINTS

MAP_ID = "heat"  # folium names the element map_<id>
ELEMENT_ID = f"map_{MAP_ID}"


def script(places: Sequence[tuple[float, float]], settings: Settings) -> str:
    """The JavaScript that draws the map (the folium figure's script part, nothing inline in the page)."""
    heat = [[round(lat, 5), round(lon, 5)] for lat, lon in places[-MAX_MAP_POINTS:]]
    center = (settings.map_center_lat, settings.map_center_lon)
    if heat:
        center = (sum(p[0] for p in heat) / len(heat), sum(p[1] for p in heat) / len(heat))
    fmap = folium.Map(location=list(center), zoom_start=settings.map_zoom, tiles=None, max_zoom=19,
                      control_scale=True)
    fmap._id = MAP_ID
    folium.TileLayer(settings.tile_url, attr=settings.tile_attribution, max_zoom=19, name="tiles").add_to(fmap)
    layer = HeatMap(heat, radius=18, blur=14, min_opacity=0.35, max_zoom=16)
    layer._id = "reports"
    layer.add_to(fmap)
    figure: Any = fmap.get_root()
    figure.render()
    return str(figure.script.render())
