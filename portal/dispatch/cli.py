"""``pantau jobs``: the jobs process. Dispatches the reports of the auto-dispatch categories on receipt (when
set), delivers the outbox (webhooks, CAP, e-mail) with retries, escalates dispatches whose SLA ran out, and runs
the footage turn (export and hold expiry) once a minute."""

from __future__ import annotations

import json
import signal
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.dispatch import auto, delivery, escalation
from portal.models import db, utcnow


def _turn(name: str, fn, quiet: bool) -> dict[str, int]:  # type: ignore[no-untyped-def]
    try:
        result: dict[str, int] = fn()
        db.session.commit()
    except Exception as exc:  # noqa: BLE001 - a turn that failed is tried again next time
        db.session.rollback()
        click.echo(f"{name} failed: {exc.__class__.__name__}", err=True)
        return {}
    finally:
        db.session.remove()
    if any(result.values()) and not quiet:
        click.echo(json.dumps({"turn": name, **result}), err=False)
    return result


def _footage() -> dict[str, int]:
    from portal.footage.exports import tick

    return tick(utcnow())


@click.command("jobs")
@click.option("--once", is_flag=True, help="one turn of everything, then exit")
@click.option("--interval", type=click.FloatRange(min=0.05), default=None,
              help="seconds between turns when there is nothing to send [PANTAU_JOBS_INTERVAL_S]")
@click.option("--footage-every", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="seconds between footage turns (export and hold expiry)")
@click.option("--quiet", is_flag=True, help="print nothing for turns that did something")
@with_appcontext
def jobs(once: bool, interval: float | None, footage_every: float, quiet: bool) -> None:
    """Run the jobs process until stopped (SIGTERM/Ctrl-C finish the current turn first)."""
    settings = current_app.config["PANTAU"]
    pause = interval if interval is not None else settings.jobs_interval_s
    claimer = delivery.new_claimer()
    stop = threading.Event()
    if not once:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"pantau jobs: delivering as {claimer}", err=True)
    next_footage = 0.0
    while not stop.is_set():
        busy = False
        _turn("auto-dispatch", lambda: auto.tick(utcnow(), settings), quiet)
        for _ in range(50):  # send what is due (a burst), then look at the timers
            result = _turn("outbox", lambda: delivery.run_once(claimer, settings), quiet)
            if not result or not (result.get("sent") or result.get("failed")):
                break
            busy = True
        _turn("escalation", lambda: escalation.tick(utcnow(), settings), quiet)
        if time.monotonic() >= next_footage:
            _turn("footage", _footage, quiet)
            next_footage = time.monotonic() + footage_every
        if once:
            return
        if not busy:
            stop.wait(pause)
