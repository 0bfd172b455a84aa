"""The admin console: cameras, the public switch, groups and the video wall, health, users, agencies, audit."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.admin import (  # noqa: F401  (their routes join the blueprint)
        audit_log,
        camera_import,
        cameras,
        groups,
        health,
        home,
        people,
    )
    from portal.admin.blueprint import bp

    app.register_blueprint(bp)
