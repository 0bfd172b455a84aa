"""Finding cameras for the public: only public, enabled cameras, never their sources.

Everything the public sees of a camera goes through ``PublicCamera``, which has no field for a source URL,
and every query here filters with ``publicly_visible()``. The effective status of a camera (a worker that
stopped reporting means the camera is offline) is decided in one place: ``effective_status``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from portal import bounds
from portal.media import links
from portal.models import Camera, CameraLease, CameraStatus, Worker, db, utcnow
from portal.models.camera import CAMERA_CATEGORIES, STATUSES

STATUS_LABELS = {
    "online": _l("Online"),
    "starting": _l("Starting"),
    "offline": _l("Offline"),
    "auth_failed": _l("Wrong password"),
    "unsupported": _l("Unsupported video"),
    "error": _l("Error"),
    "unknown": _l("Unknown"),
}
# Why a camera has its status (contract.status.REASONS): the short message an operator reads beside the technical
# line. The msgids are the contract's English messages (tests/contract checks they match).
REASON_MESSAGES = {
    "unreachable": _l("The camera cannot be reached on the network."),
    "timeout": _l("The camera does not answer."),
    "no_media": _l("The camera answers but sends no video."),
    "stalled": _l("The camera stopped sending video."),
    "ended": _l("The camera ended the stream."),
    "auth": _l("The camera refused the user name or password."),
    "codec": _l("The camera sends a video format the portal cannot serve."),
    "no_video": _l("The camera sends no video stream."),
    "source_refused": _l("The camera's address is not allowed."),
    "restart_budget": _l("The camera was restarted too often; retrying later."),
    "ffmpeg": _l("The video process failed."),
}
CATEGORY_LABELS = {
    "traffic": _l("Traffic"),
    "beach": _l("Beach"),
    "market": _l("Market"),
    "border": _l("City border"),
    "public_space": _l("Public space"),
    "government": _l("Government"),
    "river": _l("River"),
    "other": _l("Other"),
}
PLAYABLE = frozenset({"online", "starting"})


def reason_message(reason: str | None) -> str | None:
    """The operator's message for a reason code, in the request's language."""
    message = REASON_MESSAGES.get(reason or "")
    return str(message) if message is not None else None
MAX_QUERY_CHARS = 80
EARTH_KM = 6371.0088


def effective_status(status: str | None, updated_at: dt.datetime | None, *, now: dt.datetime | None = None,
                     lease_seconds: int | None = None) -> str:
    """The status to show: what the worker last said, unless it stopped saying it (older than one lease)."""
    if status is None:
        return "unknown"
    if lease_seconds is None:
        lease_seconds = int(current_app.config["PANTAU"].lease_seconds)
    now = now or utcnow()
    if updated_at is None or updated_at < now - dt.timedelta(seconds=lease_seconds):
        return "offline"
    return status if status in STATUSES else "unknown"


@dataclass(frozen=True, slots=True)
class PublicCamera:
    """What anyone may know about a public camera."""

    id: int
    name: str
    description: str
    district: str
    category: str
    latitude: float
    longitude: float
    media_key: str
    status: str
    last_online_at: dt.datetime | None
    codec: str | None
    # The media node that runs the camera now (its worker's media_url); "": the portal's own /media.
    media_base: str = ""
    # For a private camera on a node, shown to staff: a media pass prefix (portal.media.passes), else "".
    media_pass: str = ""
    # Publicly visible (False: a private camera shown to staff); only public cameras get signed media links.
    public: bool = True

    @property
    def playable(self) -> bool:
        return self.status in PLAYABLE

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def category_label(self) -> str:
        return str(CATEGORY_LABELS.get(self.category, self.category))


_COLUMNS = (
    Camera.id, Camera.name, Camera.description, Camera.district, Camera.category, Camera.latitude,
    Camera.longitude, Camera.media_key, CameraStatus.status, CameraStatus.updated_at, CameraStatus.last_online_at,
    CameraStatus.codec, Worker.media_url,
)


def publicly_visible() -> ColumnElement[bool]:
    """The one rule for what the public sees: public, enabled, not archived, and its owner agency agrees."""
    return and_(Camera.public.is_(True), Camera.enabled.is_(True), Camera.archived_at.is_(None),
                or_(Camera.agency_id.is_(None), Camera.owner_allows_public.is_(True)))


def _public_query() -> Select:
    return (
        select(*_COLUMNS)
        .outerjoin(CameraStatus, CameraStatus.camera_id == Camera.id)
        .outerjoin(CameraLease, CameraLease.camera_id == Camera.id)  # one lease per camera: its node, if any
        .outerjoin(Worker, Worker.id == CameraLease.worker_id)
        .where(publicly_visible())
    )


def _rows(query: Select) -> list[PublicCamera]:
    now = utcnow()
    lease = int(current_app.config["PANTAU"].lease_seconds)
    return [
        PublicCamera(
            id=r[0], name=r[1], description=r[2] or "", district=r[3] or "", category=r[4] or "other",
            latitude=r[5], longitude=r[6], media_key=r[7],
            status=effective_status(r[8], r[9], now=now, lease_seconds=lease), last_online_at=r[10], codec=r[11],
            media_base=r[12] or "",
        )
        for r in db.session.execute(query)
    ]


def public_cameras() -> list[PublicCamera]:
    return _rows(_public_query().order_by(Camera.name, Camera.id))


def public_camera(camera_id: int) -> PublicCamera | None:
    found = _rows(_public_query().where(Camera.id == camera_id))
    return found[0] if found else None


def public_cameras_by_id(ids: Sequence[int]) -> list[PublicCamera]:
    """The public cameras among ``ids``, in the order asked (unknown or private ids are left out)."""
    if not ids:
        return []
    found = {c.id: c for c in _rows(_public_query().where(Camera.id.in_(set(ids))))}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def camera_by_key(key: str) -> Camera | None:
    return db.session.scalar(select(Camera).where(Camera.media_key == key))


def districts() -> list[str]:
    query = (
        select(Camera.district).where(publicly_visible(), Camera.district != "")
        .distinct().order_by(Camera.district)
    )
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Filters:
    """The list page's search: all optional, all plain GET parameters."""

    q: str = ""
    district: str = ""
    category: str = ""
    status: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        """Bounded (400 beyond): a search of up to 80 characters, no control characters; an unknown category
        or status is no filter."""
        category = args.get("category", "")
        status = args.get("status", "")
        return cls(
            q=" ".join(bounds.text(args.get("q", ""), "q", max_len=MAX_QUERY_CHARS).split()),
            district=bounds.text(args.get("district", ""), "district", max_len=MAX_QUERY_CHARS),
            category=category if category in CAMERA_CATEGORIES else "",
            status=status if status in STATUSES else "",
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.district or self.category or self.status)

    def args(self) -> dict[str, str]:
        return {k: v for k, v in (("q", self.q), ("district", self.district), ("category", self.category),
                                  ("status", self.status)) if v}


@dataclass(frozen=True)
class Page:
    items: list[PublicCamera]
    number: int
    pages: int
    total: int


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_cameras(filters: Filters, *, page: int = 1, per_page: int = 24) -> Page:
    query = _public_query()
    if filters.q:
        query = query.where(func.lower(Camera.name).like(_like(filters.q), escape="\\"))
    if filters.district:
        query = query.where(Camera.district == filters.district)
    if filters.category:
        query = query.where(Camera.category == filters.category)
    query = query.order_by(Camera.name, Camera.id)
    if filters.status:  # the effective status is computed, not stored: filter after the query
        found = [c for c in _rows(query) if c.status == filters.status]
        total = len(found)
    else:
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    number = min(max(1, page), pages)
    start = (number - 1) * per_page
    items = found[start:start + per_page] if filters.status else _rows(query.offset(start).limit(per_page))
    return Page(items=items, number=number, pages=pages, total=total)


def distance_km(a: PublicCamera, b: PublicCamera) -> float:
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def nearby(camera: PublicCamera, limit: int = 6) -> list[tuple[PublicCamera, float]]:
    """The closest other public cameras. The database orders by a flat-earth distance (plain arithmetic, so
    SQLite and PostgreSQL agree); the exact great-circle distance is computed for those few."""
    scale = math.cos(math.radians(camera.latitude)) ** 2
    dlat = Camera.latitude - camera.latitude
    dlon = Camera.longitude - camera.longitude
    query = _public_query().where(Camera.id != camera.id).order_by(dlat * dlat + dlon * dlon * scale).limit(limit)
    return [(c, distance_km(camera, c)) for c in _rows(query)]


def media_urls(base: str, key: str, media_pass: str = "") -> tuple[str, str]:
    """(snapshot, playlist) on a media node (``contract.worker_api``: ``<media_url>/media/...``), with a media
    pass prefix (``p/<expires>/<signature>/``) for a private camera."""
    return f"{base}/media/{media_pass}snapshots/{key}.jpg", f"{base}/media/{media_pass}hls/{key}/index.m3u8"


def media_urls_of(camera: PublicCamera) -> tuple[str, str]:
    """(snapshot, playlist) of one camera where it runs now, for a player: a public camera's playlist is a signed
    media link (``portal.media.links``) when nginx serves the media and shares the link secret."""
    snapshot, hls = _Urls().media(camera)
    settings = current_app.config["PANTAU"]
    if settings.media_link_secret and camera.public and not camera.media_pass and (
            camera.media_base or not settings.serve_media):
        prefix = links.issue(settings.media_link_secret, camera.media_key, settings.media_link_seconds)
        hls = hls.replace("/media/hls/", f"/media/{prefix}hls/", 1)
    return snapshot, hls


class _Urls:
    """URL patterns built once per call, so 2,000 features cost 3 ``url_for`` calls, not 6,000."""

    ID = 987654321
    KEY = "f0e1d2c3b4a59687"

    def __init__(self) -> None:
        self.page = url_for("public.camera", camera_id=self.ID)
        self.snapshot = url_for("media.snapshot", key=self.KEY)
        self.hls = url_for("media.hls", key=self.KEY, filename="index.m3u8")

    def media(self, camera: PublicCamera) -> tuple[str, str]:
        """(snapshot, playlist) of the camera where it runs now: its node, or the portal's own /media."""
        key = camera.media_key
        if camera.media_base:
            return media_urls(camera.media_base, key, camera.media_pass)
        return self.snapshot.replace(self.KEY, key), self.hls.replace(self.KEY, key)

    def props(self, camera: PublicCamera) -> dict[str, Any]:
        snapshot, hls = self.media(camera)
        return {
            "id": camera.id,
            "name": camera.name,
            "description": camera.description,
            "district": camera.district,
            "category": camera.category,
            "status": camera.status,
            "last_online_at": camera.last_online_at.isoformat() if camera.last_online_at else None,
            "codec": camera.codec,
            "url": self.page.replace(str(self.ID), str(camera.id)),
            "snapshot_url": snapshot,
            "hls_url": hls,
        }


def public_properties(camera: PublicCamera) -> dict[str, Any]:
    """What anyone may know about a public camera (the GeoJSON, the CSV and the pages speak this)."""
    return _Urls().props(camera)


def feature_collection(cameras: Sequence[PublicCamera]) -> dict[str, Any]:
    urls = _Urls()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(c.longitude, 6), round(c.latitude, 6)]},
                "properties": urls.props(c),
            }
            for c in cameras
        ],
    }


def properties_list(cameras: Sequence[PublicCamera]) -> list[dict[str, Any]]:
    urls = _Urls()
    return [urls.props(c) for c in cameras]
