"""Dispatch benchmark (issue 10, item 8): reports posted to ``/lapor`` through the portal (gunicorn) at a steady
rate, dispatched on receipt by ``pantau jobs`` (``PANTAU_AUTO_DISPATCH_CATEGORIES=fire``) and delivered to a
real receiver (a threaded HTTP server on 127.0.0.1 that checks each HMAC signature and keeps delivery ids).

- ``report_to_webhook_s_p50/p95``: from the report's POST returning (201, tracking code) to the first agency's
  webhook carrying that tracking code being received, in the steady phase (``RATE`` reports a second for
  ``DURATION`` seconds), on SQLite (the embedded default); the same on PostgreSQL as ``..._postgres``.
- ``reports_per_s_sqlite/postgres``: reports accepted (201) a second when ``POSTERS`` clients post as fast as
  they can for ``BURST`` seconds, every one without an error (errors are counted and must be 0).

Goals: p95 ≤ 2 s; no errors; every report of the steady phase reached the receiver exactly once (applied).
"""

from __future__ import annotations

import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

RATE = float(os.environ.get("BENCH_DISPATCH_RATE", "5"))
DURATION = float(os.environ.get("BENCH_DISPATCH_DURATION", "60"))
BURST = float(os.environ.get("BENCH_DISPATCH_BURST", "15"))
POSTERS = 8
SECRET = "whsec_bench-" + secrets.token_hex(8)
ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("PANTAU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
GOALS = {
    "report_to_webhook_s_p95": {"max": 2.0},
    "report_to_webhook_s_p95_postgres": {"max": 2.0},
    "errors_sqlite": {"max": 0}, "errors_postgres": {"max": 0},
    "undelivered_sqlite": {"max": 0}, "undelivered_postgres": {"max": 0},
}
KENDARI = (-3.9719, 122.5147)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)


class Stack:
    """A migrated database with one agency and a fire routing rule, gunicorn serving it, and ``pantau jobs``."""

    def __init__(self, tmp: Path, database_url: str, receiver_url: str) -> None:
        self.tmp, self.database_url, self.receiver_url = tmp, database_url, receiver_url
        self.port = _free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
        self.env.update({
            "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": "bench-" + secrets.token_hex(8),
            "PANTAU_DATABASE_URL": database_url, "PANTAU_INSTANCE_PATH": str(tmp / "instance"),
            "PANTAU_MEDIA_ROOT": str(tmp / "media"), "PANTAU_TILE_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png",
            "PANTAU_AUTO_DISPATCH_CATEGORIES": "fire", "PANTAU_JOBS_INTERVAL_S": "0.1",
            "PANTAU_SMTP_PORT": "9", "PANTAU_REPORT_RATE_LIMIT": "1000000 per hour",
            "PANTAU_REPORT_ADDRESS_PER_HOUR": "1000000", "PANTAU_REPORT_FLAG_REPEAT": "1000000",
        })

    def prepare(self) -> None:
        from flask_migrate import upgrade

        from portal import create_app
        from portal.dispatch import sealing
        from portal.models import Agency, RoutingRule, db
        from portal.settings import Settings

        app = create_app(Settings.from_env(self.env))
        with app.app_context():
            upgrade()
            agency = Agency(code="damkar", name="Damkar Kota Kendari", kind="fire",
                            webhook_url=f"{self.receiver_url}/hook", cap_address="damkar@kendarikota.go.id",
                            webhook_secret=sealing.seal(SECRET, app.config["PANTAU"].secret_key))
            db.session.add(agency)
            db.session.flush()
            db.session.add(RoutingRule(category="fire", agency_id=agency.id, sla_minutes=10))
            db.session.commit()
            db.session.remove()
            db.engine.dispose()

    def start(self) -> None:
        bindir = Path(sys.executable).parent
        log = open(self.tmp / "stack.log", "ab")  # noqa: SIM115
        spawn: dict[str, Any] = {"env": self.env, "cwd": ROOT, "stdout": log, "stderr": subprocess.STDOUT}
        self.procs.append(subprocess.Popen([str(bindir / "gunicorn"), "--bind", f"127.0.0.1:{self.port}",
                                            "--workers", "2", "--threads", "4", "--worker-class", "gthread",
                                            "--log-level", "warning", "wsgi:app"], **spawn))
        self.procs.append(subprocess.Popen([sys.executable, "-c", "from portal.cli import main; main()", "jobs",
                                            "--quiet"], **spawn))
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the portal did not come up: " + (self.tmp / "stack.log").read_text()[-2000:])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Poster:
    """One client posting reports like the /lapor page's offline queue does (JSON answer, CSRF token)."""

    def __init__(self, base: str) -> None:
        import requests

        self.base = base
        self.session = requests.Session()
        self.token = self.session.get(f"{base}/lapor/token", timeout=10).json()["csrf_token"]

    def post(self, n: int) -> tuple[str | None, float]:
        data = {"csrf_token": self.token, "category": "fire", "description": f"Kebakaran uji beban nomor {n}",
                "latitude": str(KENDARI[0]), "longitude": str(KENDARI[1]), "address": "Jl. Ahmad Yani",
                "started": str(int(time.time()) - 60)}
        try:
            response = self.session.post(f"{self.base}/lapor", data=data, headers={"Accept": "application/json"},
                                         timeout=30)
        except Exception:  # noqa: BLE001 - counted as an error
            return None, time.time()
        done = time.time()
        if response.status_code != 201:
            return None, done
        return str(response.json()["tracking_code"]), done


def _steady(stack: Stack, receiver: Any, rate: float, duration: float) -> dict[str, Any]:
    posters = [Poster(stack.url) for _ in range(POSTERS)]
    count = int(rate * duration)
    posted: dict[str, float] = {}
    errors = 0
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def one(i: int) -> None:
        nonlocal errors
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        code, at = posters[i % POSTERS].post(i)
        with lock:
            if code is None:
                errors += 1
            else:
                posted[code] = at

    with ThreadPoolExecutor(POSTERS * 2) as pool:
        list(pool.map(one, range(count)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(_arrivals(receiver, posted)) >= len(posted):
            break
        time.sleep(0.2)
    arrivals = _arrivals(receiver, posted)
    latencies = [arrivals[code] - at for code, at in posted.items() if code in arrivals]
    return {"posted": count, "accepted": len(posted), "errors": errors,
            "undelivered": len(posted) - len(arrivals), "latencies": latencies}


def _arrivals(receiver: Any, posted: dict[str, float]) -> dict[str, float]:
    import json

    out: dict[str, float] = {}
    with receiver.lock:
        items = list(receiver.applied.values())
    for item in items:
        try:
            code = json.loads(item.body)["incident"]["tracking_code"]
        except (ValueError, KeyError, TypeError):
            continue
        if code in posted:
            out.setdefault(code, item.at)
    return out


def _burst(stack: Stack, seconds: float) -> dict[str, Any]:
    posters = [Poster(stack.url) for _ in range(POSTERS)]
    accepted = errors = 0
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def loop(poster: Poster) -> None:
        nonlocal accepted, errors
        n = 0
        while time.monotonic() < end:
            code, _ = poster.post(n)
            n += 1
            with lock:
                if code is None:
                    errors += 1
                else:
                    accepted += 1

    began = time.monotonic()
    threads = [threading.Thread(target=loop, args=(p,)) for p in posters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    return {"accepted": accepted, "errors": errors, "seconds": round(elapsed, 2),
            "reports_per_s": round(accepted / elapsed, 1)}


def _one_database(name: str, database_url: str, tmp: Path) -> dict[str, Any]:
    from tests.support.receiver import Receiver

    receiver = Receiver(secret=SECRET, validate_cap=False).start()
    stack = Stack(tmp, database_url, receiver.url)
    try:
        stack.prepare()
        stack.start()
        steady = _steady(stack, receiver, RATE, DURATION)
        burst = _burst(stack, BURST)
        refused = list(receiver.refused)
        duplicates = len(receiver.received) - len(receiver.applied)
    finally:
        stack.stop()
        receiver.stop()
    lat = steady.pop("latencies")
    return {
        "database": name, **{f"steady_{k}": v for k, v in steady.items()},
        "report_to_webhook_s_p50": _pct(lat, 0.50), "report_to_webhook_s_p95": _pct(lat, 0.95),
        "report_to_webhook_s_max": round(max(lat), 3) if lat else None,
        "report_to_webhook_s_mean": round(statistics.fmean(lat), 3) if lat else None,
        "burst": burst, "signature_refusals": len(refused), "duplicate_arrivals": duplicates,
    }


def _pg_database() -> tuple[str, str] | None:
    try:
        import psycopg

        name = "pantau_bench_" + secrets.token_hex(4)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:  # noqa: BLE001 - no PostgreSQL here: its figures stay empty (and miss their goals)
        return None
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pantau-bench-dispatch-") as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        results["sqlite"] = _one_database("sqlite", f"sqlite:///{sqlite_dir / 'pantau.db'}", sqlite_dir)
        made = _pg_database()
        if made is not None:
            pg_dir = Path(tmp) / "postgres"
            pg_dir.mkdir()
            try:
                results["postgres"] = _one_database("postgres", made[1], pg_dir)
            finally:
                _drop_pg(made[0])
    sqlite, pg = results["sqlite"], results.get("postgres", {})
    figures: dict[str, Any] = {
        "report_to_webhook_s_p50": sqlite["report_to_webhook_s_p50"],
        "report_to_webhook_s_p95": sqlite["report_to_webhook_s_p95"],
        "report_to_webhook_s_p50_postgres": pg.get("report_to_webhook_s_p50"),
        "report_to_webhook_s_p95_postgres": pg.get("report_to_webhook_s_p95"),
        "reports_per_s_sqlite": sqlite["burst"]["reports_per_s"],
        "reports_per_s_postgres": pg.get("burst", {}).get("reports_per_s"),
        "errors_sqlite": sqlite["steady_errors"] + sqlite["burst"]["errors"],
        "errors_postgres": (pg["steady_errors"] + pg["burst"]["errors"]) if pg else None,
        "undelivered_sqlite": sqlite["steady_undelivered"],
        "undelivered_postgres": pg.get("steady_undelivered"),
        "runs": results,
        "settings": {"rate_per_s": RATE, "steady_seconds": DURATION, "burst_seconds": BURST, "posters": POSTERS,
                     "gunicorn": "2 workers x 4 threads (gthread)", "jobs_interval_s": 0.1,
                     "receiver": "ThreadingHTTPServer on 127.0.0.1, HMAC checked, delivery ids kept"},
        "method": "reports POSTed to /lapor (JSON answer, CSRF token from /lapor/token) through gunicorn; pantau "
                  "jobs dispatches fire reports on receipt and delivers the signed webhook; latency = receiver's "
                  "arrival time - the POST's return time (same clock); p50/p95 over every report of the steady "
                  "phase (the spread: p50, p95, max, mean per database)",
        "goals": GOALS,
    }
    return figures
