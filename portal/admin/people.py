"""Users and agencies, for admins: a user's role, agency and active flag, a new password or second factor;
an agency's name, kind and contacts. Every change goes through ``portal.auth.accounts`` (audited there)."""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from portal.admin.blueprint import ADMIN, bp
from portal.auth.accounts import (
    ROLE_LABELS,
    AccountError,
    account_message,
    create_user,
    reset_password,
    reset_second_factor,
    temporary_password,
    update_user,
)
from portal.auth.policy import allow
from portal.models import Agency, User, db
from portal.models.audit import record
from portal.models.people import AGENCY_KINDS, ROLES

KIND_LABELS = {
    "police": _l("Police"), "fire": _l("Fire brigade (Damkar)"), "health": _l("Health (Dinkes)"),
    "search_rescue": _l("Search and rescue (Basarnas)"), "disaster": _l("Disaster management (BPBD)"),
    "electricity": _l("Electricity (PLN)"), "public_order": _l("Public order (Satpol PP)"),
    "transport": _l("Transport (Dishub)"), "other": _l("Other"),
}
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,39}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).order_by(Agency.name)))


def _agency_from_form() -> Agency | None:
    value = request.form.get("agency", "")
    return db.session.get(Agency, int(value)) if value.isdigit() else None


@bp.get("/pengguna")
@allow(*ADMIN)
def users() -> ResponseReturnValue:
    q = " ".join(request.args.get("q", "").split())[:80].lower()
    role = request.args.get("role", "")
    query = select(User).order_by(User.username)
    if q:
        query = query.where(or_(func.lower(User.username).like(f"%{q}%"), func.lower(User.full_name).like(f"%{q}%")))
    if role in ROLES:
        query = query.where(User.role == role)
    return render_template("admin/users.html", users=db.session.scalars(query).all(), q=q, role=role,
                           role_labels=ROLE_LABELS)


@bp.route("/pengguna/baru", methods=["GET", "POST"])
@allow(*ADMIN)
def user_new() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        password = temporary_password()
        try:
            user = create_user(request.form.get("username", ""), role=request.form.get("role", ""),
                               password=password, full_name=request.form.get("full_name", ""),
                               email=request.form.get("email", ""), agency=_agency_from_form(),
                               must_change_password=True)
        except AccountError as exc:
            db.session.rollback()
            errors[exc.field] = account_message(exc)
        else:
            db.session.commit()
            return render_template("admin/user_password.html", user=user, password=password, created=True)
    return render_template("admin/user_form.html", user=None, agencies=_agencies(), errors=errors, roles=ROLES,
                           role_labels=ROLE_LABELS, form=request.form), 400 if errors else 200


@bp.route("/pengguna/<int:user_id>", methods=["GET", "POST"])
@allow(*ADMIN)
def user_edit(user_id: int) -> ResponseReturnValue:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.form.get("action", "save")
        if action == "reset_password":
            password = reset_password(user, must_change=True)
            db.session.commit()
            return render_template("admin/user_password.html", user=user, password=password, created=False)
        if action == "reset_second_factor":
            reset_second_factor(user)
            db.session.commit()
            flash(gettext("%(name)s will set up a new second factor at the next sign-in.", name=user.username))
            return redirect(url_for("admin.user_edit", user_id=user.id))
        try:
            update_user(user, {"role": request.form.get("role", user.role), "agency": _agency_from_form(),
                               "full_name": request.form.get("full_name", ""),
                               "email": request.form.get("email", ""),
                               "active": request.form.get("active") == "1"})
        except AccountError as exc:
            db.session.rollback()
            errors[exc.field] = account_message(exc)
        else:
            db.session.commit()
            flash(gettext("%(name)s was saved.", name=user.username))
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", user=user, agencies=_agencies(), errors=errors, roles=ROLES,
                           role_labels=ROLE_LABELS, form=request.form), 400 if errors else 200


@bp.get("/instansi")
@allow(*ADMIN)
def agencies() -> ResponseReturnValue:
    return render_template("admin/agencies.html", agencies=_agencies(), kinds=KIND_LABELS)


def _agency_errors(agency: Agency, creating: bool) -> dict[str, str]:
    form = request.form
    errors: dict[str, str] = {}
    if creating:
        code = form.get("code", "").strip().lower()
        if not CODE.match(code):
            errors["code"] = gettext("2 to 40 lowercase letters, digits, dashes or underscores")
        elif db.session.scalar(select(Agency).where(Agency.code == code)):
            errors["code"] = gettext("is taken already")
        agency.code = code
    name = " ".join(form.get("name", "").split())[:200]
    if not name:
        errors["name"] = gettext("is required")
    kind = form.get("kind", "other")
    if kind not in AGENCY_KINDS:
        errors["kind"] = gettext("choose one of the list")
    email = form.get("email", "").strip()[:200]
    if email and not EMAIL.match(email):
        errors["email"] = gettext("is not an e-mail address")
    phone = form.get("phone", "").strip()[:40]
    if phone and not re.match(r"^[0-9+() -]{3,40}$", phone):
        errors["phone"] = gettext("may hold digits, spaces, +, - and brackets only")
    agency.name, agency.kind, agency.email, agency.phone = name, kind, email, phone
    agency.active = form.get("active") == "1" if not creating else True
    return errors


@bp.route("/instansi/baru", methods=["GET", "POST"])
@bp.route("/instansi/<int:agency_id>", methods=["GET", "POST"])
@allow(*ADMIN)
def agency_edit(agency_id: int | None = None) -> ResponseReturnValue:
    agency = db.session.get(Agency, agency_id) if agency_id is not None else Agency(kind="other", active=True)
    if agency is None:
        abort(404)
    creating = agency_id is None
    errors: dict[str, str] = {}
    if request.method == "POST":
        before = {k: getattr(agency, k) for k in ("code", "name", "kind", "phone", "email", "active")}
        errors = _agency_errors(agency, creating)
        if not errors:
            if creating:
                db.session.add(agency)
            db.session.flush()
            after = {k: getattr(agency, k) for k in before}
            record("agency.create" if creating else "agency.update", target_type="agency", target_id=agency.id,
                   changes={k: [before[k], after[k]] for k in before if before[k] != after[k]})
            db.session.commit()
            flash(gettext("Agency %(name)s was saved.", name=agency.name))
            return redirect(url_for("admin.agencies"))
        db.session.rollback()
    return render_template("admin/agency_form.html", agency=agency, creating=creating, errors=errors,
                           kinds=KIND_LABELS), 400 if errors else 200
