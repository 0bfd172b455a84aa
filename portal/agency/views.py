"""The agency page (``/instansi``): an agency's own dispatches, live, and each dispatch's page where its staff
acknowledge, go en route, arrive, finish, or hand it back with a reason. Agency users only, own agency only:
another agency's dispatch is 404, as if it did not exist."""

from __future__ import annotations

from typing import Any

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
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.agency import presenting, service
from portal.agency.forms import StatusForm
from portal.auth.policy import allow
from portal.auth.scope import may_see, own_agency_id, scoped
from portal.models import Agency, Dispatch, Incident, IncidentEvidence, db
from portal.models.audit import record

bp = Blueprint("agency", __name__, url_prefix="/instansi")
AGENCY = ("agency",)
LIST_LIMIT = 200
OPEN_FIRST = {"pending": 0, "sent": 0, "acknowledged": 1, "en_route": 2, "on_scene": 3}


def is_fragment() -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def page_or_fragment(page: str, fragment: str, status: int = 200, **context: Any) -> Response:
    response = make_response(render_template(fragment if is_fragment() else page, **context), status)
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _agency() -> Agency | None:
    agency_id = own_agency_id()
    return db.session.get(Agency, agency_id) if agency_id and agency_id > 0 else None


def _own_dispatch(dispatch_id: int, *, lock: bool = False) -> Dispatch:
    dispatch = db.session.get(Dispatch, dispatch_id, with_for_update=lock or None)
    if dispatch is None or not may_see(dispatch.agency_id):
        abort(404)
    return dispatch


@bp.get("/")
@allow(*AGENCY)
def index() -> ResponseReturnValue:
    closed = request.args.get("tampil") == "selesai"
    wanted = service.CLOSED_STATUSES if closed else service.OPEN_STATUSES
    query = scoped(select(Dispatch, Incident).join(Incident, Incident.id == Dispatch.incident_id)
                   .where(or_(*(Dispatch.status == s for s in wanted))), Dispatch.agency_id)
    query = query.order_by(Incident.priority, Dispatch.created_at.desc() if closed else Dispatch.created_at,
                           Dispatch.id).limit(LIST_LIMIT)
    rows = db.session.execute(query).all()
    if not closed:  # new ones first, then by how far they are, oldest first within each
        rows = sorted(rows, key=lambda r: (OPEN_FIRST.get(r[0].status, 9), r[1].priority, r[0].created_at))
    counts = dict(db.session.execute(scoped(select(Dispatch.status, func.count()).group_by(Dispatch.status),
                                            Dispatch.agency_id)).all())
    waiting = counts.get("pending", 0) + counts.get("sent", 0)
    return page_or_fragment("agency/index.html", "agency/_dispatches.html", rows=rows, closed=closed,
                            waiting=waiting, agency=_agency(), label=service.label,
                            category_label=presenting.category_label)


def _context(dispatch: Dispatch, form: StatusForm | None = None) -> dict[str, Any]:
    incident = db.session.get(Incident, dispatch.incident_id)
    settings = current_app.config["PANTAU"]
    return {
        "dispatch": dispatch, "incident": incident, "agency": _agency(), "form": form or StatusForm(),
        "steps": presenting.timeline(incident, dispatch.agency_id) if incident else [],
        "photos": presenting.photos(incident, dispatch) if incident else [], "allowed": service.allowed_next(dispatch),
        "label": service.label, "category_label": presenting.category_label,
        "cap_identifier": presenting.cap_identifier(dispatch), "settings": settings,
    }


@bp.get("/<int:dispatch_id>")
@allow(*AGENCY)
def dispatch(dispatch_id: int) -> ResponseReturnValue:
    found = _own_dispatch(dispatch_id)
    return page_or_fragment("agency/dispatch.html", "agency/_live.html", **_context(found))


@bp.post("/<int:dispatch_id>/status")
@allow(*AGENCY)
def change_status(dispatch_id: int) -> ResponseReturnValue:
    found = _own_dispatch(dispatch_id, lock=True)
    form = StatusForm()
    if not form.validate_on_submit():
        db.session.rollback()
        problems = [e for errors in form.errors.values() for e in errors]
        flash(gettext("Not saved: %(problem)s", problem=problems[0] if problems else "?"))
        return page_or_fragment("agency/dispatch.html", "agency/_live.html", 400, **_context(found, form))
    status = form.status.data or ""
    before = found.status
    try:
        service.advance(found, status, actor_user_id=current_user.id, reason=form.reason.data or "", via="web")
    except service.TransitionError as exc:
        db.session.rollback()
        found = _own_dispatch(dispatch_id)
        flash(exc.message)
        return page_or_fragment("agency/dispatch.html", "agency/_live.html", exc.status, **_context(found, form))
    record("agency.dispatch_status", target_type="dispatch", target_id=found.id, before=before, after=found.status,
           incident_id=found.incident_id)
    db.session.commit()
    flash(gettext("Saved: %(status)s.", status=service.label(found.status)))
    if is_fragment():
        return page_or_fragment("agency/dispatch.html", "agency/_live.html", **_context(found))
    return redirect(url_for("agency.dispatch", dispatch_id=found.id), 303)


@bp.get("/<int:dispatch_id>/bukti/<int:evidence_id>.jpg")
@allow(*AGENCY)
def evidence(dispatch_id: int, evidence_id: int) -> ResponseReturnValue:
    """A camera snapshot the command centre saved to the report (only through the agency's own dispatch)."""
    from portal.console.evidence import evidence_file

    found = _own_dispatch(dispatch_id)
    item = db.session.get(IncidentEvidence, evidence_id)
    if item is None or item.incident_id != found.incident_id:
        abort(404)
    path = evidence_file(current_app.config["PANTAU"].media_path, item)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=item.content_type, max_age=0, conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response
