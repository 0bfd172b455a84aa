"""The admin's side of footage: decide requests (never one's own), try failed exports again, see and release
holds (with a reason), see residents' requests and how much storage the holds keep."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import case, select

from portal.auth.policy import allow
from portal.footage import exports, holds
from portal.footage.forms import DecisionForm, EmptyForm, ReleaseForm
from portal.footage.people import audit_fields, signed_in
from portal.footage.views import page_or_fragment
from portal.models import FootageRequest, LegalHold, ResidentHoldRequest, db, utcnow
from portal.models.footage import REQUEST_STATUSES, RequestStatus

bp = Blueprint("footage_admin", __name__, url_prefix="/admin/rekaman")
ADMIN = ("admin",)


def _message(code: str) -> str:
    return {
        "own_request": gettext("Nobody decides their own request: another admin must."),
        "not_pending": gettext("This request was decided already."),
        "not_failed": gettext("Only a failed request can be tried again."),
    }.get(code, code)


@bp.get("/")
@allow(*ADMIN)
def index() -> ResponseReturnValue:
    wanted = request.args.get("status", "")
    query = select(FootageRequest)
    if wanted in REQUEST_STATUSES:
        query = query.where(FootageRequest.status == wanted)
    pending_first = case((FootageRequest.status == RequestStatus.PENDING.value, 0), else_=1)
    rows = db.session.scalars(query.order_by(pending_first, FootageRequest.created_at.desc()).limit(300)).all()
    return render_template("footage/admin/index.html", requests=rows, statuses=REQUEST_STATUSES, wanted=wanted,
                           storage=holds.storage())


def _request(request_id: int) -> FootageRequest:
    found = db.session.get(FootageRequest, request_id)
    if found is None:
        abort(404)
    return found


@bp.get("/<int:request_id>")
@allow(*ADMIN)
def request_page(request_id: int) -> ResponseReturnValue:
    found = _request(request_id)
    return page_or_fragment("footage/admin/request.html", "footage/_request_status.html", req=found,
                            form=DecisionForm(), retry_form=EmptyForm(), me=signed_in(), now=utcnow(),
                            R=RequestStatus, link=None, admin=True)


@bp.post("/<int:request_id>/putuskan")
@allow(*ADMIN)
def decide(request_id: int) -> ResponseReturnValue:
    found = _request(request_id)
    admin = signed_in()
    form = DecisionForm()
    verdict = request.form.get("verdict")
    if verdict not in ("approve", "reject") or not form.validate_on_submit():
        return render_template("footage/admin/request.html", req=found, form=form, retry_form=EmptyForm(), me=admin,
                               now=utcnow(), R=RequestStatus, link=None, admin=True), 400
    act = exports.approve if verdict == "approve" else exports.reject
    try:
        act(found, admin, form.note.data, utcnow(), **audit_fields(admin))
    except exports.DecisionError as exc:
        db.session.rollback()
        form.note.errors = [_message(exc.code)]
        return render_template("footage/admin/request.html", req=found, form=form, retry_form=EmptyForm(),
                               me=admin, now=utcnow(), R=RequestStatus, link=None, admin=True), 409
    db.session.commit()
    flash(gettext("Approved: the export is on its way.") if verdict == "approve" else
          gettext("Rejected: the requester is told and the holds are released."), "success")
    return redirect(url_for("footage_admin.request_page", request_id=found.id), 303)


@bp.post("/<int:request_id>/ulangi")
@allow(*ADMIN)
def retry(request_id: int) -> ResponseReturnValue:
    found = _request(request_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        exports.retry(found, utcnow(), **audit_fields())
    except exports.DecisionError as exc:
        db.session.rollback()
        flash(_message(exc.code), "error")
        return redirect(url_for("footage_admin.request_page", request_id=found.id), 303)
    db.session.commit()
    flash(gettext("The failed exports are queued again."), "success")
    return redirect(url_for("footage_admin.request_page", request_id=found.id), 303)


@bp.get("/tahanan")
@allow(*ADMIN)
def hold_list() -> ResponseReturnValue:
    show_released = request.args.get("semua") == "1"
    query = select(LegalHold).order_by(LegalHold.released_at.is_not(None), LegalHold.created_at.desc())
    if not show_released:
        query = query.where(holds.active())
    rows = db.session.scalars(query.limit(500)).all()
    return render_template("footage/admin/holds.html", holds=rows, storage=holds.storage(), form=ReleaseForm(),
                           show_released=show_released)


@bp.post("/tahanan/<int:hold_id>/lepas")
@allow(*ADMIN)
def release_hold(hold_id: int) -> ResponseReturnValue:
    hold = db.session.get(LegalHold, hold_id)
    if hold is None:
        abort(404)
    form = ReleaseForm()
    if not form.validate_on_submit():
        flash(" ".join(str(e) for e in form.reason.errors) or gettext("Say why the hold is released."), "error")
        return redirect(url_for("footage_admin.hold_list"), 303)
    admin = signed_in()
    holds.release(hold, utcnow(), reason=form.reason.data, by_user_id=admin.id, **audit_fields(admin))
    db.session.commit()
    flash(gettext("The hold was released."), "success")
    return redirect(url_for("footage_admin.hold_list"), 303)


@bp.get("/warga")
@allow(*ADMIN)
def residents() -> ResponseReturnValue:
    rows = db.session.scalars(select(ResidentHoldRequest).order_by(ResidentHoldRequest.created_at.desc())
                              .limit(300)).all()
    return render_template("footage/admin/residents.html", residents=rows, now=utcnow())
