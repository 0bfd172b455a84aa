"""Statistics for planning (issue 10): counts by category, district, agency and hour of day, the time to
verify, dispatch, acknowledge and close as p50/p90 against targets and SLAs, a heat map of reports (folium)
and a CSV export, all in the city's time zone (``settings.timezone``). For admins, operators and leadership."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.stats import views

    app.register_blueprint(views.bp)
