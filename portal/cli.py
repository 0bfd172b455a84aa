"""``pantau``: manage the portal from a shell (cameras, users, database, demo)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy import select

from contract.media import AUDIO_MODES
from portal.app import create_app
from portal.camera_input import CameraInputError, check_fields
from portal.models import (
    Agency,
    Camera,
    CameraLease,
    FootageExport,
    LegalHold,
    RecordingSegment,
    User,
    Worker,
    db,
    utcnow,
)
from portal.models.audit import record
from portal.models.camera import CAMERA_CATEGORIES
from portal.models.footage import footage_request_cameras
from portal.models.people import ROLES
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
        "error": status.error if status else None,
        "codec": status.codec if status else None,
        "width": status.width if status else None,
        "height": status.height if status else None,
        "fps": status.fps if status else None,
        "bitrate_kbps": status.bitrate_kbps if status else None,
        "last_segment_at": status.last_segment_at.isoformat() if status and status.last_segment_at else None,
        "restarts_last_hour": status.restarts_last_hour if status else 0,
        "worker": lease.worker.name if lease else None,
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
        ]
        for opt in reversed(opts):
            fn = opt(fn)
        return fn

    return decorate


def _apply(camera: Camera, raw: dict[str, Any], creating: bool) -> None:
    settings = current_app.config["PANTAU"]
    agency_code = raw.pop("agency_code", None)
    try:
        fields = check_fields(raw, allow_files=settings.allow_file_sources, creating=creating)
    except CameraInputError as exc:
        raise click.UsageError(str(exc)) from None
    for key, value in fields.values.items():
        setattr(camera, key, value)
    if agency_code:
        agency = db.session.scalar(select(Agency).where(Agency.code == agency_code))
        if agency is None:
            raise click.UsageError(f"no agency with code {agency_code!r}")
        camera.agency = agency


@cli.group()
def cameras() -> None:
    """Add, list, change and remove cameras."""


@cameras.command("add")
@_camera_options(creating=True)
def cameras_add(**raw: Any) -> None:
    camera = Camera()
    _apply(camera, raw, creating=True)
    db.session.add(camera)
    db.session.flush()
    record("camera.create", actor="cli", target_type="camera", target_id=camera.id, name=camera.name)
    db.session.commit()
    click.echo(json.dumps(camera_json(camera), ensure_ascii=False))


@cameras.command("set")
@click.argument("camera_id", type=int)
@_camera_options(creating=False)
def cameras_set(camera_id: int, **raw: Any) -> None:
    camera = db.session.get(Camera, camera_id)
    if camera is None:
        raise click.UsageError(f"no camera {camera_id}")
    given = {k: v for k, v in raw.items() if v is not None}
    _apply(camera, given, creating=False)
    if camera.enabled is False and camera.lease is not None:
        db.session.delete(camera.lease)
    record("camera.update", actor="cli", target_type="camera", target_id=camera.id,
           fields=sorted(k for k in given if k != "agency_code"))
    db.session.commit()
    click.echo(json.dumps(camera_json(camera), ensure_ascii=False))


@cameras.command("list")
@click.option("--public-only", is_flag=True)
@click.option("--archived", is_flag=True, help="also the archived (removed) cameras")
def cameras_list(public_only: bool, archived: bool) -> None:
    query = select(Camera).order_by(Camera.id)
    if not archived:
        query = query.where(Camera.archived_at.is_(None))
    if public_only:
        query = query.where(Camera.public.is_(True))
    rows = [camera_json(c) for c in db.session.scalars(query).unique()]
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@cameras.command("remove")
@click.argument("camera_id", type=int)
@click.option("--purge", is_flag=True, help="delete the camera for good: only one that never recorded anything")
def cameras_remove(camera_id: int, purge: bool) -> None:
    """Archive a camera: it stops and leaves every list, its recordings, holds and requests stay."""
    camera = db.session.get(Camera, camera_id)
    if camera is None:
        raise click.UsageError(f"no camera {camera_id}")
    db.session.execute(CameraLease.__table__.delete().where(CameraLease.camera_id == camera_id))
    if purge:
        kept = [name for model, name in ((RecordingSegment, "recordings"), (LegalHold, "legal holds"),
                                         (FootageExport, "exports"))
                if db.session.scalar(select(model.id).where(model.camera_id == camera_id).limit(1)) is not None]
        if kept or db.session.scalar(select(footage_request_cameras.c.request_id).where(
                footage_request_cameras.c.camera_id == camera_id).limit(1)) is not None:
            raise click.UsageError(f"camera {camera_id} has {', '.join(kept) or 'footage requests'}: "
                                   "it can only be archived (pantau cameras remove without --purge)")
        db.session.delete(camera)
        record("camera.delete", actor="cli", target_type="camera", target_id=camera_id)
        db.session.commit()
        click.echo(f"deleted camera {camera_id}")
        return
    camera.enabled = False
    camera.public = False
    camera.archived_at = camera.archived_at or utcnow()
    record("camera.archive", actor="cli", target_type="camera", target_id=camera_id)
    db.session.commit()
    click.echo(f"removed camera {camera_id}: archived, its recordings, holds and requests are kept")


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
    record("worker.credential.issue", actor="cli", target_type="worker", name=name.strip())
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
    record("worker.credential.revoke", actor="cli", target_type="worker", target_id=worker.id, name=worker.name)
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


@cli.group()
def users() -> None:
    """Create users."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="PANTAU_NEW_USER_PASSWORD")
@click.option("--full-name", default="")
@click.option("--agency", "agency_code")
def users_create(username: str, role: str, password: str, full_name: str, agency_code: str | None) -> None:
    if len(password) < 10:
        raise click.UsageError("the password must have at least 10 characters")
    if db.session.scalar(select(User).where(User.username == username)):
        raise click.UsageError(f"user {username!r} exists already")
    user = User(username=username, role=role, full_name=full_name)
    user.set_password(password)
    if agency_code:
        agency = db.session.scalar(select(Agency).where(Agency.code == agency_code))
        if agency is None:
            raise click.UsageError(f"no agency with code {agency_code!r}")
        user.agency = agency
    db.session.add(user)
    db.session.flush()
    record("user.create", actor="cli", target_type="user", target_id=user.id, role=role)
    db.session.commit()
    click.echo(json.dumps({"id": user.id, "username": username, "role": role}))


def main(argv: list[str] | None = None) -> None:
    from portal.demo import demo

    cli.add_command(demo)
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="pantau")


def _add_area_commands() -> None:
    from portal.footage.cli import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_area_commands()
