"""Reports from the public (issue 10): ``/lapor`` (phone-first form, installable, offline queue), ``/lacak``
(tracking code page following the report live), photos re-encoded without metadata, and the defences against
pranks and floods (per-address and per-phone limits, a honeypot, an operator-managed blocklist; suspicious
reports are flagged, never dropped).

The one way a report comes in is :func:`portal.reports.service.create_report` (Open311 uses it too).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_limiter import Limiter

from portal.settings import Settings


def _client() -> str:
    return request.remote_addr or "unknown"


def init_app(app: Flask) -> None:
    """Register the pages, the form's flood guard (per address) and the size a report with photos may have."""
    from portal.auth import csrf
    from portal.reports import staff_views, views

    settings: Settings = app.config["PANTAU"]
    app.register_blueprint(views.bp)
    app.register_blueprint(staff_views.bp)
    # The form checks its own CSRF token (FlaskForm), after the size check, so a stale token or a 50 MB
    # photo gets this page's own clear answer (and the offline queue a JSON one) instead of a bare 400/413.
    csrf.exempt("portal.reports.views.report")
    limiter = Limiter(_client, app=app, storage_uri=settings.ratelimit_storage_uri, headers_enabled=True,
                      strategy="moving-window", key_prefix=f"pantau-reports-{id(app)}")
    app.extensions["pantau_reports_limiter"] = limiter
    report: Any = app.view_functions["reports.report"]
    app.view_functions["reports.report"] = limiter.limit(
        lambda: settings.report_rate_limit, methods=["POST"], scope="report")(report)
    track: Any = app.view_functions["reports.track"]
    app.view_functions["reports.track"] = limiter.limit("240 per minute", scope="track")(track)
    lookup: Any = app.view_functions["reports.lookup"]
    app.view_functions["reports.lookup"] = limiter.limit("30 per minute", scope="lookup")(lookup)
    body = settings.report_max_photos * settings.report_photo_max_bytes + 1024 * 1024

    @app.before_request
    def _upload_size() -> None:
        if request.endpoint == "reports.report":
            request.max_content_length = body
