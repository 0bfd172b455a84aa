"""Many reports at once over real HTTP (a threaded server, as gunicorn's threads would): every one that passed
validation is stored, none lost to a locked database, each with its own code; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from portal.incidents.events import RECEIVED
from portal.models import Incident, IncidentEvent, db
from tests.support.tools import free_port

N = 24


def test_simultaneous_reports_are_all_kept(any_db_app: Flask) -> None:
    settings = any_db_app.config["PANTAU"]
    assert settings.report_address_per_hour < N  # all from one address: raise the limits for this test
    object.__setattr__(settings, "report_address_per_hour", 1000)
    object.__setattr__(settings, "report_rate_limit", "1000 per hour")
    server = make_server("127.0.0.1", free_port(), any_db_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"

    def send(i: int) -> tuple[int, str]:
        session = requests.Session()
        token = session.get(f"{url}/lapor/token", timeout=30).json()["csrf_token"]
        answer = session.post(f"{url}/lapor", timeout=60, headers={"Accept": "application/json"}, data={
            "csrf_token": token, "category": "accident", "description": f"tabrakan nomor {i}",
            "latitude": "-3.99", "longitude": "122.51", "client_ref": f"concurrent-{i:04d}-ref"})
        return answer.status_code, answer.json().get("tracking_code", "")

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(send, range(N)))
    finally:
        server.shutdown()
    assert [status for status, _ in results] == [201] * N
    codes = {code for _, code in results}
    assert len(codes) == N
    db.session.remove()
    stored = db.session.scalars(select(Incident.tracking_code)).all()
    assert set(stored) == codes
    assert db.session.scalar(select(db.func.count()).select_from(IncidentEvent)
                             .where(IncidentEvent.kind == RECEIVED)) == N
