"""The OpenAPI 3.1 document (served at /api/v1/openapi.json): the open data (JSON, CSV), the public pages
(HTML, with their query parameters and their bounds) and the worker API (``portal.workers.openapi``).
The test suite fuzzes the app with it (schemathesis): whatever it sends, the answer is never a 5xx."""

from __future__ import annotations

from typing import Any

from portal.bounds import INT32_MAX
from portal.models.camera import CAMERA_CATEGORIES, STATUSES
from portal.public.catalogue import MAX_QUERY_CHARS
from portal.public.opendata import CSV_COLUMNS
from portal.workers import openapi as worker_api

STATUS_SCHEMA = {
    "type": "string", "enum": list(STATUSES),
    "description": "Effective status: `offline` also when the worker running the camera stopped reporting "
                   "for longer than one lease period.",
}
TIME_SCHEMA = {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601 with offset (UTC)."}
CACHE_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "Send it back in If-None-Match to get 304."},
    "Cache-Control": {"schema": {"type": "string"}, "description": "Public, a few seconds."},
}

SCHEMAS: dict[str, Any] = {
    "CameraProperties": {
        "type": "object",
        "required": ["id", "name", "district", "category", "status", "url", "snapshot_url", "hls_url"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "district": {"type": "string", "description": "Kecamatan (district) of the city."},
            "category": {"type": "string", "enum": list(CAMERA_CATEGORIES)},
            "status": STATUS_SCHEMA,
            "last_online_at": TIME_SCHEMA,
            "codec": {"type": ["string", "null"], "examples": ["h264"]},
            "url": {"type": "string", "description": "Path of the camera's page (relative to the portal)."},
            "snapshot_url": {"type": "string", "description": "The latest JPEG snapshot: a path on the portal, or an "
                                                              "absolute URL on the media node that runs the camera."},
            "hls_url": {"type": "string", "description": "The live HLS playlist (MPEG-TS or fMP4 segments, with "
                                                         "EXT-X-PROGRAM-DATE-TIME): a path on the portal, or an "
                                                         "absolute URL on the media node that runs the camera now."},
        },
    },
    "CameraFeature": {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"const": "Feature"},
            "geometry": {
                "type": "object",
                "required": ["type", "coordinates"],
                "properties": {
                    "type": {"const": "Point"},
                    "coordinates": {
                        "type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                        "description": "[longitude, latitude] in WGS 84 (RFC 7946).",
                    },
                },
            },
            "properties": {"$ref": "#/components/schemas/CameraProperties"},
        },
    },
    "CameraCollection": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"const": "FeatureCollection"},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/CameraFeature"}},
        },
    },
    "CameraStatus": {
        "type": "object",
        "required": ["id", "status", "status_label", "playable", "last_online_at", "last_seen", "hls_url",
                     "snapshot_url"],
        "properties": {
            "id": {"type": "integer"},
            "status": STATUS_SCHEMA,
            "hls_url": {"type": "string", "description": "Where the camera's live playlist is now (it changes when "
                                                         "the camera moves to another media node)."},
            "snapshot_url": {"type": "string", "description": "Where the camera's snapshot is now."},
            "status_label": {"type": "string", "description": "The status in the reader's language."},
            "playable": {"type": "boolean", "description": "Whether a live stream is expected (online or starting)."},
            "last_online_at": TIME_SCHEMA,
            "last_seen": {"type": "string", "description": "When the camera was last online, as a sentence in the "
                                                          "reader's language and the city's time zone."},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "A stable code: not_found, bad_request, ..."},
            "message": {"type": "string", "description": "The error in the reader's language."},
            "detail": {"type": "string", "description": "Which field is wrong and how (400)."},
        },
    },
}
CAMERA_ID = {"name": "camera_id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
             "description": "Anything else (other digits, beyond 2**31-1) is a 404."}
HTML = {"text/html": {"schema": {"type": "string"}}}


def _page(operation_id: str, summary: str, parameters: list[dict[str, Any]], *, not_found: bool = False,
          bad_request: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "The page (Bahasa Indonesia by default).", "content": HTML}}
    if not_found:
        responses["404"] = {"description": "No such public camera.", "content": HTML}
    if bad_request:
        responses["400"] = {"description": "A parameter out of bounds, named on the page.", "content": HTML}
    return {"get": {"operationId": operation_id, "summary": summary, "tags": ["pages"],
                    "parameters": [*parameters, _lang_param()], "responses": responses}}


def _text_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS}}


def _pages() -> dict[str, Any]:
    return {
        "/kamera": _page("listCameraPage", "The list of public cameras, searchable", [
            _text_param("q", "Part of a camera's name (no control characters)."),
            _text_param("district", "A district (kecamatan)."),
            {"name": "category", "in": "query", "required": False,
             "schema": {"type": "string", "enum": list(CAMERA_CATEGORIES)}},
            {"name": "status", "in": "query", "required": False, "schema": STATUS_SCHEMA},
            {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1,
                                                                           "maximum": 10_000}},
        ], bad_request=True),
        "/kamera/{camera_id}": _page("getCameraPage", "One camera's live view", [CAMERA_ID], not_found=True),
        "/embed/{camera_id}": _page("getEmbedPage", "The embeddable player (other sites may frame it)",
                                    [CAMERA_ID], not_found=True),
        "/multiview": _page("getMultiviewPage", "Up to nine cameras at once", [
            {"name": "ids", "in": "query", "required": False, "style": "form", "explode": False,
             "schema": {"type": "array", "maxItems": 9, "items": {"type": "integer", "minimum": 1,
                                                                   "maximum": INT32_MAX}},
             "description": "Camera ids, comma-separated (unknown or private ones are left out)."},
        ], bad_request=True),
    }


def _lang_param() -> dict[str, Any]:
    return {"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": ["id", "en"]},
            "description": "Language of the texts (Bahasa Indonesia by default)."}


def document() -> dict[str, Any]:
    not_found = {"description": "No such public camera (it may have been made private).",
                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pantau: open data, public pages and the worker API",
            "version": "1",
            "description": "The public CCTV cameras of the city: where they are, whether they are up, and where to "
                           "watch them. Only public cameras are listed; camera sources are never published.",
            "license": {"name": "Open data", "identifier": "CC-BY-4.0"},
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/cameras.geojson": {"get": {
                "operationId": "listCamerasGeoJSON",
                "summary": "Public cameras as a GeoJSON FeatureCollection",
                "tags": ["cameras"],
                "responses": {
                    "200": {"description": "All public cameras.", "headers": CACHE_HEADERS, "content": {
                        "application/geo+json": {"schema": {"$ref": "#/components/schemas/CameraCollection"}}}},
                    "304": {"description": "Not modified since the ETag given in If-None-Match."},
                },
            }},
            "/api/v1/cameras.csv": {"get": {
                "operationId": "listCamerasCSV",
                "summary": "Public cameras as CSV",
                "description": "RFC 4180 CSV in UTF-8 with a header row. Columns: " + ", ".join(CSV_COLUMNS)
                               + ". Links are absolute URLs.",
                "tags": ["cameras"],
                "responses": {
                    "200": {"description": "All public cameras, one per row.", "headers": CACHE_HEADERS,
                            "content": {"text/csv": {"schema": {"type": "string"}}}},
                    "304": {"description": "Not modified since the ETag given in If-None-Match."},
                },
            }},
            "/kamera/{camera_id}/status.json": {"get": {
                "operationId": "getCameraStatus",
                "summary": "The current status of one public camera",
                "description": "Polled by open players; answers 404 as soon as the camera is no longer public.",
                "tags": ["cameras"],
                "parameters": [CAMERA_ID, _lang_param()],
                "responses": {
                    "200": {"description": "The camera's status.", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/CameraStatus"}}}},
                    "404": not_found,
                },
            }},
            **_pages(),
            **worker_api.PATHS,
            "/api/v1/openapi.json": {"get": {
                "operationId": "getOpenAPI",
                "summary": "This document",
                "tags": ["meta"],
                "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
        },
        "components": {"schemas": {**SCHEMAS, **worker_api.SCHEMAS},
                       "securitySchemes": worker_api.SECURITY_SCHEMES},
    }
