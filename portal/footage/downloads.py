"""Downloads and archive media: the portal checks the user, nginx sends the bytes.

An export is downloaded through its request's expiring link, by the requester only: the portal answers
``X-Accel-Redirect: /_protected/exports/...`` and nginx serves the file from disk (nginx/pantau.conf.template).
Every download, and every refused one, is in the audit log with who, when and from where. Archived segments for
playback are checked the same way (``auth_request`` to ``/_auth/arsip/<camera>``).

With ``SERVE_MEDIA`` on (development and the demo, where no nginx runs) the portal sends the files itself.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app, request, send_from_directory
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.auth.policy import allow
from portal.footage.people import audit_fields, signed_in
from portal.models import DownloadLink, FootageExport, FootageRequest, db, utcnow
from portal.models.audit import record
from portal.models.footage import ExportStatus, RequestStatus
from portal.settings import Settings

bp = Blueprint("footage_media", __name__)
ACCEL_PREFIX = "/_protected/"
DAY = re.compile(r"^[0-9]{8}$")
SEGMENT = re.compile(r"^[0-9]{6}(-[0-9]{1,4})?\.mp4$")


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def accel_path(export: FootageExport) -> str:
    """Where nginx finds the file (one media root now; per worker node when media lives on several)."""
    assert export.path is not None
    return ACCEL_PREFIX + export.path


def _link(token: str) -> tuple[DownloadLink, FootageRequest]:
    """The link, checked: it exists, it is the signed-in user's, it has not expired."""
    user = signed_in()
    link = db.session.scalar(select(DownloadLink).where(DownloadLink.token == token[:64])) if token else None
    if link is None:
        record("footage.download_refused", reason="unknown_link", **audit_fields(user))
        db.session.commit()
        abort(404)
    found = link.request
    if link.user_id != user.id:
        record("footage.download_refused", target_type="footage_request", target_id=found.id, reason="foreign_link",
               link_id=link.id, **audit_fields(user))
        db.session.commit()
        abort(403)
    if link.expires_at <= utcnow() or found.status != RequestStatus.READY.value:
        record("footage.download_refused", target_type="footage_request", target_id=found.id, reason="expired",
               link_id=link.id, **audit_fields(user))
        db.session.commit()
        abort(410)
    return link, found


def _attachment(response: Response, name: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/unduh/<token>/<int:export_id>.mp4")
@allow("police")
def download(token: str, export_id: int) -> ResponseReturnValue:
    link, found = _link(token)
    export = db.session.get(FootageExport, export_id)
    if export is None or export.request_id != found.id or export.status != ExportStatus.DONE.value:
        abort(404)
    link.downloads += 1
    record("footage.downloaded", target_type="footage_export", target_id=export.id, request_id=found.id,
           file=export.file_name, sha256=export.sha256, bytes=export.bytes, link_id=link.id,
           user_agent=(request.user_agent.string or "")[:200], **audit_fields())
    db.session.commit()
    settings = _settings()
    if settings.serve_media:  # no nginx in front (development, demo)
        response = send_from_directory(settings.media_path, export.path or "", mimetype="video/mp4",
                                       max_age=0, conditional=True)
    else:
        response = current_app.response_class(b"", mimetype="video/mp4")
        response.headers["X-Accel-Redirect"] = accel_path(export)
    return _attachment(response, export.file_name)


@bp.get("/unduh/<token>/manifest.json")
@allow("police")
def manifest(token: str) -> ResponseReturnValue:
    link, found = _link(token)
    if not found.manifest:
        abort(404)
    record("footage.manifest_downloaded", target_type="footage_request", target_id=found.id, link_id=link.id,
           manifest_sha256=found.manifest_sha256, **audit_fields())
    db.session.commit()
    response = current_app.response_class(found.manifest.encode(), mimetype="application/json")
    return _attachment(response, f"pantau-r{found.id}-manifest.json")


@bp.get("/_auth/arsip/<int:camera_id>")
@allow("police")
def authorize_archive(camera_id: int) -> ResponseReturnValue:
    """nginx ``auth_request`` target for archived segments: the policy already let only the police through."""
    return "", 204, {"Cache-Control": "no-store"}


@bp.get("/media/recordings/<int:camera_id>/<day>/<name>")
@allow("police")
def recording(camera_id: int, day: str, name: str) -> ResponseReturnValue:
    """Archived segments for playback when the portal serves media itself (nginx does in production)."""
    settings = _settings()
    if not settings.serve_media or not DAY.match(day) or not SEGMENT.match(name):
        abort(404)
    response = send_from_directory(settings.media_path / "recordings" / str(camera_id) / day, name,
                                   mimetype="video/mp4", max_age=0, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
