"""Who is acting: the signed-in user and the request's address, for the footage pages and their audit entries.

The accounts area (Flask-Login) sets ``current_user``; until it is part of the app, a user identified by another
registered identifier is put in ``g.pantau_user`` (the tests' stand-in sign-in does that).
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, has_request_context, request

from portal.models import User


def current_user() -> User | None:
    if not has_request_context():
        return None
    user = g.get("pantau_user")
    if isinstance(user, User):
        return user
    try:
        from flask_login import current_user as login_user
    except ImportError:
        return None
    found = login_user._get_current_object() if login_user else None  # type: ignore[attr-defined]
    return found if isinstance(found, User) and getattr(found, "is_authenticated", False) else None


def signed_in() -> User:
    user = current_user()
    if user is None:
        abort(401)
    return user


def address() -> str | None:
    return (request.remote_addr or None) if has_request_context() else None


def audit_fields(user: User | None = None) -> dict[str, Any]:
    """``actor``, ``actor_user_id`` and ``ip`` for ``record()``: who, and from where."""
    user = user or current_user()
    if user is None:
        return {"actor": "anonymous", "actor_user_id": None, "ip": address()}
    return {"actor": user.username, "actor_user_id": user.id, "ip": address()}
