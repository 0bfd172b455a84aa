"""The portal's own error answers: a translated page for people, a short JSON body for programs, never a
traceback.

Every ``HTTPException`` (400, 401, 403, 404, 405, 413, 429, ...), every :class:`portal.bounds.InputError`
(400 naming the field) and every unexpected exception (500, after rolling the database session back) ends
here. JSON is answered under the JSON prefixes (``/api/``; an area adds its own with
:func:`add_json_prefix`, e.g. ``/open311/``), for paths ending in ``.json`` and to clients that prefer JSON.
Bahasa Indonesia by default, English with ``?lang=en``.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.bounds import InputError
from portal.dbwait import MARKER, is_lost_connection

log = logging.getLogger("pantau.errors")
EXTENSION = "pantau_json_prefixes"
JSON_PREFIXES = ("/api/", "/_auth/")
JSON_SUFFIXES = (".json", ".geojson")

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    408: "request_timeout", 409: "conflict", 413: "payload_too_large", 414: "uri_too_long",
    415: "unsupported_media_type", 422: "unprocessable", 429: "too_many_requests", 431: "headers_too_large",
    500: "server_error", 502: "bad_gateway", 503: "unavailable",
}
TITLES = {
    400: _l("Bad request"),
    401: _l("Sign-in required"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    413: _l("Too large"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
    503: _l("Briefly unavailable"),
}
EXPLANATIONS = {
    400: _l("The request could not be understood. Check what you entered and try again."),
    401: _l("Please sign in to see this page."),
    403: _l("You are not allowed to see this page."),
    404: _l("This page or camera does not exist, or is not public."),
    405: _l("This address does not accept this kind of request."),
    413: _l("What you sent is too large."),
    429: _l("Too many requests in a short time. Please wait a moment and try again."),
    500: _l("The portal could not answer this request. It has been noted; please try again later."),
    503: _l("The portal is restarting part of its service. Please try again in a few seconds."),
}


def add_json_prefix(app: Flask, prefix: str) -> None:
    """Answer errors under ``prefix`` in JSON (an area's machine API, e.g. ``/open311/``)."""
    app.extensions[EXTENSION] = (*app.extensions.get(EXTENSION, JSON_PREFIXES), prefix)


def wants_json() -> bool:
    path = request.path
    prefixes = current_app.extensions.get(EXTENSION, JSON_PREFIXES)
    if path.startswith(prefixes) or path.endswith(JSON_SUFFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def respond(status: int, detail: str | None = None, headers: dict[str, str] | None = None) -> ResponseReturnValue:
    """The error answer for ``status``, JSON or a page as the client wants."""
    title = TITLES.get(status) or TITLES[500 if status >= 500 else 400]
    explanation = EXPLANATIONS.get(status) or EXPLANATIONS[500 if status >= 500 else 400]
    extra = dict(headers or {})
    extra["Cache-Control"] = "no-store"
    if wants_json():
        body: dict[str, object] = {"error": CODES.get(status, "error"), "message": str(title)}
        if detail:
            body["detail"] = detail
        return jsonify(body), status, extra
    if request_ctx.url_adapter is None:  # a Host outside TRUSTED_HOSTS: no links can be built, so a bare page
        lang = escape(str(get_locale() or "id"))
        page = (f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><title>{escape(str(title))}</title>'
                f"<h1>{escape(str(title))}</h1><p>{escape(str(explanation))}</p></html>")
    else:
        page = render_template("errors/error.html", status=status, title=title, explanation=explanation,
                               detail=detail)
    return page, status, extra


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    if status >= 500:
        return _server_error(exc)
    # keep what the exception says about itself (Allow on a 405, Retry-After on a 429), not its HTML
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")}
    if exc.response is not None:
        headers.update({k: v for k, v in exc.response.headers.items() if k.lower() in ("retry-after", "allow")})
    return respond(status, headers=headers)


def _input_error(exc: InputError) -> ResponseReturnValue:
    _rollback()
    return respond(400, detail=gettext("%(field)s: %(message)s", field=exc.field, message=exc.message))


def _server_error(exc: BaseException) -> ResponseReturnValue:
    _rollback()
    original = getattr(exc, "original_exception", None) or exc
    if is_lost_connection(original):  # the database is restarting: say so, and when to try again
        log.warning("database unreachable on %s %s: %s", request.method, request.path[:200],
                    type(original).__name__)
        try:
            return respond(503, headers={"Retry-After": "2", MARKER: "unavailable"})
        except Exception:
            log.exception("the error page failed")
            return "503 Service Unavailable", 503, {"Content-Type": "text/plain; charset=utf-8",
                                                    "Cache-Control": "no-store", "Retry-After": "2",
                                                    MARKER: "unavailable"}
    if not isinstance(original, HTTPException) or isinstance(original, InternalServerError):
        log.error("unhandled error on %s %s", request.method, request.path[:200], exc_info=original)
    try:
        return respond(500)
    except Exception:  # the page itself failed (a broken template or locale): a plain answer, still no traceback
        log.exception("the error page failed")
        plain = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
        return "500 Internal Server Error", 500, plain


def _rollback() -> None:
    from portal.models import db

    try:
        db.session.rollback()
    except Exception:  # the connection itself may be what failed
        log.exception("rolling back the database session failed")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InputError, _input_error)
    app.register_error_handler(Exception, _server_error)
