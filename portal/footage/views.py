"""The police pages: find cameras (map, name, area), a camera's archive by day, archived playback, and the
footage requests (ask, follow, withdraw). Police only; the second factor is the accounts area's business."""

from __future__ import annotations

import datetime as dt
import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import or_, select

from portal.auth.policy import allow
from portal.footage import asking, exports, timeline
from portal.footage.forms import LEGAL_BASES, EmptyForm, PoliceRequestForm, city_zone, to_local_input
from portal.footage.people import audit_fields, signed_in
from portal.models import Camera, FootageRequest, db, utcnow
from portal.models.audit import record
from portal.models.footage import OPEN_REQUEST_STATUSES, RequestStatus
from portal.settings import Settings

bp = Blueprint("footage", __name__, url_prefix="/polisi")
POLICE = ("police",)
PER_PAGE = 50


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def is_fragment() -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def page_or_fragment(page: str, fragment: str, **context: object) -> Response:
    response = make_response(render_template(fragment if is_fragment() else page, **context))
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _camera_or_404(camera_id: int) -> Camera:
    camera = db.session.get(Camera, camera_id)
    if camera is None:
        abort(404)
    return camera


def _cameras_query(text: str, district: str):  # type: ignore[no-untyped-def]
    query = select(Camera)
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Camera.name.ilike(like, escape="\\"), Camera.description.ilike(like, escape="\\")))
    if district:
        query = query.where(Camera.district == district)
    return query.order_by(Camera.archived_at.is_not(None), Camera.name)


@bp.get("/")
@allow(*POLICE)
def index() -> ResponseReturnValue:
    text = (request.args.get("q") or "").strip()[:80]
    district = (request.args.get("wilayah") or "").strip()[:80]
    cameras = db.session.scalars(_cameras_query(text, district).limit(PER_PAGE)).all()
    districts = [d for d in db.session.scalars(select(Camera.district).where(Camera.district != "")
                                               .distinct().order_by(Camera.district))]
    return page_or_fragment("footage/index.html", "footage/_cameras.html", cameras=cameras, q=text,
                            district=district, districts=districts, settings=_settings())


@bp.get("/kamera.json")
@allow(*POLICE)
def cameras_json() -> ResponseReturnValue:
    """Every camera the police may ask footage of (private and archived ones too), as GeoJSON."""
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [c.longitude, c.latitude]},
         "properties": {"id": c.id, "name": c.name, "district": c.district, "archived": c.archived_at is not None,
                        "url": url_for("footage.camera", camera_id=c.id)}}
        for c in db.session.scalars(select(Camera).order_by(Camera.id))
    ]
    response = current_app.response_class(json.dumps({"type": "FeatureCollection", "features": features}),
                                          mimetype="application/geo+json")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _day() -> dt.date:
    raw = request.args.get("tanggal", "")
    try:
        return dt.date.fromisoformat(raw) if raw else dt.datetime.now(city_zone()).date()
    except ValueError:
        abort(400)


def _local_span(day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
    """The span chosen to play (``mulai``/``selesai`` as local times of that day, or full local moments)."""
    zone = city_zone()
    values = []
    for name in ("mulai", "selesai"):
        raw = request.args.get(name, "")
        if not raw:
            return None
        try:
            moment = (dt.datetime.fromisoformat(raw) if "T" in raw else
                      dt.datetime.combine(day, dt.time.fromisoformat(raw)))
        except ValueError:
            abort(400)
        values.append(moment.replace(tzinfo=zone) if moment.tzinfo is None else moment)
    start, end = values[0].astimezone(dt.UTC), values[1].astimezone(dt.UTC)
    if end <= start or end - start > dt.timedelta(hours=_settings().footage_max_hours):
        abort(400)
    return start, end


@bp.get("/kamera/<int:camera_id>")
@allow(*POLICE)
def camera(camera_id: int) -> ResponseReturnValue:
    cam = _camera_or_404(camera_id)
    day = _day()
    start, end = timeline.day_bounds(day, city_zone())
    stretches = timeline.stretches(cam.id, start, end, now=utcnow())
    chosen = _local_span(day)
    context = {
        "camera": cam, "day": day, "day_start": start, "stretches": stretches,
        "recorded_s": sum(s.seconds for s in stretches if s.recorded),
        "previous_day": day - dt.timedelta(days=1), "next_day": day + dt.timedelta(days=1),
        "today": dt.datetime.now(city_zone()).date(), "chosen": chosen, "to_local_input": to_local_input,
    }
    if chosen:
        context["playlist_url"] = url_for("footage.archive_playlist", camera_id=cam.id,
                                          mulai=chosen[0].isoformat(), selesai=chosen[1].isoformat())
    return page_or_fragment("footage/camera.html", "footage/_timeline.html", **context)


@bp.get("/kamera/<int:camera_id>/arsip.m3u8")
@allow(*POLICE)
def archive_playlist(camera_id: int) -> ResponseReturnValue:
    """Archived footage to play: an HLS playlist of the recorded segments (served by nginx from disk)."""
    cam = _camera_or_404(camera_id)
    span = _local_span(dt.datetime.now(city_zone()).date())
    if span is None:
        abort(400)
    settings = _settings()
    text, used = timeline.playlist(cam.id, span[0], span[1],
                                   media_root=settings.media_path if settings.media_path.is_dir() else None)
    record("footage.archive_viewed", target_type="camera", target_id=cam.id, start=span[0].isoformat(),
           end=span[1].isoformat(), segments=len(used), **audit_fields())
    db.session.commit()
    response = current_app.response_class(text, mimetype="application/vnd.apple.mpegurl")
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- requests --


def _my_request(request_id: int) -> FootageRequest:
    found = db.session.get(FootageRequest, request_id)
    if found is None or found.requester_id != signed_in().id:
        abort(404)
    return found


@bp.get("/permintaan")
@allow(*POLICE)
def requests() -> ResponseReturnValue:
    user = signed_in()
    rows = db.session.scalars(select(FootageRequest).where(FootageRequest.requester_id == user.id)
                              .order_by(FootageRequest.created_at.desc()).limit(200)).all()
    return render_template("footage/requests.html", requests=rows, open_statuses=OPEN_REQUEST_STATUSES)


def _camera_choices(form: PoliceRequestForm) -> None:
    form.cameras.choices = [(c.id, c.name) for c in db.session.scalars(select(Camera).order_by(Camera.name))]


@bp.route("/permintaan/baru", methods=["GET", "POST"])
@allow(*POLICE)
def new_request() -> ResponseReturnValue:
    user = signed_in()
    form = PoliceRequestForm()
    _camera_choices(form)
    if request.method == "GET":
        form.cameras.data = [int(v) for v in request.args.getlist("kamera") if v.isdigit()]
        for name, field in (("mulai", form.start), ("selesai", form.end)):
            raw = request.args.get(name, "")
            try:
                moment = dt.datetime.fromisoformat(raw) if raw else None
            except ValueError:
                moment = None
            if moment is not None:
                field.data = dt.datetime.fromisoformat(to_local_input(moment)) if moment.tzinfo else moment
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                created = asking.ask_police(
                    user, form.cameras.data or [], form.start_utc, form.end_utc, case_number=form.case_number.data,
                    legal_basis=form.legal_basis.data, reason=form.reason.data, resident_codes=form.codes(),
                    now=utcnow(), **audit_fields(user))
            except asking.AskError as exc:
                getattr(form, exc.field).errors = [exc.message]
                db.session.rollback()
            else:
                db.session.commit()
                flash(gettext("Your request was sent. The footage is held from now on."), "success")
                return redirect(url_for("footage.request_page", request_id=created.id), 303)
        status = 400
    return render_template("footage/new_request.html", form=form, legal_bases=LEGAL_BASES,
                           max_hours=_settings().footage_max_hours), status


@bp.get("/permintaan/<int:request_id>")
@allow(*POLICE)
def request_page(request_id: int) -> ResponseReturnValue:
    found = _my_request(request_id)
    if found.requester_seen_at is None:
        found.requester_seen_at = utcnow()
        db.session.commit()
    link = next((link for link in exports.links_of(found) if link.user_id == found.requester_id), None)
    return page_or_fragment("footage/request.html", "footage/_request_status.html", req=found, link=link,
                            cancel_form=EmptyForm(), now=utcnow(), R=RequestStatus)


@bp.post("/permintaan/<int:request_id>/batal")
@allow(*POLICE)
def cancel_request(request_id: int) -> ResponseReturnValue:
    found = _my_request(request_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        exports.cancel(found, signed_in(), utcnow(), **audit_fields())
    except exports.DecisionError:
        abort(409)
    db.session.commit()
    flash(gettext("The request was withdrawn and its holds released."), "success")
    return redirect(url_for("footage.request_page", request_id=found.id), 303)
