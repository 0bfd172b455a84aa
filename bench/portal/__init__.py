"""Portal benchmark: the map page with 2,000 public cameras (goal: under 300 KB and 100 ms of server time).

The portal runs in-process on a migrated SQLite database, measured through Flask's test client (the full WSGI
stack, no network). ``bare_flask_ms`` is a trivial Flask endpoint measured the same way in the same run, so the
figures can be read against this machine's speed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

CAMERAS = 2000
PRIVATE = 200
WARMUP = 20
ROUNDS = 200
RUNS = 3
GOALS = {"map_page_bytes_2000": {"max": 300_000}, "map_server_ms_2000": {"max": 100.0},
         "map_server_ms_2000_vs_bare_flask": {"max": 1000.0}}
ROOT = Path(__file__).resolve().parents[2]


def _one_run_ms(call: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


SPREAD: dict[str, list[float]] = {}


def _median_ms(call: Callable[[], Any], rounds: int = ROUNDS, name: str | None = None) -> float:
    """The median of ``RUNS`` runs' medians (each of ``rounds`` calls after warm-up); each run is kept in
    ``SPREAD[name]`` for the result's ``runs``."""
    for _ in range(WARMUP):
        call()
    runs = [round(_one_run_ms(call, rounds), 3) for _ in range(RUNS)]
    if name:
        SPREAD[name] = runs
    return round(statistics.median(runs), 3)


def _get(client: FlaskClient, url: str, **headers: str) -> bytes:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    return response.data


def bare_flask_ms() -> float:
    app = Flask("bare")

    @app.get("/")
    def hello() -> str:
        return "ok"

    client = app.test_client()
    return _median_ms(lambda: _get(client, "/"), name="bare_flask_ms")


def seed(app: Flask, public: int = CAMERAS, private: int = PRIVATE) -> None:
    """Cameras spread over Kendari's districts and categories, with a realistic mix of statuses."""
    from sqlalchemy import insert

    from portal.models import Camera, CameraStatus, db
    from portal.models.camera import CAMERA_CATEGORIES

    rng = random.Random(4)
    now = dt.datetime.now(dt.UTC)
    districts = ["Mandonga", "Kadia", "Kendari", "Kendari Barat", "Abeli", "Poasia", "Baruga", "Puuwatu", "Wua-Wua",
                 "Kambu", "Nambo"]
    cameras, statuses = [], []
    for i in range(1, public + private + 1):
        cameras.append({
            "id": i, "name": f"Kamera {rng.choice(districts)} {i:04d}", "description": "Simpang jalan utama.",
            "latitude": -3.97 + rng.uniform(-0.08, 0.08), "longitude": 122.55 + rng.uniform(-0.1, 0.1),
            "district": rng.choice(districts), "category": rng.choice(CAMERA_CATEGORIES),
            "source_url": f"rtsp://admin:secret@127.0.0.1:9/cam{i}", "substream_url": None,
            "public": i <= public, "enabled": True, "recording": True, "retention_days": 30, "audio": "drop",
            "media_key": secrets.token_hex(8), "created_at": now, "updated_at": now,
        })
        roll = rng.random()
        if roll < 0.9:
            stale = roll > 0.8
            seen = now - dt.timedelta(minutes=10 if stale else 0)
            statuses.append({"camera_id": i, "status": "error" if roll > 0.75 and not stale else "online",
                             "state": "running", "updated_at": seen, "last_online_at": seen, "codec": "h264",
                             "restarts_last_hour": 0})
    with app.app_context():
        db.session.execute(insert(Camera), cameras)
        db.session.execute(insert(CameraStatus), statuses)
        db.session.commit()


def _assets(html: str) -> list[str]:
    return sorted(set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html)))


def _first_load(client: FlaskClient, html: bytes, geojson_gz: int) -> tuple[int, int]:
    """Bytes of the map page with everything it loads (static assets raw and gzipped, GeoJSON gzipped)."""
    raw = len(html) + geojson_gz
    packed = len(gzip.compress(html)) + geojson_gz
    for url in _assets(html.decode()):
        body = client.get(url).data
        raw += len(body)
        packed += len(gzip.compress(body))
    return raw, packed


def portal_app(tmp: Path) -> Flask:
    from flask_migrate import upgrade

    from portal import create_app
    from portal.settings import Settings

    settings = Settings(env="test", instance_path=str(tmp / "instance"), media_root=str(tmp / "media"),
                        secret_key="bench",
                        tile_url="http://127.0.0.1:9/tiles/{z}/{x}/{y}.png").validated()
    app = create_app(settings)
    with app.app_context():
        upgrade()
    return app


def run() -> dict[str, Any]:
    from portal.models import db

    bare = bare_flask_ms()
    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp:
        app = portal_app(Path(tmp))
        seed(app)
        client = app.test_client()
        page = _get(client, "/")
        geojson = _get(client, "/api/v1/cameras.geojson")
        geojson_gz = _get(client, "/api/v1/cameras.geojson", **{"Accept-Encoding": "gzip"})
        assert len(gzip.decompress(geojson_gz)) == len(geojson)
        first_raw, first_gz = _first_load(client, page, len(geojson_gz))
        figures: dict[str, Any] = {
            "cameras_public": CAMERAS,
            "cameras_private": PRIVATE,
            "map_page_bytes_2000": len(page),
            "map_server_ms_2000": _median_ms(lambda: _get(client, "/"), name="map_server_ms_2000"),
            "bare_flask_ms": bare,
            "geojson_bytes_2000": len(geojson),
            "geojson_gzip_bytes_2000": len(geojson_gz),
            "geojson_server_ms_2000": _median_ms(lambda: _get(client, "/api/v1/cameras.geojson"), rounds=50),
            "map_first_load_bytes_2000": first_raw,
            "map_first_load_gzip_bytes_2000": first_gz,
            "list_page_bytes_2000": len(_get(client, "/kamera")),
            "list_server_ms_2000": _median_ms(lambda: _get(client, "/kamera"), rounds=50, name="list_server_ms_2000"),
            "list_search_server_ms_2000": _median_ms(
                lambda: _get(client, "/kamera?q=kadia&status=online", **{"HX-Request": "true"}), rounds=50),
            "camera_page_bytes": len(_get(client, "/kamera/1")),
            "camera_server_ms": _median_ms(lambda: _get(client, "/kamera/1"), rounds=50),
            "status_json_server_ms": _median_ms(lambda: _get(client, "/kamera/1/status.json")),
            "rounds": ROUNDS,
            "method": f"Flask test client in-process (full WSGI stack, no network), SQLite; each figure is the "
                      f"median of {RUNS} runs' medians of its rounds after warm-up (runs: every run's median); "
                      "bare_flask_ms is a one-line Flask endpoint measured the same way in the same run",
        }
        figures["map_server_ms_2000_vs_bare_flask"] = round(figures["map_server_ms_2000"] / bare, 1)
        figures["runs"] = dict(SPREAD)
        figures["settings"] = {"cameras_public": CAMERAS, "cameras_private": PRIVATE, "warmup": WARMUP,
                               "rounds": ROUNDS, "runs": RUNS, "database": "SQLite"}
        figures["goals"] = GOALS
        with app.app_context():
            db.engine.dispose()
    return figures
