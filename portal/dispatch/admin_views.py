"""Admin pages for dispatch (admin role): routing rules (category, optional district, agency, SLA minutes), each
agency's delivery settings (webhook URL and its shared secret, shown once; CAP endpoint and address; e-mail),
the escalation contacts, and the outbox's state. Every change is audited; every input bounded. The routes join
the console's blueprint (``/admin/penugasan/...``) so they appear in its navigation."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.admin.blueprint import ADMIN, bp
from portal.auth.policy import allow
from portal.dispatch import sealing
from portal.models import Agency, EscalationContact, OutboxMessage, RoutingRule, db
from portal.models.audit import record
from portal.models.incident import INCIDENT_CATEGORIES
from portal.secret import redact_url

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@127\.\d+\.\d+\.\d+$")
CAP_ADDRESS = re.compile(r"^[^\s<>&\"]{1,200}$")
PHONE = re.compile(r"^[0-9+() -]{3,40}$")
MAX_RULES = 500
MAX_CONTACTS = 200
CATEGORY_LABELS = {
    "fire": _l("Fire"), "accident": _l("Accident"), "brawl": _l("Brawl"), "crime": _l("Crime"),
    "missing_person": _l("Missing person"), "disaster": _l("Disaster"), "medical": _l("Medical emergency"),
    "city_problem": _l("City problem"), "other": _l("Other"),
}
LEVEL_LABELS = {1: _l("Command centre supervisor"), 2: _l("Officials for the category")}


def _text(name: str, limit: int) -> str:
    return " ".join((request.form.get(name) or "").split())[:limit + 1]


def _int(name: str, low: int, high: int, errors: dict[str, str], default: int | None = None) -> int:
    raw = (request.form.get(name) or "").strip()
    if not raw and default is not None:
        return default
    if not raw.isdigit() or len(raw) > 6 or not low <= int(raw) <= high:
        errors[name] = gettext("a whole number from %(low)d to %(high)d", low=low, high=high)
        return low
    return int(raw)


def _url(name: str, errors: dict[str, str]) -> str | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    if len(raw) > 2000 or any(c.isspace() for c in raw) or not raw.isascii():
        errors[name] = gettext("is not a web address")
        return None
    parts = urlsplit(raw)
    production = current_app.config["PANTAU"].env == "production"
    if parts.scheme not in (("https",) if production else ("http", "https")) or not parts.hostname:
        errors[name] = gettext("must start with https://") if production else gettext("is not a web address")
    elif parts.username or parts.password:
        errors[name] = gettext("may not hold a user name or password (the shared secret signs each message)")
    return raw


def _email(name: str, errors: dict[str, str], *, required: bool = False) -> str:
    value = (request.form.get(name) or "").strip()
    if not value:
        if required:
            errors[name] = gettext("is required")
        return ""
    if len(value) > 200 or not EMAIL.match(value):
        errors[name] = gettext("is not an e-mail address")
    return value[:200]


def _agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).order_by(Agency.name)))


# --- routing rules -------------------------------------------------------------------------------------------

@bp.route("/penugasan/aturan", methods=["GET", "POST"])
@allow(*ADMIN)
def dispatch_rules() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        category = request.form.get("category", "")
        if category not in INCIDENT_CATEGORIES:
            errors["category"] = gettext("choose one of the list")
        district = _text("district", 80)
        if len(district) > 80:
            errors["district"] = gettext("at most %(n)d characters", n=80)
        agency_raw = request.form.get("agency", "")
        agency = db.session.get(Agency, int(agency_raw)) if agency_raw.isdigit() and len(agency_raw) < 10 else None
        if agency is None:
            errors["agency"] = gettext("choose one of the list")
        sla = _int("sla_minutes", 1, 1440, errors)
        priority = _int("priority", 1, 1000, errors, default=100)
        if (db.session.scalar(select(func.count()).select_from(RoutingRule)) or 0) >= MAX_RULES:
            errors["category"] = gettext("at most %(n)d rules", n=MAX_RULES)
        if not errors and agency is not None and db.session.scalar(select(RoutingRule).where(
                RoutingRule.category == category, RoutingRule.agency_id == agency.id,
                func.coalesce(RoutingRule.district, "") == district)):
            errors["agency"] = gettext("this agency has a rule for this category and district already")
        if not errors and agency is not None:
            rule = RoutingRule(category=category, district=district or None, agency_id=agency.id, sla_minutes=sla,
                               priority=priority, active=True)
            db.session.add(rule)
            db.session.flush()
            record("dispatch.rule.create", target_type="routing_rule", target_id=rule.id, category=category,
                   district=district, agency=agency.code, sla_minutes=sla, priority=priority)
            db.session.commit()
            flash(gettext("The rule was added."))
            return redirect(url_for("admin.dispatch_rules"))
    rules = db.session.scalars(select(RoutingRule).order_by(RoutingRule.category, RoutingRule.priority,
                                                            RoutingRule.id).limit(MAX_RULES)).all()
    names = {a.id: a for a in _agencies()}
    return render_template("dispatch/rules.html", rules=rules, agencies=names, errors=errors, form=request.form,
                           categories=CATEGORY_LABELS), 400 if errors else 200


@bp.post("/penugasan/aturan/<int:rule_id>")
@allow(*ADMIN)
def dispatch_rule_change(rule_id: int) -> ResponseReturnValue:
    rule = db.session.get(RoutingRule, rule_id)
    if rule is None:
        abort(404)
    action = request.form.get("action", "")
    if action == "delete":
        record("dispatch.rule.delete", target_type="routing_rule", target_id=rule.id, category=rule.category,
               district=rule.district or "", agency_id=rule.agency_id)
        db.session.delete(rule)
    elif action in ("activate", "deactivate"):
        rule.active = action == "activate"
        record("dispatch.rule.update", target_type="routing_rule", target_id=rule.id, active=rule.active)
    elif action == "sla":
        errors: dict[str, str] = {}
        sla = _int("sla_minutes", 1, 1440, errors)
        if errors:
            abort(400, errors["sla_minutes"])
        record("dispatch.rule.update", target_type="routing_rule", target_id=rule.id,
               changes={"sla_minutes": [rule.sla_minutes, sla]})
        rule.sla_minutes = sla
    else:
        abort(400)
    db.session.commit()
    flash(gettext("The rule was saved."))
    return redirect(url_for("admin.dispatch_rules"))


# --- agencies' delivery settings --------------------------------------------------------------------------

def _outbox_counts() -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    for agency_id, status, n in db.session.execute(
            select(OutboxMessage.agency_id, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.agency_id, OutboxMessage.status)):
        if agency_id is not None:
            counts.setdefault(agency_id, {})[status] = n
    return counts


@bp.get("/penugasan/instansi")
@allow(*ADMIN)
def dispatch_agencies() -> ResponseReturnValue:
    return render_template("dispatch/agencies.html", agencies=_agencies(), counts=_outbox_counts())


def _show_secret(agency: Agency, secret: str) -> ResponseReturnValue:
    response = make_response(render_template("dispatch/agency_secret.html", agency=agency, secret=secret))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/penugasan/instansi/<int:agency_id>", methods=["GET", "POST"])
@allow(*ADMIN)
def dispatch_agency(agency_id: int) -> ResponseReturnValue:
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        abort(404)
    errors: dict[str, str] = {}
    key = current_app.config["PANTAU"].secret_key
    if request.method == "POST":
        if request.form.get("action") == "rotate_secret":
            secret = sealing.new_secret()
            agency.webhook_secret = sealing.seal(secret, key)
            record("dispatch.agency.secret", target_type="agency", target_id=agency.id, rotated=True)
            db.session.commit()
            return _show_secret(agency, secret)
        webhook_url = _url("webhook_url", errors)
        cap_url = _url("cap_url", errors)
        email = _email("email", errors)
        cap_address = (request.form.get("cap_address") or "").strip()
        if cap_address and not CAP_ADDRESS.match(cap_address):
            errors["cap_address"] = gettext("1 to 200 characters without spaces, quotes, < or &")
        if not errors:
            fields = ("webhook_url", "cap_url", "cap_address", "email")
            before = {k: redact_url(getattr(agency, k) or "") for k in fields}
            agency.webhook_url, agency.cap_url = webhook_url, cap_url
            agency.cap_address, agency.email = cap_address, email
            after = {k: redact_url(getattr(agency, k) or "") for k in fields}
            made = None
            if (webhook_url or cap_url) and not agency.webhook_secret:
                made = sealing.new_secret()
                agency.webhook_secret = sealing.seal(made, key)
            record("dispatch.agency.delivery", target_type="agency", target_id=agency.id,
                   changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
                   secret_made=made is not None)
            db.session.commit()
            if made:
                return _show_secret(agency, made)
            flash(gettext("Delivery settings of %(name)s were saved.", name=agency.name))
            return redirect(url_for("admin.dispatch_agencies"))
        db.session.rollback()
    return render_template("dispatch/agency.html", agency=agency, errors=errors, form=request.form,
                           has_secret=bool(agency.webhook_secret),
                           recent=db.session.scalars(select(OutboxMessage).where(OutboxMessage.agency_id == agency.id)
                                                     .order_by(OutboxMessage.id.desc()).limit(20)).all()
                           ), 400 if errors else 200


@bp.post("/penugasan/instansi/<int:agency_id>/ulangi")
@allow(*ADMIN)
def dispatch_agency_retry(agency_id: int) -> ResponseReturnValue:
    """Send the agency's given-up messages again (after its endpoint was fixed)."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        abort(404)
    failed = db.session.scalars(select(OutboxMessage).where(OutboxMessage.agency_id == agency.id,
                                                            OutboxMessage.status == "failed").limit(1000)).all()
    from portal.models.base import utcnow

    for row in failed:
        row.status, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
    record("dispatch.agency.retry", target_type="agency", target_id=agency.id, messages=len(failed))
    db.session.commit()
    flash(gettext("%(n)d messages will be sent again.", n=len(failed)))
    return redirect(url_for("admin.dispatch_agency", agency_id=agency.id))


# --- escalation contacts ------------------------------------------------------------------------------------

@bp.route("/penugasan/eskalasi", methods=["GET", "POST"])
@allow(*ADMIN)
def dispatch_escalation() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        level = _int("level", 1, 2, errors)
        category = request.form.get("category", "")
        if category and category not in INCIDENT_CATEGORIES:
            errors["category"] = gettext("choose one of the list")
        name, title = _text("name", 200), _text("title", 200)
        if not name:
            errors["name"] = gettext("is required")
        for field, value in (("name", name), ("title", title)):
            if len(value) > 200:
                errors[field] = gettext("at most %(n)d characters", n=200)
        email = _email("email", errors, required=True)
        phone = (request.form.get("phone") or "").strip()
        if phone and not PHONE.match(phone):
            errors["phone"] = gettext("may hold digits, spaces, +, - and brackets only")
        if (db.session.scalar(select(func.count()).select_from(EscalationContact)) or 0) >= MAX_CONTACTS:
            errors["name"] = gettext("at most %(n)d contacts", n=MAX_CONTACTS)
        if not errors:
            contact = EscalationContact(level=level, category=category, name=name, title=title, email=email,
                                        phone=phone[:40], active=True)
            db.session.add(contact)
            db.session.flush()
            record("dispatch.escalation.create", target_type="escalation_contact", target_id=contact.id,
                   level=level, category=category, name=name, title=title)
            db.session.commit()
            flash(gettext("%(name)s was added.", name=name))
            return redirect(url_for("admin.dispatch_escalation"))
    contacts = db.session.scalars(select(EscalationContact).order_by(EscalationContact.level,
                                                                     EscalationContact.category,
                                                                     EscalationContact.id).limit(MAX_CONTACTS)).all()
    return render_template("dispatch/escalation.html", contacts=contacts, errors=errors, form=request.form,
                           categories=CATEGORY_LABELS, levels=LEVEL_LABELS), 400 if errors else 200


@bp.post("/penugasan/eskalasi/<int:contact_id>")
@allow(*ADMIN)
def dispatch_escalation_change(contact_id: int) -> ResponseReturnValue:
    contact = db.session.get(EscalationContact, contact_id)
    if contact is None:
        abort(404)
    action = request.form.get("action", "")
    detail: dict[str, Any] = {"name": contact.name}
    if action == "delete":
        record("dispatch.escalation.delete", target_type="escalation_contact", target_id=contact.id, **detail)
        db.session.delete(contact)
    elif action in ("activate", "deactivate"):
        contact.active = action == "activate"
        record("dispatch.escalation.update", target_type="escalation_contact", target_id=contact.id,
               active=contact.active, **detail)
    else:
        abort(400)
    db.session.commit()
    flash(gettext("The contact was saved."))
    return redirect(url_for("admin.dispatch_escalation"))
