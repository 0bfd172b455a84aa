"""Admins issue and revoke agencies' API tokens (``/admin/instansi-api``); a token is shown once, on the answer
to the issuing request, and never again (only its hash is stored). Every issue and revoke is audited."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from portal.agency import tokens
from portal.agency.forms import TokenForm
from portal.auth.policy import allow
from portal.footage.forms import EmptyForm
from portal.models import Agency, AgencyToken, db
from portal.models.audit import record

bp = Blueprint("agency_admin", __name__, url_prefix="/admin/instansi-api")


def _page(issued: tuple[AgencyToken, str] | None = None, status: int = 200) -> ResponseReturnValue:
    agencies = db.session.scalars(select(Agency).order_by(Agency.name)).all()
    rows = db.session.scalars(select(AgencyToken).order_by(AgencyToken.agency_id, AgencyToken.id.desc())).all()
    by_agency: dict[int, list[AgencyToken]] = {}
    for row in rows:
        by_agency.setdefault(row.agency_id, []).append(row)
    response = make_response(render_template("agency/admin_tokens.html", agencies=agencies, by_agency=by_agency,
                                              form=TokenForm(), revoke_form=EmptyForm(), issued=issued), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@allow("admin")
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/")
@allow("admin")
def issue() -> ResponseReturnValue:
    form = TokenForm()
    if not form.validate_on_submit() or not (form.agency.data or "").isdigit():
        flash(gettext("Give the system a name (1 to 80 characters)."))
        return _page(status=400)
    agency = db.session.get(Agency, int(form.agency.data or 0))
    if agency is None:
        abort(404)
    row, token = tokens.issue(agency, form.name.data or "", created_by_id=current_user.id)
    record("agency.token_issued", target_type="agency_token", target_id=row.id, agency_id=agency.id,
           agency=agency.code, name=row.name, hint=row.hint)
    db.session.commit()
    return _page(issued=(row, token))


@bp.post("/<int:token_id>/cabut")
@allow("admin")
def revoke(token_id: int) -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():
        abort(400)
    row = db.session.get(AgencyToken, token_id)
    if row is None:
        abort(404)
    if tokens.revoke(row):
        record("agency.token_revoked", target_type="agency_token", target_id=row.id, agency_id=row.agency_id,
               name=row.name, hint=row.hint)
        db.session.commit()
        flash(gettext("Token %(name)s revoked.", name=row.name))
    return redirect(url_for("agency_admin.index"), 303)
