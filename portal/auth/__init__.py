"""Who is asking and what they may do: the access policy (every endpoint declares its roles), sign-in with a
second factor, lockout, sessions that expire, CSRF on every form and htmx request, and the users' accounts."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from portal.auth.policy import Policy

csrf = CSRFProtect()


def init_app(app: Flask, policy: Policy) -> None:
    """Sign-in, sessions, lockout and CSRF (call after the policy, so refusals come before CSRF errors)."""
    from portal.auth import lockout, sessions, views

    settings = app.config["PANTAU"]
    app.config["WTF_CSRF_TIME_LIMIT"] = settings.session_max_hours * 3600  # as long as a session may last
    app.config["WTF_CSRF_SSL_STRICT"] = True
    app.register_blueprint(views.bp)
    sessions.init_app(app, policy)
    lockout.init_app(app, ["auth.signin", "auth.second_factor", "auth.enrol"])
    csrf.init_app(app)
    app.before_request(views.require_password_change)

    @app.context_processor
    def _staff() -> dict[str, object]:
        from flask import current_app, url_for
        from flask_login import current_user

        if not current_user.is_authenticated:
            return {"staff": None, "console_url": None, "console_sections": frozenset()}
        role = current_user.role
        home = policy.roles_for(current_app, "admin.home")
        console = url_for("admin.home") if home and role in home else None
        sections = frozenset(e for e in current_app.view_functions
                             if e.startswith("admin.") and role in (policy.roles_for(current_app, e) or ()))
        return {"staff": current_user, "console_url": console, "console_sections": sections}
