"""Open data JSON API (version 1)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from portal.catalogue import feature, public_cameras

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/cameras.geojson")
def cameras_geojson() -> ResponseReturnValue:
    body = {"type": "FeatureCollection", "features": [feature(c) for c in public_cameras()]}
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    response.headers["Cache-Control"] = "public, max-age=5"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
