"""Open311 GeoReport v2 at ``/open311/v2/`` (issue 10): existing civic-reporting apps send reports to the 112
queue and follow them. Discovery, services (the incident categories), service definitions, requests (GET one or
a filtered list, POST with a client's API key), tokens; JSON and XML by the path's suffix; errors as the spec's
``code``/``description`` list with a 4xx status, for every path under ``/open311/`` (unknown paths, wrong methods,
bodies too large and rate limits included).

Posts go through ``portal.reports.service.create_report`` (the same checks, events and queue as ``/lapor``).
API keys: ``pantau open311 keys add|list|revoke`` and the admin page ``/admin/open311``; hashed at rest, audited.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_limiter import Limiter
from werkzeug.exceptions import HTTPException

from portal import errors
from portal.bounds import InputError
from portal.open311.formats import error, format_of
from portal.open311.requests import Open311Error
from portal.settings import Settings

PREFIX = "/open311/"
POST_LIMIT_PER_KEY = "120 per minute;5000 per day"  # one app speaks for many residents
POST_LIMIT_PER_ADDRESS = "240 per minute"
READ_LIMIT_PER_ADDRESS = "300 per minute"


def _ours() -> bool:
    return request.path.startswith(PREFIX)


def _spec_error(status: int, description: str, headers: dict[str, str] | None = None) -> ResponseReturnValue:
    return error(status, description, format_of(request.path), headers)


def _client_key() -> str:
    from portal.open311.keys import digest

    key = (request.form.get("api_key") or request.headers.get("X-Api-Key") or "")[:200]
    return "key:" + digest(key) if key else "addr:" + (request.remote_addr or "unknown")


def init_app(app: Flask) -> None:
    from portal.auth import csrf
    from portal.open311 import admin_views, cli, views

    settings: Settings = app.config["PANTAU"]
    app.register_blueprint(views.bp)
    app.register_blueprint(admin_views.bp)
    csrf.exempt(views.bp)  # programs with an API key, no cookies
    errors.add_json_prefix(app, PREFIX)
    app.cli.add_command(cli.open311)

    limiter = Limiter(lambda: request.remote_addr or "unknown", app=app, storage_uri=settings.ratelimit_storage_uri,
                      headers_enabled=True, strategy="moving-window", key_prefix=f"pantau-open311-{id(app)}")
    app.extensions["pantau_open311_limiter"] = limiter
    post: Any = app.view_functions["open311.request_post"]
    post = limiter.limit(POST_LIMIT_PER_KEY, key_func=_client_key, scope="open311-post-key")(post)
    post = limiter.limit(POST_LIMIT_PER_ADDRESS, scope="open311-post-address")(post)
    app.view_functions["open311.request_post"] = post
    for endpoint in ("open311.request_list", "open311.request_one", "open311.token"):  # reads cost a query each
        view: Any = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.limit(READ_LIMIT_PER_ADDRESS, scope="open311-read")(view)

    def _open311_error(exc: Open311Error) -> ResponseReturnValue:
        from portal.models import db

        db.session.rollback()
        return _spec_error(exc.status, exc.description)

    # Every HTTP error and bounds error under /open311/ in the spec's shape; the portal's own answer elsewhere.
    handlers = app.error_handler_spec.setdefault(None, {}).setdefault(None, {})
    portal_http: Any = handlers.get(HTTPException)
    portal_input: Any = handlers.get(InputError)

    def _http(exc: HTTPException) -> ResponseReturnValue:
        if not _ours() or (exc.code or 500) >= 500:
            return portal_http(exc) if portal_http else exc
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
        if exc.response is not None:
            headers.update({k: v for k, v in exc.response.headers.items()
                            if k.lower() in ("retry-after", "allow") or k.lower().startswith("x-ratelimit")})
        return _spec_error(exc.code or 400, _describe(exc), headers)

    def _input(exc: InputError) -> ResponseReturnValue:
        if not _ours():
            return portal_input(exc) if portal_input else errors.respond(400)
        from portal.models import db

        db.session.rollback()
        return _spec_error(400, f"{exc.field}: {exc.message}")

    app.register_error_handler(Open311Error, _open311_error)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(InputError, _input)


def _describe(exc: HTTPException) -> str:
    status = exc.code or 400
    if status == 404:
        return gettext("no such resource (see discovery.json)")
    if status == 405:
        return gettext("this address does not accept this method")
    if status == 413:
        return gettext("the request is too large")
    if status == 429:
        return gettext("too many requests: wait and try again")
    if status == 400:
        return gettext("the request could not be read")
    return str(errors.TITLES.get(status) or gettext("the request was refused"))
