"""Open data: the public cameras as GeoJSON and CSV, compressed for slow connections when the client allows."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Sequence

from flask import Request, Response

from portal.public.catalogue import PublicCamera, feature_collection, properties_list

CSV_COLUMNS = (
    "id", "name", "description", "district", "category", "latitude", "longitude", "status", "last_online_at",
    "url", "snapshot_url", "hls_url",
)
MIN_GZIP_BYTES = 1024
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def geojson_body(cameras: Sequence[PublicCamera]) -> bytes:
    return json.dumps(feature_collection(cameras), ensure_ascii=False, separators=(",", ":")).encode()


def _cell(value: object) -> object:
    """Spreadsheets run cells that start like a formula; a leading apostrophe keeps them text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_body(cameras: Sequence[PublicCamera], base_url: str) -> bytes:
    """RFC 4180 CSV (CRLF line ends, UTF-8); links are absolute so the file stands on its own."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    base = base_url.rstrip("/")
    for camera, props in zip(cameras, properties_list(cameras), strict=True):
        row = {**props, "latitude": round(camera.latitude, 6), "longitude": round(camera.longitude, 6)}
        for key in ("url", "snapshot_url", "hls_url"):
            if not row[key].startswith(("https://", "http://")):  # media on a node are absolute already
                row[key] = base + row[key]
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue().encode()


def respond(request: Request, body: bytes, mimetype: str, *, max_age: int = 2) -> Response:
    """A cacheable open-data answer: ETag, CORS for any site, gzip when asked and worth it."""
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept-Encoding")
    if len(body) >= MIN_GZIP_BYTES and "gzip" in request.accept_encodings:
        response.set_data(gzip.compress(body, compresslevel=5, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
    response.add_etag()  # after compressing: each encoding has its own tag
    response.make_conditional(request)
    return response
