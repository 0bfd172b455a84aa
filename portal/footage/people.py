"""Who is acting: the signed-in user (Flask-Login, the accounts area) and the request's address, for the footage
pages and their audit entries."""

from __future__ import annotations

from typing import Any

from flask import abort, has_request_context, request
from flask_login import current_user as login_user

from portal.auth.actor import current_actor
from portal.models import User


def current_user() -> User | None:
    if not has_request_context() or not login_user or not login_user.is_authenticated:
        return None
    found = login_user._get_current_object()  # type: ignore[attr-defined]
    return found if isinstance(found, User) else None


def signed_in() -> User:
    user = current_user()
    if user is None:
        abort(401)
    return user


def address() -> str | None:
    return (request.remote_addr or None) if has_request_context() else None


def audit_fields(user: User | None = None) -> dict[str, Any]:
    """``actor``, ``actor_user_id`` and ``ip`` for ``record()``: who, and from where."""
    if user is None:
        return current_actor().audit_fields()
    return {"actor": user.username, "actor_user_id": user.id, "ip": address()}
