"""Agencies (issue 10, item 5): their staff's page ``/instansi`` (own dispatches only, live; acknowledge, en
route, on scene, done, hand back with a reason), the callback API for their own systems (bearer API tokens,
JSON status changes idempotent by request id, CAP 1.2 Ack) and the admins' token page.

``service.advance`` is the one way an agency moves a dispatch (used by all three)."""

from __future__ import annotations

from flask import Flask, g, request
from flask_limiter import Limiter

from portal.auth.policy import Policy
from portal.settings import Settings

API_RATE_LIMIT = "300 per minute"


def _client() -> str:
    token = g.get("pantau_agency_token")
    return f"token:{token.id}" if token is not None else (request.remote_addr or "unknown")


def init_app(app: Flask, policy: Policy) -> None:
    from portal.agency import admin_views, api, views
    from portal.auth import csrf

    settings: Settings = app.config["PANTAU"]
    for blueprint in (views.bp, admin_views.bp, api.bp):
        app.register_blueprint(blueprint)
    api.init_policy(policy)
    csrf.exempt(api.bp)  # machines with a bearer token, no cookies
    limiter = Limiter(_client, app=app, storage_uri=settings.ratelimit_storage_uri, headers_enabled=True,
                      strategy="moving-window", key_prefix=f"pantau-agency-{id(app)}")
    app.extensions["pantau_agency_limiter"] = limiter
    limiter.limit(API_RATE_LIMIT, scope="agency-api")(api.bp)
