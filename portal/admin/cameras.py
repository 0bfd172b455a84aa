"""Cameras in the console: the table (htmx), add and edit, archive, the public switch (one and bulk, with a
reason), CSV export, and a status feed for staff players (private cameras included where the role allows)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Response, abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.admin import camera_table
from portal.admin.blueprint import ADMIN, CAMERA_READERS, bp, is_fragment, vary
from portal.admin.camera_changes import SwitchRefused, archive_camera, create_camera, restore_camera, set_public
from portal.admin.camera_changes import update_camera as change_camera
from portal.admin.camera_forms import CameraForm
from portal.admin.groups import wall_camera
from portal.auth.policy import allow
from portal.auth.scope import may_see
from portal.camera_input import CameraInputError
from portal.i18n import last_seen
from portal.media.views import may_view
from portal.models import Agency, Camera, db
from portal.public.catalogue import STATUS_LABELS, effective_status, media_urls_of
from portal.secret import redact_url

STATE_LABELS = {**STATUS_LABELS, "disabled": _l("Stopped"), "archived": _l("Archived")}
MAX_REASON = 500


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def _table_context(filters: camera_table.Filters) -> dict[str, object]:
    return {
        "filters": filters, "page": camera_table.page_of(filters, _page()),
        "districts": camera_table.all_districts(),
        "agencies": db.session.query(Agency).order_by(Agency.name).all(),
        "may_edit": current_user.role in ADMIN, "state_labels": STATE_LABELS,
    }


@bp.get("/kamera")
@allow(*CAMERA_READERS)
def cameras() -> ResponseReturnValue:
    filters = camera_table.Filters.from_args(request.args)
    context = _table_context(filters)
    template = "admin/_camera_table.html" if is_fragment() else "admin/cameras.html"
    return vary(make_response(render_template(template, **context)))


def _camera_or_404(camera_id: int) -> Camera:
    camera = db.session.get(Camera, camera_id)
    if camera is None or not may_see(camera.agency_id):
        abort(404)
    return camera


@bp.route("/kamera/baru", methods=["GET", "POST"])
@allow(*ADMIN)
def camera_new() -> ResponseReturnValue:
    form = CameraForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            camera = create_camera(form.raw(), reason=gettext("added from the console"))
        except (CameraInputError, SwitchRefused) as exc:
            db.session.rollback()
            if isinstance(exc, CameraInputError):
                form.show_error(exc)
            else:
                form.public.errors = [gettext("The owner agency does not allow showing this camera publicly.")]
        else:
            db.session.commit()
            flash(gettext("Camera %(name)s was added.", name=camera.name))
            return redirect(url_for("admin.cameras"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/camera_form.html", form=form, camera=None), status


@bp.route("/kamera/<int:camera_id>", methods=["GET", "POST"])
@allow(*ADMIN)
def camera_edit(camera_id: int) -> ResponseReturnValue:
    camera = _camera_or_404(camera_id)
    form = CameraForm(camera=camera)
    if request.method == "POST" and form.validate_on_submit():
        try:
            change_camera(camera, form.raw())
        except CameraInputError as exc:
            db.session.rollback()
            camera = _camera_or_404(camera_id)
            form.show_error(exc)
        else:
            db.session.commit()
            flash(gettext("Camera %(name)s was saved.", name=camera.name))
            return redirect(url_for("admin.camera_edit", camera_id=camera.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/camera_form.html", form=form, camera=camera,
                           source_hint=redact_url(camera.source_url)), status


def _reason() -> str:
    return " ".join(request.form.get("reason", "").split())[:MAX_REASON]


def _selected_ids() -> list[int]:
    ids = []
    for value in request.form.getlist("ids"):
        for part in value.split(","):
            if part.strip().isdigit():
                ids.append(int(part))
    return list(dict.fromkeys(ids))[:1000]


@bp.post("/kamera/publik")
@allow(*ADMIN)
def camera_switch() -> ResponseReturnValue:
    """The public switch: ``ids`` (one or many), ``public`` (1 or 0) and a ``reason`` (required)."""
    ids = _selected_ids()
    public = request.form.get("public") == "1"
    reason = _reason()
    problem = None
    if not ids:
        problem = gettext("Choose at least one camera.")
    elif not reason:
        problem = gettext("Write the reason for this change (it goes into the audit log).")
    changed: list[Camera] = []
    if problem is None:
        cameras = [c for c in db.session.query(Camera).filter(Camera.id.in_(ids)) if may_see(c.agency_id)]
        try:
            changed = set_public(cameras, public, reason=reason)
        except SwitchRefused as exc:
            db.session.rollback()
            problem = gettext("%(name)s cannot be made public: its owner agency does not allow it, or it is archived.",
                              name=exc.camera.name)
        else:
            db.session.commit()
    if problem is not None:
        if is_fragment():
            return render_template("admin/_switch_result.html", problem=problem), 422
        flash(problem)
        return redirect(url_for("admin.cameras"))
    message = (gettext("%(n)d cameras are now public.", n=len(changed)) if public
               else gettext("%(n)d cameras are now private.", n=len(changed)))
    if is_fragment():  # htmx: the table again, with the result announced
        filters = camera_table.Filters.from_args(request.args)
        response = make_response(render_template("admin/_camera_table.html", **_table_context(filters),
                                                 switch_message=message))
        return vary(response)
    flash(message)
    return redirect(url_for("admin.cameras"))


@bp.post("/kamera/<int:camera_id>/arsip")
@allow(*ADMIN)
def camera_archive(camera_id: int) -> ResponseReturnValue:
    camera = _camera_or_404(camera_id)
    if request.form.get("restore") == "1":
        restore_camera(camera)
        flash(gettext("Camera %(name)s is back (it is private and stopped until you change that).", name=camera.name))
    else:
        archive_camera(camera, reason=_reason())
        flash(gettext("Camera %(name)s was archived. Its recordings and legal holds are kept.", name=camera.name))
    db.session.commit()
    return redirect(url_for("admin.cameras"))


CSV_EXPORT = ("id", "name", "description", "latitude", "longitude", "district", "category", "source_url",
              "substream_url", "audio", "retention_days", "agency", "owner_allows_public", "enabled", "public",
              "recording", "archived_at")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return "" if value is None else value


@bp.get("/kamera.csv")
@allow(*ADMIN)
def cameras_csv() -> ResponseReturnValue:
    """Every camera, in the import's columns; stream addresses without their credentials."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_EXPORT)
    for c in db.session.query(Camera).order_by(Camera.id):
        writer.writerow([_cell(v) for v in (
            c.id, c.name, c.description, c.latitude, c.longitude, c.district, c.category, redact_url(c.source_url),
            redact_url(c.substream_url) if c.substream_url else "", c.audio, c.retention_days,
            c.agency.code if c.agency else "", int(c.owner_allows_public), int(c.enabled), int(c.public),
            int(c.recording), c.archived_at.isoformat() if c.archived_at else "",
        )])
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="pantau-kamera-{stamp}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/kamera/<int:camera_id>/status.json")
@allow(*CAMERA_READERS)
def camera_status(camera_id: int) -> ResponseReturnValue:
    """The status feed of a staff player (the public one answers 404 for private cameras)."""
    camera = db.session.get(Camera, camera_id)
    if camera is None or not may_view(camera):
        response = jsonify(error="not_found")
        response.status_code = 404
    else:
        status = camera.status
        state = effective_status(status.status if status else None, status.updated_at if status else None)
        if not camera.enabled:
            state = "offline"
        snapshot, hls = media_urls_of(wall_camera(camera))
        response = jsonify(
            id=camera.id, status=state, status_label=str(STATE_LABELS.get(state, state)), hls_url=hls,
            snapshot_url=snapshot,
            playable=state in ("online", "starting"), codec=status.codec if status else None,
            last_online_at=status.last_online_at.isoformat() if status and status.last_online_at else None,
            last_seen=last_seen(status.last_online_at if status else None), public=camera.public,
        )
    response.headers["Cache-Control"] = "no-store"
    return response
