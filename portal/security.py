"""What every response and request gets, so each area's pages are safe without doing anything:

- security headers, each sent once (nginx adds them only to what it serves itself): a Content-Security-Policy
  with no inline script or style (JavaScript lives in ``static/js/``), ``X-Content-Type-Options``,
  ``X-Frame-Options`` and ``frame-ancestors`` (``@frameable`` views may be framed by any site),
  ``Referrer-Policy``, ``Permissions-Policy``, ``Cross-Origin-Opener-Policy``, and HSTS in production;
- the client's address and scheme from ``PANTAU_PROXY_COUNT`` trusted proxies (werkzeug's ProxyFix);
- accepted ``Host`` names (``PANTAU_TRUSTED_HOSTS``; others get 400) and body sizes (``PANTAU_MAX_BODY_BYTES``;
  larger gets 413);
- absolute links made from ``PANTAU_PUBLIC_URL``, never from the Host header: :func:`external_url`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
FRAMEABLE = "pantau_frameable"
PERMISSIONS = "geolocation=(self), camera=(), microphone=(), payment=(), usb=()"


def frameable(view: F) -> F:
    """Let any site frame this view (the embeddable player): no X-Frame-Options, ``frame-ancestors *``."""
    setattr(view, FRAMEABLE, True)
    return view


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def public_base() -> str:
    """``https://cctv.example.go.id``: the configured public address, else (development) this request's."""
    configured = _settings().public_url
    return configured or request.host_url.rstrip("/")


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for people and other sites (share links, embed code, og:image, open data)."""
    return public_base() + url_for(endpoint, **values)


def _origin(url: str) -> str | None:
    """The CSP source of a configured URL template (``https://{s}.tile.osm.org/{z}/..`` -> ``https://*.tile.osm.org``)."""
    try:
        parts = urlsplit(url.replace("{s}", "sub"))
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    if "{" in host or "}" in host:
        return None
    if "{s}" in url:
        host = host.replace("sub", "*", 1)
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: Settings, *, frame_ancestors: str) -> str:
    images = ["'self'", "data:", "blob:"]
    tiles = _origin(settings.tile_url)
    if tiles:
        images.append(tiles)
    nodes = list(settings.media_origin_list)  # media nodes: snapshots, playlists and segments (docs/media-nodes.md)
    images.extend(nodes)
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": " ".join(images),
        "media-src": " ".join(["'self'", "blob:", *nodes]),  # hls.js plays through MediaSource blob: URLs
        "worker-src": "'self' blob:",  # and transmuxes in a blob: worker
        "connect-src": " ".join(["'self'", *nodes]),
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors,
    }
    policy = "; ".join(f"{name} {value}" for name, value in directives.items())
    if settings.env == "production" and settings.public_url.startswith("https://"):
        policy += "; upgrade-insecure-requests"
    return policy


def _add_headers(response: Response) -> Response:
    settings = _settings()
    view = current_app.view_functions.get(request.endpoint or "")
    anywhere = bool(getattr(view, FRAMEABLE, False))
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers["Permissions-Policy"] = PERMISSIONS
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if anywhere:
        headers.pop("X-Frame-Options", None)
    else:
        headers["X-Frame-Options"] = "SAMEORIGIN"
    cache = current_app.extensions["pantau_csp"]
    key = "*" if anywhere else "'self'"
    if key not in cache:
        cache[key] = content_security_policy(settings, frame_ancestors=key)
    headers["Content-Security-Policy"] = cache[key]
    if settings.env == "production" and settings.hsts_seconds > 0 and (
        request.is_secure or settings.public_url.startswith("https://")
    ):
        headers["Strict-Transport-Security"] = f"max-age={settings.hsts_seconds}; includeSubDomains"
    return response


def init_app(app: Flask) -> None:
    settings: Settings = app.config["PANTAU"]
    if settings.proxy_count:
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.config["TRUSTED_HOSTS"] = settings.trusted_host_list
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["pantau_csp"] = {}
    app.after_request(_add_headers)
    app.add_template_global(external_url, "external_url")
