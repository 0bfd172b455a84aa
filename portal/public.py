"""Public pages: the camera map and the live view of one camera."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from portal.catalogue import public_camera, public_properties
from portal.mapview import render_map

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    rendered = render_map(current_app.config["PANTAU"])
    return render_template("public/map.html", map=rendered)


@bp.get("/kamera/<int:camera_id>")
def camera(camera_id: int) -> ResponseReturnValue:
    cam = public_camera(camera_id)
    if cam is None:
        abort(404)
    return render_template("public/camera.html", camera=cam, props=public_properties(cam))


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}
