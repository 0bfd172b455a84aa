"""Footage for the police: requests, legal holds, exports on the workers, signed manifests, downloads through
nginx, residents' hold requests and public verification (issue 11).

``init_app`` registers the blueprints, the public forms' rate limits and the upload size of ``/verifikasi``;
in production the app refuses to start without the city's signing key.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_limiter import Limiter

from portal.footage import evidence
from portal.settings import Settings, SettingsError


def _client() -> str:
    return request.remote_addr or "unknown"


def _phone() -> str:
    from portal.footage.forms import normalise_phone

    try:
        return "phone:" + normalise_phone((request.form.get("phone") or "")[:40])
    except ValueError:
        return "phone:"


def init_app(app: Flask) -> None:
    from portal.footage import admin_views, downloads, labels, public_views, views

    settings: Settings = app.config["PANTAU"]
    if settings.env == "production" and not settings.evidence_key_path.is_file():
        raise SettingsError(f"the evidence signing key is missing ({settings.evidence_key_path}): "
                            "run `pantau keys generate` once, and keep the file out of the database and backups "
                            "anyone can read")
    for blueprint in (views.bp, admin_views.bp, downloads.bp, public_views.bp):
        app.register_blueprint(blueprint)
    labels.init_app(app)

    limiter = Limiter(_client, app=app, storage_uri=settings.ratelimit_storage_uri, headers_enabled=True,
                      strategy="moving-window", key_prefix=f"pantau-footage-{id(app)}")
    app.extensions["pantau_footage_limiter"] = limiter
    resident: Any = app.view_functions["footage_public.resident_form"]
    resident = limiter.limit(lambda: settings.resident_rate_limit, methods=["POST"], scope="resident-hold")(resident)
    resident = limiter.limit("3 per day", key_func=_phone, methods=["POST"], scope="resident-hold-phone",
                             exempt_when=lambda: _phone() == "phone:")(resident)
    app.view_functions["footage_public.resident_form"] = resident
    verify: Any = app.view_functions["footage_public.verify"]
    app.view_functions["footage_public.verify"] = limiter.limit(
        lambda: settings.verify_rate_limit, methods=["POST"], scope="verify")(verify)

    @app.before_request
    def _upload_size() -> None:
        if request.endpoint == "footage_public.verify":
            request.max_content_length = settings.verify_max_bytes


__all__ = ["evidence", "init_app"]
