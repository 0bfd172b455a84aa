"""The 112 operators' console: the live queue, a report's page and the steps taken on it.

Every step is a POST carrying the CSRF token (a hidden field in the form; htmx sends the page's token in the
X-CSRFToken header). With htmx the answer is the report's panel (or the evidence list), swapped in place so the
camera players keep running; a refused step answers 400/409 with the panel saying why. Without htmx: a redirect
back to the report (303), or the page with the refusal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from portal import bounds
from portal.admin.blueprint import is_fragment, vary
from portal.admin.groups import wall_camera
from portal.auth.policy import allow
from portal.console import evidence as evidence_store
from portal.console import labels
from portal.console.nearby import likely_duplicates, nearest_cameras
from portal.console.queue import flags_for, open_queue
from portal.dispatch.service import agencies_for
from portal.incidents import lifecycle
from portal.incidents.lifecycle import LifecycleError
from portal.media.views import may_view
from portal.models import Agency, Camera, User, db, utcnow
from portal.models.evidence import IncidentEvidence
from portal.models.incident import Dispatch, Incident, IncidentEvent
from portal.public.catalogue import public_properties
from portal.public.mapview import map_settings
from portal.settings import Settings

bp = Blueprint("console", __name__, url_prefix="/konsol")
CONSOLE_ROLES = ("operator", "admin")


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def _incident_or_404(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        abort(404)
    return incident


def _no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "private, no-store"
    return vary(response)


@bp.get("/")
@allow(*CONSOLE_ROLES)
def queue() -> ResponseReturnValue:
    """The live queue. The page polls this URL (``HX-Request``) every second with ``v``, the version it shows:
    unchanged, the answer is an empty 204 and htmx swaps nothing."""
    settings = _settings()
    found = open_queue(dispatch_sla_s=settings.dispatch_sla_s)
    fragment = is_fragment()
    if fragment and request.args.get("v", "")[:32] == found.version:
        return _no_store(make_response("", 204))
    template = "console/_queue.html" if fragment else "console/queue.html"
    return _no_store(make_response(render_template(
        template, queue=found, now=utcnow(), labels=labels, settings=settings, blocklist_url=_blocklist_url())))


def _events(incident: Incident) -> list[tuple[IncidentEvent, str]]:
    events = db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                                .order_by(IncidentEvent.id)).all()
    ids = {e.actor_user_id for e in events if e.actor_user_id}
    names = dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}
    return [(e, names.get(e.actor_user_id, "") if e.actor_user_id else "") for e in events]


def _progress_context(incident: Incident) -> dict[str, Any]:
    """The dispatches and the event log, and a version that changes whenever either does."""
    dispatches = db.session.execute(
        select(Dispatch, Agency.name).join(Agency, Agency.id == Dispatch.agency_id)
        .where(Dispatch.incident_id == incident.id).order_by(Dispatch.id)).all()
    events = _events(incident)
    digest = hashlib.sha256(f"{incident.status}|{len(events)}|{events[-1][0].id if events else 0}".encode())
    for d, _name in dispatches:
        digest.update(f"|{d.id},{d.status},{d.updated_at.isoformat()}".encode())
    return {"incident": incident, "dispatches": dispatches, "events": events, "labels": labels,
            "progress_version": digest.hexdigest()[:16]}


def _panel_context(incident: Incident) -> dict[str, Any]:
    """What the report's panel shows: facts, steps, routing agencies, dispatches, duplicates, the event log."""
    routed = agencies_for(incident) if incident.status in lifecycle.OPEN else []
    routed_ids = {a.id for a, _sla in routed}
    others = [a for a in db.session.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.name))
              if a.id not in routed_ids]
    progress = _progress_context(incident)
    held = {d.agency_id for d, _name in progress["dispatches"] if d.status in lifecycle.OPEN_DISPATCH}
    merged_into = db.session.get(Incident, incident.merged_into_id) if incident.merged_into_id else None
    merged_from = db.session.scalars(select(Incident).where(Incident.merged_into_id == incident.id)
                                     .order_by(Incident.id)).all()
    return {
        **progress, "flags": flags_for([incident.id]).get(incident.id, []), "routed": routed,
        "other_agencies": others, "held": held,
        "duplicates": likely_duplicates(incident) if incident.status in lifecycle.OPEN else [],
        "merged_into": merged_into, "merged_from": merged_from, "labels": labels, "now": utcnow(),
        "is_open": incident.status in lifecycle.OPEN, "may_verify": incident.status == "new",
        "auto_dispatch": _settings().auto_dispatch_on_verify, "dispatch_sla_s": _settings().dispatch_sla_s,
        "priorities": labels.PRIORITIES,
    }


def _evidence_context(incident: Incident) -> dict[str, Any]:
    items = db.session.scalars(select(IncidentEvidence).where(IncidentEvidence.incident_id == incident.id)
                               .order_by(IncidentEvidence.id)).all()
    return {"incident": incident, "evidence": items}


def _photo_urls(incident: Incident) -> list[str]:
    """The reporter's photos (``portal.reports.photos``, when the reports area is there)."""
    photos_of = lifecycle.optional("portal.reports.photos", "photos_of")
    photo_url = lifecycle.optional("portal.reports.photos", "photo_url")
    if not (callable(photos_of) and callable(photo_url)):
        return []
    return [str(photo_url(photo)) for photo in photos_of(incident)]


def _blocklist_url() -> str | None:
    endpoint = "reports_staff.blocklist"  # the reports area's blocklist page, when it is there
    return url_for(endpoint) if endpoint in current_app.view_functions else None


def _players(incident: Incident) -> list[dict[str, Any]]:
    players = []
    for near in nearest_cameras(incident.latitude, incident.longitude):
        view = wall_camera(near.camera)
        players.append({"camera": view, "props": public_properties(view), "public": near.camera.public,
                        "status_url": url_for("admin.camera_status", camera_id=near.camera.id),
                        "distance_m": near.distance_m})
    return players


def _page(incident: Incident, *, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    settings = _settings()
    players = _players(incident)
    center = (incident.latitude, incident.longitude) if incident.latitude is not None and \
        incident.longitude is not None else None
    response = make_response(render_template(
        "console/report.html", **{**_panel_context(incident), **_evidence_context(incident)}, error=error,
        players=players, map_cameras=[
            {"id": p["camera"].id, "name": p["camera"].name, "lat": p["camera"].latitude, "lon": p["camera"].longitude,
             "public": p["public"], "metres": round(p["distance_m"])} for p in players],
        map=map_settings(settings, center=center, zoom=16),
        live_timeout_s=0, snapshot_interval_s=settings.snapshot_interval_s, photos=_photo_urls(incident)), status)
    return _no_store(response)


@bp.get("/laporan/<int:incident_id>")
@allow(*CONSOLE_ROLES)
def report(incident_id: int) -> ResponseReturnValue:
    incident = _incident_or_404(incident_id)
    if is_fragment():
        return _no_store(make_response(render_template("console/_panel.html", **_panel_context(incident))))
    return _page(incident)


@bp.get("/laporan/<int:incident_id>/riwayat")
@allow(*CONSOLE_ROLES)
def progress(incident_id: int) -> ResponseReturnValue:
    """The dispatches and history fragment, polled by the report's page (204 when ``v`` is still current)."""
    context = _progress_context(_incident_or_404(incident_id))
    if request.args.get("v", "")[:32] == context["progress_version"]:
        return _no_store(make_response("", 204))
    return _no_store(make_response(render_template("console/_progress.html", **context)))


def _answer(incident: Incident, *, notice: str | None = None, error: str | None = None,
            status: int = 200) -> ResponseReturnValue:
    if is_fragment():
        return _no_store(make_response(render_template(
            "console/_panel.html", **_panel_context(incident), notice=notice, error=error), status))
    if error:
        return _page(incident, error=error, status=status)
    if notice:
        flash(notice)
    return redirect(url_for("console.report", incident_id=incident.id), 303)


def _step(incident_id: int, run: Callable[[Incident, int], str]) -> ResponseReturnValue:
    """Run a lifecycle step on the report and answer with the report the page shows (``page`` in the form,
    when a merge is started from the other report's page)."""
    incident = _incident_or_404(incident_id)
    shown_id = incident.id
    raw_page = request.form.get("page", "")
    if raw_page:
        shown_id = bounds.query_id(raw_page[:12], "page")
    actor = int(current_user.id)
    try:
        notice = run(incident, actor)
    except (LifecycleError, bounds.InputError) as exc:
        db.session.rollback()
        message = labels.refusal(exc) if isinstance(exc, LifecycleError) else \
            gettext("%(field)s: %(message)s", field=exc.field, message=exc.message)
        return _answer(_incident_or_404(shown_id), error=message,
                       status=exc.status if isinstance(exc, LifecycleError) else 400)
    db.session.commit()
    return _answer(_incident_or_404(shown_id), notice=notice)


@bp.post("/laporan/<int:incident_id>/verifikasi")
@allow(*CONSOLE_ROLES)
def verify(incident_id: int) -> ResponseReturnValue:
    def run(incident: Incident, actor: int) -> str:
        made = lifecycle.verify(incident, actor_user_id=actor)
        if made:
            return gettext("Verified and dispatched to %(count)d agencies.", count=len(made))
        return gettext("The report is verified.")

    return _step(incident_id, run)


@bp.post("/laporan/<int:incident_id>/tolak")
@allow(*CONSOLE_ROLES)
def reject(incident_id: int) -> ResponseReturnValue:
    def run(incident: Incident, actor: int) -> str:
        reason = bounds.text(request.form.get("reason", ""), "reason", max_len=lifecycle.MAX_REASON, multiline=True)
        lifecycle.reject(incident, reason, actor_user_id=actor)
        return gettext("The report is rejected.")

    return _step(incident_id, run)


@bp.post("/laporan/<int:incident_id>/gabung")
@allow(*CONSOLE_ROLES)
def merge(incident_id: int) -> ResponseReturnValue:
    def run(incident: Incident, actor: int) -> str:
        into = db.session.get(Incident, bounds.query_id(request.form.get("into", "")[:12], "into"))
        if into is None:
            raise LifecycleError("no_report", "no such report", status=404)
        lifecycle.merge(incident, into, actor_user_id=actor)
        return gettext("%(duplicate)s is merged into %(into)s.", duplicate=incident.tracking_code,
                       into=into.tracking_code)

    return _step(incident_id, run)


@bp.post("/laporan/<int:incident_id>/prioritas")
@allow(*CONSOLE_ROLES)
def priority(incident_id: int) -> ResponseReturnValue:
    def run(incident: Incident, actor: int) -> str:
        raw = request.form.get("priority", "")[:2]
        value = int(raw) if raw.isascii() and raw.isdigit() else 0
        changed = lifecycle.set_priority(incident, value, actor_user_id=actor)
        return gettext("Priority set to %(priority)d.", priority=value) if changed else \
            gettext("The priority was already %(priority)d.", priority=value)

    return _step(incident_id, run)


@bp.post("/laporan/<int:incident_id>/kirim")
@allow(*CONSOLE_ROLES)
def dispatch(incident_id: int) -> ResponseReturnValue:
    def run(incident: Incident, actor: int) -> str:
        raw = request.form.getlist("agency")
        if len(raw) > 50:
            raise LifecycleError("agency", "too many agencies", status=400)
        wanted = [bounds.query_id(v[:12], "agency") for v in raw]
        active = set(db.session.scalars(select(Agency.id).where(Agency.active.is_(True), Agency.id.in_(wanted))))
        if any(a not in active for a in wanted):
            raise LifecycleError("agency", "unknown or inactive agency", status=400)
        made = lifecycle.dispatch(incident, wanted, actor_user_id=actor)
        return gettext("Dispatched to %(count)d agencies.", count=len(made))

    return _step(incident_id, run)


@bp.post("/laporan/<int:incident_id>/bukti")
@allow(*CONSOLE_ROLES)
def save_evidence(incident_id: int) -> ResponseReturnValue:
    incident = _incident_or_404(incident_id)
    error, status = None, 200
    try:
        camera = db.session.get(Camera, bounds.query_id(request.form.get("camera", "")[:12], "camera"))
        if camera is None or camera.archived_at is not None or not may_view(camera):
            raise LifecycleError("camera", "no such camera", status=404)
        item = evidence_store.save_snapshot(incident, camera, media_root=_settings().media_path,
                                            actor_user_id=int(current_user.id))
        db.session.commit()
        notice = gettext("Snapshot of %(camera)s saved (SHA-256 %(sha)s…).", camera=camera.name, sha=item.sha256[:12])
    except (LifecycleError, bounds.InputError) as exc:
        db.session.rollback()
        notice = None
        error = labels.refusal(exc) if isinstance(exc, LifecycleError) else \
            gettext("%(field)s: %(message)s", field=exc.field, message=exc.message)
        status = exc.status if isinstance(exc, LifecycleError) else 400
    if is_fragment():
        return _no_store(make_response(render_template(
            "console/_evidence.html", **_evidence_context(incident), evidence_notice=notice,
            evidence_error=error), status))
    if error:
        return _page(incident, error=error, status=status)
    flash(notice or "")
    return redirect(url_for("console.report", incident_id=incident.id, _anchor="evidence"), 303)


@bp.get("/laporan/<int:incident_id>/bukti/<int:evidence_id>.jpg")
@allow(*CONSOLE_ROLES)
def evidence_file(incident_id: int, evidence_id: int) -> ResponseReturnValue:
    item = db.session.get(IncidentEvidence, evidence_id)
    if item is None or item.incident_id != incident_id:
        abort(404)
    path = evidence_store.evidence_file(_settings().media_path, item)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=item.content_type, max_age=0, conditional=True,
                         last_modified=item.saved_at.replace(tzinfo=dt.UTC) if item.saved_at.tzinfo is None
                         else item.saved_at)
    response.headers["Cache-Control"] = "private, no-store"
    return response
