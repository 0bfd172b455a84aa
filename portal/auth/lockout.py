"""Lockout after failed sign-ins (Flask-Limiter): per username and per address, with a growing delay.

Only failures count (a view marks them with ``mark_failure()``; ``deduct_when`` reads the mark). Each key has a
ladder of limits (``PANTAU_LOCKOUT_ACCOUNT_LIMITS``, by default 5 per 5 minutes, 10 per hour, 20 per day), so
each further run of failures locks for longer. The username is counted whether or not it exists, and a locked
sign-in is refused before the password is looked at, so the answer never tells which of the two was wrong.

Counters live in ``PANTAU_RATELIMIT_STORAGE_URI`` (``memory://`` keeps them per process; use redis:// or
memcached:// when several portal processes answer sign-ins).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, current_app, request, session
from flask.wrappers import Response
from flask_limiter import Limiter

SCOPE_ACCOUNT = "signin-account"
SCOPE_ADDRESS = "signin-address"
EXTENSION = "pantau_limiter"


def mark_failure() -> None:
    request.environ["pantau.signin_failed"] = True  # the request's own (an app context may outlive it)


def _failed(_response: Response) -> bool:
    return bool(request.environ.get("pantau.signin_failed"))


def address_key() -> str:
    return request.remote_addr or "unknown"


def account_key() -> str:
    """The username being tried: typed in the form, or waiting for its second factor in the session."""
    typed = request.form.get("username") if request.method == "POST" else None
    if typed:
        return "u:" + typed.strip().lower()[:80]
    pending = session.get("pending_2fa") or {}
    return "u:" + str(pending.get("username", ""))[:80] if pending.get("username") else "u:?"


def _settings(name: str) -> Callable[[], str]:
    return lambda: str(getattr(current_app.config["PANTAU"], name))


def init_app(app: Flask, endpoints: list[str]) -> Limiter:
    """One limiter per app; the given endpoints share the account and address ladders (POST only)."""
    settings = app.config["PANTAU"]
    limiter = Limiter(address_key, app=app, storage_uri=settings.ratelimit_storage_uri, strategy="moving-window",
                      headers_enabled=False, key_prefix=f"pantau{id(app)}")
    account = limiter.shared_limit(_settings("lockout_account_limits"), SCOPE_ACCOUNT, key_func=account_key,
                                   methods=["POST"], deduct_when=_failed)
    address = limiter.shared_limit(_settings("lockout_address_limits"), SCOPE_ADDRESS, key_func=address_key,
                                   methods=["POST"], deduct_when=_failed)
    for endpoint in endpoints:  # Flask-Limiter checks decorated limits in the wrapper: install the wrapper
        app.view_functions[endpoint] = account(address(app.view_functions[endpoint]))  # type: ignore[assignment]
    app.extensions[EXTENSION] = limiter
    return limiter


def retry_after_seconds() -> int:
    """How long until the limit that refused this request lets one more try through."""
    limiter: Limiter = current_app.extensions[EXTENSION]
    limit = limiter.current_limit
    if limit is None:
        return 60
    return max(1, math.ceil(limit.reset_at - time.time()))
