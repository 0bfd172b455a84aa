"""The console's front page: where each role starts."""

from __future__ import annotations

from flask import current_app, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.admin.blueprint import bp
from portal.auth.policy import STAFF_ROLES, allow

START = {"admin": "admin.cameras", "operator": "admin.health", "leadership": "admin.groups", "police": "footage.index"}


@bp.get("/")
@allow(*STAFF_ROLES)
def home() -> ResponseReturnValue:
    for endpoint in (START.get(current_user.role, "admin.cameras"), "admin.cameras", "auth.account"):
        if endpoint in current_app.view_functions:
            return redirect(url_for(endpoint))
    return redirect(url_for("auth.account"))  # pragma: no cover
