"""A database restart under the portal: worker syncs wait for it; anything else gets a clear 503, never a 500.

PostgreSQL sits behind a proxy whose ``cut()`` is a restart (every connection closed, new ones refused) and
``thaw()`` the database back.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from portal.dbwait import MARKER, ReplayWhileDatabaseRestarts
from tests.conftest import issue_credential, make_settings, migrated_app
from tests.support.proxy import FreezableProxy
from tests.support.tools import wait_for


def _behind(proxy: FreezableProxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@pytest.fixture()
def proxied_pg(pg_url: str) -> Any:
    parts = urlsplit(pg_url)
    proxy = FreezableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        yield proxy, _behind(proxy, pg_url)
    finally:
        proxy.close()


def _synced_worker(tmp_path: Path, url: str, db_wait_s: int) -> tuple[Any, Any, dict[str, str]]:
    """A portal on the proxied database and worker w1, synced once while the database is up."""
    app = migrated_app(make_settings(tmp_path, database_url=url, db_wait_s=db_wait_s))
    with app.app_context():
        headers = {"Authorization": f"Bearer {issue_credential('w1')}"}
    client = app.test_client()
    assert client.post("/api/worker/v1/sync", json={"worker": {"name": "w1"}}, headers=headers).status_code == 200
    return app, client, headers


@pytest.mark.postgres
def test_a_worker_sync_waits_through_a_database_restart(tmp_path: Path, proxied_pg: Any) -> None:
    proxy, url = proxied_pg
    app, client, headers = _synced_worker(tmp_path, url, db_wait_s=20)
    body = {"worker": {"name": "w1"}}

    replayer = app.wsgi_app
    assert isinstance(replayer, ReplayWhileDatabaseRestarts), "the replay is the outermost layer"
    proxy.cut()  # PostgreSQL restarts
    answer: dict[str, Any] = {}

    def sync() -> None:
        began = time.monotonic()
        response = client.post("/api/worker/v1/sync", json=body, headers=headers)
        answer.update(status=response.status_code, json=response.json, headers=dict(response.headers),
                      took=time.monotonic() - began)

    thread = threading.Thread(target=sync)
    thread.start()
    wait_for(lambda: replayer.replays >= 2, 15, message="the sync never met the database being down")
    proxy.thaw()  # back
    thread.join(timeout=30)
    assert answer["status"] == 200, answer
    assert answer["json"]["worker_name"] == "w1"
    assert MARKER not in answer["headers"], "the internal marker never leaves the portal"
    assert answer["took"] >= 1.0, "it waited for the database"


@pytest.mark.postgres
def test_past_the_wait_a_worker_gets_503_with_retry_after_and_a_page_too(tmp_path: Path, proxied_pg: Any) -> None:
    proxy, url = proxied_pg
    _app, client, headers = _synced_worker(tmp_path, url, db_wait_s=1)
    proxy.cut()
    began = time.monotonic()
    response = client.post("/api/worker/v1/sync", json={"worker": {"name": "w1"}}, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert response.json["error"] == "unavailable"
    assert 0.4 <= time.monotonic() - began < 10, "it waited within its budget, then answered"
    assert MARKER not in response.headers
    page = client.get("/kamera", headers={"Accept": "text/html"})  # a page that reads the database
    assert page.status_code == 503 and page.headers["Retry-After"] == "2"
    assert "Traceback" not in page.get_data(as_text=True) and pg_password_absent(page.get_data(as_text=True), url)


def pg_password_absent(text: str, url: str) -> bool:
    password = urlsplit(url).password
    return not password or password not in text


def test_replay_gives_each_attempt_the_whole_body_and_stops_at_the_budget() -> None:
    bodies: list[bytes] = []
    now = [0.0]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        bodies.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"] or 0)))
        start_response("503 SERVICE UNAVAILABLE", [("Retry-After", "2"), (MARKER, "unavailable")])
        return [b"down"]

    def sleep(s: float) -> None:
        now[0] += s

    wrapped = ReplayWhileDatabaseRestarts(app, budget_s=5, sleep=sleep, clock=lambda: now[0])
    seen: dict[str, Any] = {}
    import io

    out = wrapped({"PATH_INFO": "/api/worker/v1/sync", "CONTENT_LENGTH": "5", "wsgi.input": io.BytesIO(b"hello")},
                  lambda status, headers, exc_info=None: seen.update(status=status, headers=headers))
    assert list(out) == [b"down"] and seen["status"].startswith("503")
    assert all(k != MARKER for k, _ in seen["headers"])
    assert len(bodies) >= 3 and set(bodies) == {b"hello"}, "every attempt read the same body"
    assert now[0] <= 5
    replays = len(bodies)
    other: list[str] = []
    wrapped({"PATH_INFO": "/kamera", "CONTENT_LENGTH": "", "wsgi.input": io.BytesIO(b"")},
            lambda status, headers, exc_info=None: other.append(status))
    assert len(bodies) == replays + 1 and other == ["503 SERVICE UNAVAILABLE"], "pages are not replayed"
