"""``pantau``: manage the portal from a shell (cameras, users, database, demo)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import FlaskGroup
from sqlalchemy import select

from contract.media import AUDIO_MODES
from contract.status import REASONS
from portal.admin.camera_changes import SwitchRefused, archive_camera, create_camera, set_public, update_camera
from portal.app import create_app
from portal.auth.cli import audit, cli_actor, users
from portal.camera_input import CameraInputError
from portal.models import Agency, AuditEntry, Camera, Worker, db
from portal.models.audit import record
from portal.models.camera import CAMERA_CATEGORIES
from portal.secret import redact_url
from portal.workers import credentials


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False)
def cli() -> None:
    """Pantau, the public CCTV portal."""


def camera_json(camera: Camera) -> dict[str, Any]:
    status = camera.status
    lease = camera.lease
    return {
        "id": camera.id,
        "name": camera.name,
        "description": camera.description,
        "latitude": camera.latitude,
        "longitude": camera.longitude,
        "district": camera.district,
        "category": camera.category,
        "source": camera.source_redacted,
        "substream": redact_url(camera.substream_url) if camera.substream_url else None,
        "enabled": camera.enabled,
        "public": camera.public,
        "recording": camera.recording,
        "retention_days": camera.retention_days,
        "audio": camera.audio,
        "status": camera.status_name,
        "state": status.state if status else None,
        "reason": status.reason if status else None,
        "message": REASONS[status.reason][1] if status and status.reason in REASONS else None,
        "error": status.error if status else None,
        "codec": status.codec if status else None,
        "width": status.width if status else None,
        "height": status.height if status else None,
        "fps": status.fps if status else None,
        "bitrate_kbps": status.bitrate_kbps if status else None,
        "last_segment_at": status.last_segment_at.isoformat() if status and status.last_segment_at else None,
        "restarts_last_hour": status.restarts_last_hour if status else 0,
        "worker": lease.worker.name if lease else None,
        "agency": camera.agency.code if camera.agency else None,
        "owner_allows_public": camera.owner_allows_public,
        "archived_at": camera.archived_at.isoformat() if camera.archived_at else None,
    }


def _camera_options(creating: bool):  # type: ignore[no-untyped-def]
    def decorate(fn):  # type: ignore[no-untyped-def]
        opts = [
            click.option("--name", required=creating),
            click.option("--lat", "latitude", type=float, required=creating),
            click.option("--lon", "longitude", type=float, required=creating),
            click.option("--source", "source_url", required=creating, help="RTSP/HTTP URL (credentials kept secret)"),
            click.option("--substream", "substream_url", help="low-resolution stream for public viewing"),
            click.option("--district"),
            click.option("--description"),
            click.option("--category", type=click.Choice(CAMERA_CATEGORIES)),
            click.option("--audio", type=click.Choice(AUDIO_MODES)),
            click.option("--retention-days", "retention_days", type=int),
            click.option("--agency", "agency_code", help="owning agency code"),
            click.option("--public/--private", "public", default=None),
            click.option("--enabled/--disabled", "enabled", default=None),
            click.option("--recording/--no-recording", "recording", default=None),
            click.option("--owner-allows-public/--owner-forbids-public", "owner_allows_public", default=None,
                         help="the owner agency's permission to show the camera publicly"),
        ]
        for opt in reversed(opts):
            fn = opt(fn)
        return fn

    return decorate


def _fields(raw: dict[str, Any]) -> dict[str, Any]:
    agency_code = raw.pop("agency_code", None)
    if agency_code:
        agency = db.session.scalar(select(Agency).where(Agency.code == agency_code))
        if agency is None:
            raise click.UsageError(f"no agency with code {agency_code!r}")
        raw["agency"] = agency
    return raw


def _changing(fn):  # type: ignore[no-untyped-def]
    """Input and switch errors are usage errors (exit 2) that name the field and never echo a secret."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except (CameraInputError, SwitchRefused) as exc:
            db.session.rollback()
            raise click.UsageError(str(exc)) from None

    return wrapper


@cli.group()
def cameras() -> None:
    """Add, list, change and remove cameras."""


@cameras.command("add")
@_camera_options(creating=True)
@_changing
def cameras_add(**raw: Any) -> None:
    camera = create_camera(_fields(raw), reason="pantau cameras add")
    _retag()
    db.session.commit()
    click.echo(json.dumps(camera_json(camera), ensure_ascii=False))


@cameras.command("set")
@click.argument("camera_id", type=int)
@_camera_options(creating=False)
@click.option("--reason", default="", help="why (recorded in the audit log with the public switch)")
@_changing
def cameras_set(camera_id: int, reason: str, **raw: Any) -> None:
    camera = db.session.get(Camera, camera_id)
    if camera is None:
        raise click.UsageError(f"no camera {camera_id}")
    given = _fields({k: v for k, v in raw.items() if v is not None})
    public = given.pop("public", None)
    update_camera(camera, given)
    if public is not None:
        set_public([camera], public, reason=reason or "pantau cameras set")
    _retag()
    db.session.commit()
    click.echo(json.dumps(camera_json(camera), ensure_ascii=False))


@cameras.command("list")
@click.option("--public-only", is_flag=True)
@click.option("--archived", is_flag=True, help="list archived cameras too")
def cameras_list(public_only: bool, archived: bool) -> None:
    query = select(Camera).order_by(Camera.id)
    if public_only:
        query = query.where(Camera.public.is_(True))
    if not archived:
        query = query.where(Camera.archived_at.is_(None))
    rows = [camera_json(c) for c in db.session.scalars(query).unique()]
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@cameras.command("remove")
@click.argument("camera_id", type=int)
@click.option("--reason", default="")
def cameras_remove(camera_id: int, reason: str) -> None:
    """Archive a camera: it stops and leaves every list; its recordings, index and legal holds stay."""
    camera = db.session.get(Camera, camera_id)
    if camera is None:
        raise click.UsageError(f"no camera {camera_id}")
    archive_camera(camera, reason=reason or "pantau cameras remove")
    _retag()
    db.session.commit()
    click.echo(f"archived camera {camera_id} (recordings and legal holds kept)")


def _retag() -> None:
    """Audit entries of a shell command carry the shell's actor."""
    actor = cli_actor()
    for entry in db.session.new:
        if isinstance(entry, AuditEntry) and entry.actor in ("system", "anonymous"):
            entry.actor = actor["actor"]


@cli.command("health")
def health_command() -> None:
    """Print the health summary of workers and cameras as JSON."""
    from portal.health.views import summary

    click.echo(json.dumps(summary(), ensure_ascii=False, indent=2))


@cli.group()
def workers() -> None:
    """Give each transcoder worker its own credential, list them, revoke them."""


@workers.command("add")
@click.argument("name")
@click.option("--credential-file", type=click.Path(dir_okay=False, writable=True),
              help="write the credential to this new file (mode 0600) instead of printing it")
def workers_add(name: str, credential_file: str | None) -> None:
    """Issue worker NAME its credential: shown once (or written once), stored only as a hash."""
    try:
        credential = credentials.issue(name)
    except credentials.CredentialError as exc:
        raise click.UsageError(str(exc)) from None
    record("worker.credential.issue", **cli_actor(), target_type="worker", name=name.strip())
    if credential_file:
        path = Path(credential_file)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise click.UsageError(f"cannot create {path}: {exc.strerror}") from None
        with os.fdopen(fd, "w") as out:
            out.write(credential + "\n")
        db.session.commit()
        click.echo(f"worker {name.strip()!r}: credential written to {path}; give the worker "
                   f"PANTAU_WORKER_CREDENTIAL_FILE={path}", err=True)
        return
    db.session.commit()
    click.echo(f"worker {name.strip()!r}: this credential is shown once; give it to the worker as "
               "PANTAU_WORKER_CREDENTIAL (or in the file named by PANTAU_WORKER_CREDENTIAL_FILE)", err=True)
    click.echo(credential)


@workers.command("revoke")
@click.argument("name")
def workers_revoke(name: str) -> None:
    """End worker NAME's credential at once; its cameras move to the other workers."""
    try:
        worker = credentials.revoke(name)
    except credentials.CredentialError as exc:
        raise click.UsageError(str(exc)) from None
    record("worker.credential.revoke", **cli_actor(), target_type="worker", target_id=worker.id, name=worker.name)
    db.session.commit()
    click.echo(f"worker {worker.name!r}: credential revoked")


@workers.command("list")
def workers_list() -> None:
    """Workers as JSON: credential state, when last seen, cameras leased (never a credential)."""
    from portal.health.views import summary

    alive = {w["name"]: w for w in summary()["workers"]}
    rows = []
    for worker in db.session.scalars(select(Worker).order_by(Worker.name)):
        seen = alive.get(worker.name, {})
        rows.append({
            "name": worker.name,
            "credential": "active" if worker.credential_hash else ("revoked" if worker.revoked_at else "none"),
            "credential_issued_at": worker.credential_issued_at.isoformat() if worker.credential_issued_at else None,
            "revoked_at": worker.revoked_at.isoformat() if worker.revoked_at else None,
            "hostname": worker.hostname,
            "version": worker.version,
            "alive": seen.get("alive", False),
            "last_seen_at": worker.last_seen_at.isoformat() if worker.last_seen_at >= worker.created_at else None,
            "cameras": seen.get("cameras", 0),
            "capacity": worker.capacity,
        })
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


def main(argv: list[str] | None = None) -> None:
    from portal.demo import demo

    cli.add_command(demo)
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="pantau")


cli.add_command(users)
cli.add_command(audit)


def _add_area_commands() -> None:
    from portal.agency.cli import COMMANDS as AGENCY_COMMANDS
    from portal.footage.cli import COMMANDS
    from portal.ops import COMMANDS as OPS_COMMANDS

    for command in (*COMMANDS, *OPS_COMMANDS, *AGENCY_COMMANDS):
        cli.add_command(command)
    from portal.dispatch.cli import jobs

    cli.add_command(jobs)


_add_area_commands()
