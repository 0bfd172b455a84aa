"""Every change to a camera, the same from the shell, the console and a CSV import: validated by
``portal.camera_input`` (one set of rules for every door), audited with before and after (source credentials
never: a source URL is audited in its redacted form, and a blank source keeps the old one), and the public
switch that respects the owner agency's permission."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app

from portal.camera_input import CameraInputError, check_fields
from portal.models import Agency, Camera, CameraLease, db, utcnow
from portal.models.audit import record
from portal.secret import redact_url

AUDITED = ("name", "description", "latitude", "longitude", "district", "category", "source_url", "substream_url",
           "enabled", "public", "recording", "retention_days", "audio", "agency_id", "owner_allows_public",
           "archived_at")


class SwitchRefused(ValueError):
    """The public switch cannot be turned on for this camera (archived, or its owner agency does not allow it)."""

    def __init__(self, camera: Camera, reason: str) -> None:
        super().__init__(f"camera {camera.id}: {reason}")
        self.camera = camera
        self.reason = reason


def audit_view(camera: Camera) -> dict[str, Any]:
    """What an audit entry may say about a camera: sources without their credentials."""
    view: dict[str, Any] = {}
    for key in AUDITED:
        value = getattr(camera, key)
        if key in ("source_url", "substream_url") and value:
            value = redact_url(value)
        view[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return view


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [before[k], after[k]] for k in before if before[k] != after[k]}


def _allow_files() -> bool:
    return bool(current_app.config["PANTAU"].allow_file_sources)


def validate_fields(raw: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The checked values of the given fields (raises CameraInputError naming the field). When editing, a blank
    stream address keeps the old one: the console never shows it, so an edit form sends nothing for it."""
    given = {k: v for k, v in raw.items() if k not in ("agency", "owner_allows_public")}
    if not creating:
        for key in ("source_url", "substream_url"):
            if key in given and (given[key] is None or str(given[key]).strip() == ""):
                given.pop(key)
    if "agency" in raw and raw["agency"] is not None and not isinstance(raw["agency"], Agency):
        raise CameraInputError("agency", "is not a known agency")
    return check_fields(given, allow_files=_allow_files(), creating=creating).values


def apply_fields(camera: Camera, raw: Mapping[str, Any], *, creating: bool) -> None:
    """Validate and set the given fields (``public`` only through the switch)."""
    for key, value in validate_fields(raw, creating=creating).items():
        if key != "public":
            setattr(camera, key, value)
    if "agency" in raw:
        agency = raw["agency"]
        camera.agency = agency
        camera.agency_id = agency.id if agency else None
    if "owner_allows_public" in raw and raw["owner_allows_public"] is not None:
        camera.owner_allows_public = bool(raw["owner_allows_public"])
    if camera.public and not camera.may_be_public:
        camera.public = False  # the owner withdrew its permission: the camera leaves the public map now


def create_camera(raw: Mapping[str, Any], *, reason: str = "") -> Camera:
    camera = Camera(public=False)
    apply_fields(camera, raw, creating=True)
    db.session.add(camera)
    db.session.flush()
    record("camera.create", target_type="camera", target_id=camera.id, after=audit_view(camera))
    if raw.get("public"):
        set_public([camera], True, reason=reason or "created public")
    return camera


def update_camera(camera: Camera, raw: Mapping[str, Any]) -> dict[str, list[Any]]:
    before = audit_view(camera)
    apply_fields(camera, raw, creating=False)
    if camera.enabled is False and camera.lease is not None:
        db.session.delete(camera.lease)
    changes = _diff(before, audit_view(camera))
    if changes:
        record("camera.update", target_type="camera", target_id=camera.id, changes=changes)
    if "public" in raw and raw["public"] is not None and bool(raw["public"]) != camera.public:
        set_public([camera], bool(raw["public"]), reason="edited")
    return changes


def set_public(cameras: Iterable[Camera], public: bool, *, reason: str) -> list[Camera]:
    """The public switch (one camera or a selection), audited with its reason; returns the cameras changed.

    Turning it on is refused (nothing changes) when any camera is archived or its owner agency does not allow it.
    """
    cameras = list(cameras)
    if public:
        for camera in cameras:
            if camera.archived_at is not None:
                raise SwitchRefused(camera, "is archived")
            if not camera.may_be_public:
                raise SwitchRefused(camera, "its owner agency does not allow showing it publicly")
    changed = [c for c in cameras if c.public != public]
    for camera in changed:
        camera.public = public
        record("camera.public" if public else "camera.private", target_type="camera", target_id=camera.id,
               name=camera.name, reason=reason.strip()[:500], before=not public, after=public)
    return changed


def archive_camera(camera: Camera, *, reason: str = "") -> None:
    """Take a camera out of service: not run, not shown, not listed; its recordings, their index and its legal
    holds stay (and the worker keeps honouring the holds)."""
    if camera.archived_at is not None:
        return
    before = audit_view(camera)
    camera.public = False
    camera.enabled = False
    camera.archived_at = utcnow()
    db.session.execute(CameraLease.__table__.delete().where(CameraLease.camera_id == camera.id))
    record("camera.archive", target_type="camera", target_id=camera.id, name=camera.name,
           reason=reason.strip()[:500], changes=_diff(before, audit_view(camera)))


def restore_camera(camera: Camera) -> None:
    if camera.archived_at is None:
        return
    camera.archived_at = None
    record("camera.restore", target_type="camera", target_id=camera.id, name=camera.name)
