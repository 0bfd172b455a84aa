"""Public pages: the camera map, the list, one camera's live view, the embeddable player and the multi-view."""

from __future__ import annotations

from html import escape

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from portal.auth.policy import PUBLIC, allow
from portal.bounds import INT32_MAX, InputError
from portal.i18n import last_seen
from portal.public.catalogue import (
    CATEGORY_LABELS,
    STATUS_LABELS,
    Filters,
    PublicCamera,
    districts,
    find_cameras,
    media_urls_of,
    nearby,
    public_camera,
    public_cameras_by_id,
    public_properties,
)
from portal.public.mapview import map_settings
from portal.security import external_url, frameable
from portal.settings import Settings

bp = Blueprint("public", __name__)
PER_PAGE = 24
MULTIVIEW_MAX = 9


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def _is_fragment() -> bool:
    """An htmx request for a piece of the page (a history restore wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def _vary(response: Response) -> Response:
    response.vary.add("HX-Request")
    return response


MAX_PAGE = 10_000
MAX_IDS_CHARS = 200  # "ids=1,2,...": nine ids of ten digits fit many times over


def _page_number() -> int:
    """Like the filters, a page that is not a page number (``x``, ``²``, 10**20) is the first page."""
    raw = request.args.get("page", "1").strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 5:
        return min(max(1, int(raw)), MAX_PAGE)
    return 1


def _viewable_or_404(camera_id: int) -> PublicCamera:
    camera = public_camera(camera_id)
    if camera is None:
        abort(404)
    return camera


def player_context(camera: PublicCamera) -> dict[str, object]:
    return {"camera": camera, "props": public_properties(camera), "live_timeout_s": _settings().live_timeout_s,
            "snapshot_interval_s": _settings().snapshot_interval_s}


@bp.app_template_global("camera_snapshot_url")
def camera_snapshot_url(camera: PublicCamera) -> str:
    """The snapshot of a camera where it runs now (its media node, or the portal's own /media)."""
    return media_urls_of(camera)[0]


@bp.app_template_global("camera_hls_url")
def camera_hls_url(camera: PublicCamera) -> str:
    """The player's playlist: where the camera runs now, a signed media link for a public camera."""
    return media_urls_of(camera)[1]


@bp.get("/")
@allow(PUBLIC)
def index() -> ResponseReturnValue:
    return render_template("public/map.html", map=map_settings(_settings()), status_labels=STATUS_LABELS)


@bp.get("/kamera")
@allow(PUBLIC)
def camera_list() -> ResponseReturnValue:
    filters = Filters.from_args(request.args)
    page = find_cameras(filters, page=_page_number(), per_page=PER_PAGE)
    context = {
        "filters": filters, "page": page, "districts": districts(), "categories": CATEGORY_LABELS,
        "statuses": STATUS_LABELS, "snapshot_interval_s": _settings().snapshot_interval_s,
    }
    fragment = _is_fragment()
    template = "public/_grid.html" if fragment else "public/list.html"
    return _vary(make_response(render_template(template, fragment=fragment, **context)))


def embed_snippet(camera: PublicCamera) -> str:
    """The HTML another site pastes to show this camera's player (plain text: the template escapes it)."""
    src = escape(external_url("public.embed", camera_id=camera.id))
    return (f'<iframe src="{src}" width="640" height="360" style="border:0;max-width:100%;aspect-ratio:16/9;'
            f'height:auto" allow="autoplay; fullscreen" allowfullscreen loading="lazy" '
            f'title="{escape(camera.name)}"></iframe>')


@bp.get("/kamera/<int:camera_id>")
@allow(PUBLIC)
def camera(camera_id: int) -> ResponseReturnValue:
    cam = _viewable_or_404(camera_id)
    return render_template(
        "public/camera.html", **player_context(cam), nearby=nearby(cam), embed_snippet=embed_snippet(cam),
        autoplay=request.args.get("autoplay") == "1", settings=_settings(),
    )


@bp.get("/kamera/<int:camera_id>/status.json")
@allow(PUBLIC)
def camera_status(camera_id: int) -> ResponseReturnValue:
    """Polled by open players every few seconds: 404 the moment a camera stops being public."""
    cam = public_camera(camera_id)
    if cam is None:
        response = jsonify({"error": "not_found", "message": gettext("Not found")})
        response.status_code = 404
    else:
        snapshot, hls = media_urls_of(cam)
        response = jsonify({
            "id": cam.id,
            "status": cam.status,
            # where the camera runs now: an open player follows a camera that moved to another media node
            "hls_url": hls,
            "snapshot_url": snapshot,
            "status_label": cam.status_label,
            "playable": cam.playable,
            "codec": cam.codec,
            "last_online_at": cam.last_online_at.isoformat() if cam.last_online_at else None,
            "last_seen": last_seen(cam.last_online_at),
        })
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/embed/<int:camera_id>")
@allow(PUBLIC)
@frameable
def embed(camera_id: int) -> ResponseReturnValue:
    """The player alone, for other sites to frame (the only view without X-Frame-Options)."""
    cam = _viewable_or_404(camera_id)
    return render_template("public/embed.html", **player_context(cam), autoplay=request.args.get("autoplay") == "1")


def _ids(values: list[str]) -> list[int]:
    """Camera ids from ``ids=1,2&ids=3``: ASCII numbers in the id range; other tokens are skipped (a shared
    link with a stray character still opens), but the whole is bounded."""
    if len(values) > 3 * MULTIVIEW_MAX or sum(len(v) for v in values) > MAX_IDS_CHARS:
        raise InputError("ids", _l("must name at most %(max)d cameras", max=MULTIVIEW_MAX))
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part.isascii() and part.isdigit() and len(part) <= 10 and 1 <= int(part) <= INT32_MAX \
                    and int(part) not in ids:
                ids.append(int(part))
    return ids[:MULTIVIEW_MAX]


@bp.get("/multiview")
@allow(PUBLIC)
def multiview() -> ResponseReturnValue:
    cameras = public_cameras_by_id(_ids(request.args.getlist("ids")))
    layout = 4 if len(cameras) <= 4 else 9
    return render_template(
        "public/multiview.html", cameras=cameras, layout=layout, players=[player_context(c) for c in cameras],
        max_cameras=MULTIVIEW_MAX,
    )


@bp.get("/healthz")
@allow(PUBLIC)
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}
