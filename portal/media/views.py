"""Live HLS and snapshots: the access decision nginx asks for, and serving from disk in development."""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, abort, current_app, request, send_from_directory
from flask.typing import ResponseReturnValue

from contract.media import MEDIA_KEY_PATTERN, normalize_media_url
from contract.worker_api import HANDOVER_SERVE_S, MEDIA_NODE_HEADER
from portal.auth.policy import PUBLIC, allow, get_policy
from portal.auth.scope import may_see
from portal.media import passes
from portal.models import Camera, LeaseRelease, Worker, db, utcnow
from portal.public.catalogue import camera_by_key
from portal.settings import Settings

bp = Blueprint("media", __name__)
KEY = MEDIA_KEY_PATTERN
HLS_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.(m3u8|ts|m4s|mp4)$")
MIMETYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "ts": "video/mp2t",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
}


PRIVATE_VIEWERS = frozenset({"admin", "operator", "leadership"})  # every camera, public or not
AGENCY_VIEWERS = frozenset({"agency", "police"})  # the cameras their own agency owns


def publicly_visible(camera: Camera) -> bool:
    return camera.publicly_visible


def may_view(camera: Camera | None) -> bool:
    """Anyone may view a public camera; signed-in staff also private ones, as far as their role allows."""
    if camera is None or camera.archived_at is not None:
        return False
    if publicly_visible(camera):
        return True
    roles = get_policy().current_roles()
    if roles & PRIVATE_VIEWERS:
        return True
    return bool(roles & AGENCY_VIEWERS) and camera.agency_id is not None and may_see(camera.agency_id)


def _viewable(key: str) -> Camera:
    if not KEY.fullmatch(key):
        abort(404)
    camera = camera_by_key(key)
    if camera is None:
        abort(404)
    if not may_view(camera):
        abort(403)
    return camera


def runs_on(camera: Camera, node: str) -> bool:
    """Does the media node ``node`` (its PANTAU_MEDIA_URL) run this camera now? The lease's worker does; so does,
    for HANDOVER_SERVE_S after the camera moved away, the worker that ran it until then (open players keep
    their last segments while they learn the new address, polled every few seconds). Later, a node whose camera
    moved elsewhere still has the old folder on its disk, which must not pass for live."""
    try:
        url = normalize_media_url(node)
    except ValueError:
        return False
    lease = camera.lease
    if lease is not None and lease.worker.media_url == url:
        return True
    since = utcnow() - dt.timedelta(seconds=HANDOVER_SERVE_S)
    return db.session.scalar(
        db.select(LeaseRelease.id).join(Worker, Worker.id == LeaseRelease.worker_id)
        .where(LeaseRelease.camera_id == camera.id, LeaseRelease.released_at >= since, Worker.media_url == url)
        .limit(1)) is not None


@bp.get("/_auth/media/<key>")
@allow(PUBLIC)
def authorize(key: str) -> ResponseReturnValue:
    """nginx ``auth_request`` target: 204 when the media of this key may be read, 403 otherwise.

    A media pass (``?expires=&sig=``, from ``/media/p/<expires>/<sig>/...`` on a node) lets a private camera be
    read without the portal's cookie (``portal.media.passes``).
    A media node's nginx names itself (``X-Pantau-Media-Node``, set by its configuration, never by the viewer):
    a camera it does not run now gets 401, which that configuration turns into 404 (not here)."""
    camera = camera_by_key(key) if KEY.fullmatch(key) else None
    allowed = may_view(camera)
    expires, signature = request.args.get("expires", ""), request.args.get("sig", "")
    if not allowed and camera is not None and camera.archived_at is None and (expires or signature):
        allowed = passes.valid(key, expires, signature)  # a media pass the portal gave a staff member
    headers = {"Cache-Control": "no-store"}
    node = request.headers.get(MEDIA_NODE_HEADER)
    if allowed and camera is not None and node is not None and not runs_on(camera, node):
        return "", 401, headers
    if allowed and camera is not None and publicly_visible(camera):
        headers["X-Pantau-Cache"] = "public"  # nginx then lets a CDN keep public segments and playlists
    return "", 204 if allowed else 403, headers


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


@bp.get("/media/hls/<key>/<filename>")
@allow(PUBLIC)
def hls(key: str, filename: str) -> ResponseReturnValue:
    if not _settings().serve_media:
        abort(404)
    _viewable(key)
    if not HLS_FILE.fullmatch(filename):
        abort(404)
    ext = filename.rsplit(".", 1)[1]
    response = send_from_directory(
        _settings().media_path / "hls" / key, filename, mimetype=MIMETYPES[ext], max_age=0
    )
    response.headers["Cache-Control"] = "no-cache" if ext == "m3u8" else "public, max-age=3600"
    return response


@bp.get("/media/snapshots/<key>.jpg")
@allow(PUBLIC)
def snapshot(key: str) -> ResponseReturnValue:
    if not _settings().serve_media:
        abort(404)
    _viewable(key)
    response = send_from_directory(_settings().media_path / "snapshots", f"{key}.jpg", mimetype="image/jpeg")
    response.headers["Cache-Control"] = "public, max-age=2"
    return response
