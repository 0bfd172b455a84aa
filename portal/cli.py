"""``pantau``: manage the portal from a shell (cameras, users, database, demo)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy import select

from contract.media import AUDIO_MODES
from portal.app import create_app
from portal.auth.cli import audit, cli_actor, users
from portal.camera_input import CameraInputError, check_fields
from portal.models import Agency, Camera, CameraLease, db
from portal.models.audit import record
from portal.models.camera import CAMERA_CATEGORIES
from portal.secret import redact_url


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
    record("camera.create", **cli_actor(), target_type="camera", target_id=camera.id, name=camera.name)
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
    record("camera.update", **cli_actor(), target_type="camera", target_id=camera.id,
           fields=sorted(k for k in given if k != "agency_code"))
    db.session.commit()
    click.echo(json.dumps(camera_json(camera), ensure_ascii=False))


@cameras.command("list")
@click.option("--public-only", is_flag=True)
def cameras_list(public_only: bool) -> None:
    query = select(Camera).order_by(Camera.id)
    if public_only:
        query = query.where(Camera.public.is_(True))
    rows = [camera_json(c) for c in db.session.scalars(query).unique()]
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@cameras.command("remove")
@click.argument("camera_id", type=int)
def cameras_remove(camera_id: int) -> None:
    camera = db.session.get(Camera, camera_id)
    if camera is None:
        raise click.UsageError(f"no camera {camera_id}")
    db.session.execute(CameraLease.__table__.delete().where(CameraLease.camera_id == camera_id))
    db.session.delete(camera)
    record("camera.delete", **cli_actor(), target_type="camera", target_id=camera_id)
    db.session.commit()
    click.echo(f"removed camera {camera_id}")


@cli.command("health")
def health_command() -> None:
    """Print the health summary of workers and cameras as JSON."""
    from portal.health.views import summary

    click.echo(json.dumps(summary(), ensure_ascii=False, indent=2))


def main(argv: list[str] | None = None) -> None:
    from portal.demo import demo

    cli.add_command(demo)
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="pantau")


cli.add_command(users)
cli.add_command(audit)
