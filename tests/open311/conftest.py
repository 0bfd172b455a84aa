"""Open311 fixtures: the portal as a real HTTP server (SQLite, or PostgreSQL), a client with an API key."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from lxml import etree
from werkzeug.serving import make_server

from portal.models import db
from portal.open311 import keys
from tests.conftest import make_settings, migrated_app
from tests.support.tools import free_port

# Inside Kota Kendari's area (portal.incidents.geo.KENDARI_AREA)
LAT, LON = "-3.99", "122.51"


@dataclass
class Server:
    app: Flask
    url: str

    def key(self, name: str = "LaporKota") -> str:
        with self.app.app_context():
            _client, key = keys.issue(name, contact="dev@127.0.0.1", actor="test")
            db.session.commit()
            return key

    def get(self, path: str, *, key: str | None = None, **params: Any) -> requests.Response:
        headers = {"X-Api-Key": key} if key else {}
        return requests.get(self.url + path, params=params, headers=headers, timeout=10)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, data=data, timeout=20, **kwargs)

    def xml(self, response: requests.Response) -> Any:
        assert response.headers["Content-Type"].startswith("text/xml"), response.headers["Content-Type"]
        return etree.fromstring(response.content)


def start(tmp: Path, **overrides: Any) -> tuple[Server, Callable[[], None]]:
    app = migrated_app(make_settings(tmp, **overrides))
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()

    return Server(app=app, url=f"http://127.0.0.1:{server.server_port}"), stop


@pytest.fixture()
def o311(tmp_path: Path) -> Iterator[Server]:
    server, stop = start(tmp_path)
    yield server
    stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def o311_any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    overrides: dict[str, Any] = {}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    server, stop = start(tmp_path, **overrides)
    yield server
    stop()


def report(key: str, **fields: str) -> dict[str, str]:
    values = {"api_key": key, "service_code": "fire", "lat": LAT, "long": LON,
              "description": "Rumah terbakar dekat Pasar Sentral", "first_name": "Budi", "last_name": "Santoso",
              "phone": "0812 3456 7890", "address_string": "Jl. Sao-Sao 12"}
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}
