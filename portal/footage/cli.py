"""``pantau keys`` (the city's signing key), ``pantau evidence verify`` and ``pantau footage tick``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.footage import evidence
from portal.models import db, utcnow


@click.group("keys")
def keys() -> None:
    """The city's Ed25519 key that signs evidence manifests (a file, never in the database)."""


@keys.command("generate")
@click.option("--force", is_flag=True, help="replace an existing key (manifests signed with it no longer verify)")
@click.option("--if-missing", is_flag=True, help="do nothing when a key exists (for installers)")
def keys_generate(force: bool, if_missing: bool) -> None:
    # From the settings alone, not the app: in production the app refuses to start without this very key.
    import os

    from portal.settings import Settings, SettingsError

    try:
        path = Settings.from_env(os.environ).evidence_key_path
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if if_missing and path.exists():
        click.echo(f"key exists: {path}")
        return
    try:
        public = evidence.generate_key(path, force=force)
    except evidence.EvidenceKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"private key: {path} (keep it secret, back it up)")
    click.echo(f"public key:  {evidence.public_path(path)}")
    click.echo(f"fingerprint: {evidence.fingerprint(public)}")


@keys.command("show")
@with_appcontext
def keys_show() -> None:
    """Print the public key and its fingerprint (never the private key)."""
    try:
        public = evidence.city_public_key(current_app.config["PANTAU"].evidence_key_path)
    except evidence.EvidenceKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(evidence.public_pem(public), nl=False)
    click.echo(f"fingerprint: {evidence.fingerprint(public)}")


@click.group("evidence")
def evidence_group() -> None:
    """Check exported footage against its signed manifest."""


@evidence_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the city's published public key (default: this installation's)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@with_appcontext
def evidence_verify(file: Path, manifest: Path, public_key: Path | None, as_json: bool) -> None:
    """Is FILE the one exported, and MANIFEST the city's, unchanged? Exit 0 when yes, 1 when not."""
    try:
        key = (evidence.load_public_key(public_key) if public_key else
               evidence.city_public_key(current_app.config["PANTAU"].evidence_key_path))
    except evidence.EvidenceKeyError as exc:
        raise click.ClickException(str(exc)) from None
    verdict = evidence.verify(manifest.read_bytes(), evidence.sha256_file(file), key)
    if as_json:
        click.echo(json.dumps({"ok": verdict.ok, "checks": dict(verdict.checks), "file": verdict.file}))
    else:
        for code, passed in verdict.checks:
            click.echo(f"{'ok  ' if passed else 'FAIL'} {evidence.MESSAGES.get(code, code)}")
        click.echo("VERIFIED" if verdict.ok else "NOT VERIFIED")
    sys.exit(0 if verdict.ok else 1)


@click.group("footage")
def footage() -> None:
    """Footage requests and holds."""


@footage.command("tick")
@click.option("--every", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="seconds between turns, until stopped (0: one turn)")
@with_appcontext
def footage_tick(every: float) -> None:
    """Expire exports and links, release the holds that are due (the jobs loop's footage turn)."""
    import threading

    from portal.footage.exports import tick

    stop = threading.Event()
    if every:
        import signal

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    while True:
        try:
            result = tick(utcnow())
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - a turn that failed is tried again next time
            db.session.rollback()
            if not every:
                raise
            click.echo(f"footage tick failed: {exc.__class__.__name__}", err=True)
        else:
            if result["expired"] or result["released"] or not every:
                click.echo(json.dumps(result))
        finally:
            db.session.remove()
        if not every or stop.wait(every):
            return


COMMANDS = (keys, evidence_group, footage)
