"""Open data API (version 1): the public cameras as GeoJSON and CSV, and the OpenAPI document describing them."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from portal.auth.policy import PUBLIC, allow
from portal.openapi import document
from portal.public import opendata
from portal.public.catalogue import public_cameras
from portal.security import public_base

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/cameras.geojson")
@allow(PUBLIC)
def cameras_geojson() -> ResponseReturnValue:
    return opendata.respond(request, opendata.geojson_body(public_cameras()), "application/geo+json")


@bp.get("/cameras.csv")
@allow(PUBLIC)
def cameras_csv() -> ResponseReturnValue:
    response = opendata.respond(request, opendata.csv_body(public_cameras(), public_base()), "text/csv")
    response.headers["Content-Disposition"] = 'inline; filename="pantau-cameras.csv"'
    if not current_app.config["PANTAU"].public_url:  # links made from this request's host: caches must know
        response.vary.add("Host")
    return response


@bp.get("/openapi.json")
@allow(PUBLIC)
def openapi() -> ResponseReturnValue:
    response = jsonify(document())
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
