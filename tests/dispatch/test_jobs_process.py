"""``pantau jobs`` as a real process, killed with SIGKILL while its messages are in the receiver's hands and
started again: every message arrives, none is lost, and the id-keeping receiver applies none twice (SQLite and
PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from portal.dispatch.service import dispatch_incident
from portal.models import OutboxMessage, db
from tests.conftest import make_settings, migrated_app
from tests.dispatch.conftest import SECRET, add_agency, add_incident
from tests.support.receiver import Receiver
from tests.support.tools import wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow]


def jobs_process(app: Flask, tmp_path: Path, log_name: str, lease_s: int = 2) -> subprocess.Popen[bytes]:
    settings = app.config["PANTAU"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    env.update({
        "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": settings.secret_key, "PANTAU_DATABASE_URL": settings.database_url,
        "PANTAU_INSTANCE_PATH": settings.instance_path, "PANTAU_MEDIA_ROOT": settings.media_root,
        "PANTAU_OUTBOX_LEASE_S": str(lease_s), "PANTAU_JOBS_INTERVAL_S": "0.1", "PANTAU_SMTP_PORT": "9",
        "PANTAU_OUTBOX_BACKOFF_BASE_S": "0.2", "PANTAU_OUTBOX_BACKOFF_MAX_S": "1",
    })
    log = open(tmp_path / log_name, "wb")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-c", "from portal.cli import main; main()", "jobs"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def rows() -> list[OutboxMessage]:
    db.session.remove()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def killed_mid_delivery_and_restarted(app: Flask, tmp_path: Path) -> None:
    receiver = Receiver(secret=SECRET, hold_s=1.5).start()  # holds each message 1.5 s before answering
    procs: list[subprocess.Popen[bytes]] = []
    try:
        add_agency(app, receiver.url, email="")
        for _ in range(20):
            dispatch_incident(add_incident())
        db.session.commit()
        ids = {row.delivery_id for row in rows()}
        assert len(ids) == 40
        procs.append(jobs_process(app, tmp_path, "jobs-1.log"))
        wait_for(lambda: len(receiver.received) >= 3, timeout=30, message="the jobs process sent nothing")
        procs[0].send_signal(signal.SIGKILL)  # mid-delivery: messages received, their success not recorded
        procs[0].wait(10)
        in_flight = [row for row in rows() if row.status == "pending" and row.claimed_by]
        assert in_flight, "nothing was in flight when killed"
        receiver.hold_s = 0.0
        procs.append(jobs_process(app, tmp_path, "jobs-2.log"))
        wait_for(lambda: all(row.status == "sent" for row in rows()), timeout=60,
                 message="not everything was delivered after the restart")
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(15) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        receiver.stop()
    assert set(receiver.applied) == ids  # nothing lost
    assert len(receiver.received) > len(receiver.applied)  # some arrived twice (at least once) ...
    assert receiver.refused == []  # ... each signed and valid, and applied once by the id-keeping receiver
    assert all(row.claimed_by is None and row.lease_until is None for row in rows())


def two_jobs_processes_share_the_work(app: Flask, tmp_path: Path) -> None:
    receiver = Receiver(secret=SECRET).start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        add_agency(app, receiver.url, email="")
        for _ in range(30):
            dispatch_incident(add_incident())
        db.session.commit()
        # a lease longer than any batch takes here: a duplicate could only come from a shared claim
        procs = [jobs_process(app, tmp_path, f"jobs-{n}.log", lease_s=60) for n in (1, 2)]
        wait_for(lambda: all(row.status == "sent" for row in rows()), timeout=60, message="not all delivered")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
        receiver.stop()
    assert len(receiver.applied) == 60 and receiver.refused == []
    assert len(receiver.received) == 60  # each message claimed by one process only: nothing sent twice


def test_sigkill_mid_delivery_on_sqlite(tmp_path: Path) -> None:
    app = migrated_app(make_settings(tmp_path))
    with app.app_context():
        try:
            killed_mid_delivery_and_restarted(app, tmp_path)
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture()
def pg_app(tmp_path: Path, pg_url: str) -> Iterator[Flask]:
    app = migrated_app(make_settings(tmp_path, database_url=pg_url))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.mark.postgres
def test_sigkill_mid_delivery_on_postgres(pg_app: Flask, tmp_path: Path) -> None:
    killed_mid_delivery_and_restarted(pg_app, tmp_path)


def test_jobs_once_runs_delivery_escalation_and_the_footage_turn(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from portal.dispatch.cli import jobs
    from portal.footage import exports
    from portal.models import Dispatch

    turns: list[dt.datetime] = []
    monkeypatch.setattr(exports, "tick", lambda now: turns.append(now) or {"expired": 0, "released": 0})
    add_agency(app, "http://127.0.0.1:9", email="")
    dispatch = dispatch_incident(add_incident())[0]
    dispatch.sla_due_at = dispatch.created_at - dt.timedelta(minutes=1)
    db.session.commit()
    dispatch_id = dispatch.id
    result = app.test_cli_runner().invoke(jobs, ["--once"])
    assert result.exit_code == 0, result.output
    assert len(turns) == 1  # the footage turn
    assert all(row.attempts == 1 for row in rows())  # delivery tried (nothing listens on port 9)
    assert db.session.get(Dispatch, dispatch_id).escalation_level == 1  # escalation turn


def test_two_jobs_processes_never_send_one_message_twice_on_sqlite(tmp_path: Path) -> None:
    app = migrated_app(make_settings(tmp_path))
    with app.app_context():
        try:
            two_jobs_processes_share_the_work(app, tmp_path)
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.mark.postgres
def test_two_jobs_processes_never_send_one_message_twice_on_postgres(pg_app: Flask, tmp_path: Path) -> None:
    two_jobs_processes_share_the_work(pg_app, tmp_path)
