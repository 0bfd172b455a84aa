"""Signed-in sessions: Flask-Login's user loading, inactivity expiry, the user's role for the access policy and
what a refused request gets (a redirect to the sign-in page for a person who is not signed in, 403 otherwise).

A session is a signed cookie carrying the user id, the user's ``session_version`` (bumped to end every session
of a user), the sign-in time and the time of the last request. It ends after ``SESSION_IDLE_MINUTES`` without a
request and after ``SESSION_MAX_HOURS`` in any case. Background polling (player status, nginx's media checks,
auto-refreshing fragments marked ``X-Pantau-Poll``) does not count as activity.
"""

from __future__ import annotations

import time

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user, login_user, logout_user

from portal.auth.policy import Policy
from portal.models import User, db, utcnow
from portal.models.audit import record

login_manager = LoginManager()
login_manager.session_protection = "basic"
SEEN_EVERY_S = 30  # the "last request" time is written at most this often (each write is a new cookie)
BACKGROUND_ENDPOINTS = frozenset({"public.camera_status", "admin.camera_status", "media.authorize", "media.hls",
                                  "media.snapshot", "static", "footage_media.authorize_archive",
                                  "footage_media.recording"})


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    ident, _, version = user_id.partition(":")
    if not ident.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def _limits() -> tuple[float, float]:
    settings = current_app.config["PANTAU"]
    return settings.session_idle_minutes * 60.0, settings.session_max_hours * 3600.0


def identify_user() -> set[str]:
    """The signed-in user's role, for the access policy; an expired session is ended here."""
    g.pop("_login_user", None)  # load the user afresh for each request (an app context may outlive one)
    if not current_user.is_authenticated:
        return set()
    now = time.time()
    idle, longest = _limits()
    seen, since = float(session.get("seen", 0)), float(session.get("since", 0))
    if now - seen > idle or now - since > longest:
        end_session(expired=True)
        return set()
    background = request.endpoint in BACKGROUND_ENDPOINTS or request.headers.get("X-Pantau-Poll") == "1"
    if not background and now - seen > SEEN_EVERY_S:
        session["seen"] = now
    return {current_user.role}


def start_session(user: User, **detail: object) -> None:
    """Sign this user in: a fresh session (never one an attacker could have planted), audited."""
    session.clear()
    login_user(user, remember=False, fresh=True)
    now = time.time()
    session["since"] = session["seen"] = now
    session.permanent = True
    user.last_login_at = utcnow()
    record("auth.signin", actor=user.username, actor_user_id=user.id, ip=request.remote_addr,
           target_type="user", target_id=user.id, role=user.role, **detail)
    db.session.commit()


def end_session(*, expired: bool = False) -> None:
    user = current_user._get_current_object() if current_user.is_authenticated else None  # type: ignore[attr-defined]
    logout_user()
    session.clear()
    g.pantau_session_expired = expired
    if user is not None and not expired:
        record("auth.signout", actor=user.username, actor_user_id=user.id, ip=request.remote_addr,
               target_type="user", target_id=user.id)
        db.session.commit()


def wants_page() -> bool:
    """Is this a person's browser asking for a page (not a script, an API client or a media player)?"""
    if request.method != "GET" or request.headers.get("HX-Request") == "true":
        return False
    if request.path.startswith(("/api/", "/media/", "/_auth/")) or request.path.endswith((".json", ".csv")):
        return False
    return request.accept_mimetypes.accept_html


def refuse(signed_in: bool) -> ResponseReturnValue:
    """The access policy's answer to a refused request (for blueprints without their own)."""
    if signed_in:
        abort(403)
    target = url_for("auth.signin", next=request.full_path.rstrip("?"))
    if wants_page():
        return redirect(target)
    if request.headers.get("HX-Request") == "true":  # htmx follows this header with a full page load
        return "", 401, {"HX-Redirect": target}
    return jsonify(error="unauthorized"), 401


def init_app(app: Flask, policy: Policy) -> None:
    settings = app.config["PANTAU"]
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", settings.session_max_hours * 3600)
    app.config["REMEMBER_COOKIE_DURATION"] = 0
    login_manager.init_app(app)
    policy.identify(identify_user)
    policy.on_denied_default(refuse)
