"""Console benchmark: what the operators' live queue costs the portal.

Every operator's browser polls the queue once a second; most polls find nothing changed and get an empty 204.
Measured in-process (Flask's test client, the full WSGI stack, no network) on a migrated SQLite database with
``OPEN`` open reports (a tenth flagged, a third dispatched) and ``CAMERAS`` cameras, signed in as an operator:

- ``queue_poll_unchanged_ms``: a poll when nothing changed (204), p50 and p95;
- ``queue_fragment_ms``: a poll after a change (the whole queue fragment rendered);
- ``report_page_ms``: a report's page (nearest cameras, duplicates, routing agencies, history);
- ``polls_per_s_one_process``: 1000 / the 204 poll's p50, i.e. how many operators one worker process serves.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OPEN = 200
CAMERAS = 300
ROUNDS = 150
RUNS = 3
GOALS = {"queue_poll_unchanged_ms_p95": {"max": 50.0}, "queue_fragment_ms_p95": {"max": 150.0},
         "report_page_ms_p95": {"max": 300.0}}


def _times(call: Callable[[], Any], rounds: int) -> list[float]:
    for _ in range(10):
        call()
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def seed() -> int:
    from portal.incidents.codes import new_tracking_code
    from portal.incidents.events import FLAGGED, RECEIVED, record_event
    from portal.models import Agency, Camera, Dispatch, Incident, RoutingRule, db

    rng = random.Random(7)
    agency = Agency(code="damkar", name="Damkar", kind="fire")
    db.session.add(agency)
    db.session.flush()
    db.session.add(RoutingRule(category="fire", agency_id=agency.id, sla_minutes=10))
    for n in range(CAMERAS):
        db.session.add(Camera(name=f"Kamera {n}", latitude=-3.99 + rng.random() * 0.06,
                              longitude=122.48 + rng.random() * 0.08, source_url="rtsp://127.0.0.1:9/x",
                              public=n % 3 != 0))
    now = dt.datetime.now(dt.UTC)
    first = 0
    for n in range(OPEN):
        incident = Incident(tracking_code=new_tracking_code(), category=rng.choice(("fire", "accident", "medical")),
                            description="Laporan uji " * 5, latitude=-3.97 + rng.random() * 0.01,
                            longitude=122.51 + rng.random() * 0.01, priority=rng.randint(1, 5),
                            created_at=now - dt.timedelta(seconds=rng.randint(0, 3600)),
                            status="dispatched" if n % 3 == 0 else "new")
        db.session.add(incident)
        db.session.flush()
        first = first or incident.id
        record_event(incident, RECEIVED)
        if n % 10 == 0:
            record_event(incident, FLAGGED, reasons=["burst"])
        if n % 3 == 0:
            db.session.add(Dispatch(incident_id=incident.id, agency_id=agency.id, status="pending",
                                    sla_due_at=now + dt.timedelta(minutes=10)))
    db.session.commit()
    return first


def run() -> dict[str, Any]:
    from portal.models import db
    from tests.conftest import login_as, make_settings, migrated_app

    with tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(make_settings(Path(tmp), secret_key=secrets.token_hex(16)))
        with app.app_context():
            first = seed()
            client = app.test_client()
            login_as(client, "operator")
            hx = {"HX-Request": "true", "X-Pantau-Poll": "1"}
            body = client.get("/konsol/", headers=hx).get_data(as_text=True)
            version = body.split('data-version="')[1].split('"')[0]

            def unchanged() -> None:
                assert client.get(f"/konsol/?v={version}", headers=hx).status_code == 204

            def changed() -> None:
                assert client.get("/konsol/?v=stale", headers=hx).status_code == 200

            def report() -> None:
                assert client.get(f"/konsol/laporan/{first}").status_code == 200

            figures: dict[str, Any] = {"settings": {"open_reports": OPEN, "cameras": CAMERAS, "rounds": ROUNDS,
                                                    "runs": RUNS, "database": "sqlite"}}
            for name, call, rounds in (("queue_poll_unchanged_ms", unchanged, ROUNDS),
                                       ("queue_fragment_ms", changed, ROUNDS),
                                       ("report_page_ms", report, ROUNDS // 3)):
                runs = [_times(call, rounds) for _ in range(RUNS)]
                every = [t for r in runs for t in r]
                figures[f"{name}_p50"] = _p(every, 0.5)
                figures[f"{name}_p95"] = _p(every, 0.95)
                figures[f"{name}_runs_p50"] = [round(statistics.median(r), 3) for r in runs]
            figures["polls_per_s_one_process"] = round(1000 / figures["queue_poll_unchanged_ms_p50"], 1)
            db.session.remove()
            db.engine.dispose()
    figures["goals"] = GOALS
    return figures
