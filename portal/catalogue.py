"""Finding cameras for the public: only public, enabled cameras, never their sources."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.models import Camera, db


def public_cameras() -> list[Camera]:
    query = (
        select(Camera)
        .where(Camera.public.is_(True), Camera.enabled.is_(True))
        .options(joinedload(Camera.status))
        .order_by(Camera.name)
    )
    return list(db.session.scalars(query).unique())


def public_camera(camera_id: int) -> Camera | None:
    camera = db.session.get(Camera, camera_id)
    if camera is None or not camera.public or not camera.enabled:
        return None
    return camera


def camera_by_key(key: str) -> Camera | None:
    return db.session.scalar(select(Camera).where(Camera.media_key == key))


def public_properties(camera: Camera) -> dict[str, Any]:
    """What anyone may know about a public camera (the GeoJSON and the map speak this)."""
    status = camera.status
    return {
        "id": camera.id,
        "name": camera.name,
        "description": camera.description,
        "district": camera.district,
        "category": camera.category,
        "status": camera.status_name,
        "last_online_at": status.last_online_at.isoformat() if status and status.last_online_at else None,
        "codec": status.codec if status else None,
        "url": url_for("public.camera", camera_id=camera.id),
        "snapshot_url": url_for("media.snapshot", key=camera.media_key),
        "hls_url": url_for("media.hls", key=camera.media_key, filename="index.m3u8"),
    }


def feature(camera: Camera) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(camera.longitude, 6), round(camera.latitude, 6)]},
        "properties": public_properties(camera),
    }
