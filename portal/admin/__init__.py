"""The admin console: cameras, the public switch, groups and the video wall, health, users, agencies, audit."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.admin import audit_log, camera_import, cameras, home  # noqa: F401  (routes join the blueprint)
    from portal.admin.blueprint import bp

    app.register_blueprint(bp)
