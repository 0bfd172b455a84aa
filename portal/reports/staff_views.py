"""Staff pages of the reports area: a report's photos, and the blocklist operators manage (every change
audited)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from portal.auth.policy import allow
from portal.models import db
from portal.models.audit import record
from portal.models.base import utcnow
from portal.models.incident import Dispatch, Incident
from portal.models.report import ReportBlock, ReportOrigin, ReportPhoto
from portal.reports import labels, photos
from portal.reports.forms import BlockForm
from portal.reports.service import normalise_phone

bp = Blueprint("reports_staff", __name__)


@bp.get("/laporan/foto/<int:photo_id>")
@allow("operator", "admin", "agency")
def photo(photo_id: int) -> ResponseReturnValue:
    found = db.session.get(ReportPhoto, photo_id)
    if found is None:
        abort(404)
    if current_user.role == "agency":  # only a report dispatched to their agency
        held = db.session.scalar(select(Dispatch.id).where(Dispatch.incident_id == found.incident_id,
                                                           Dispatch.agency_id == current_user.agency_id))
        if held is None or current_user.agency_id is None:
            abort(404)
    path = photos.path_of(found)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=found.content_type, max_age=0, conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _value(form: BlockForm) -> tuple[str, str | None]:
    """The entry's value from the form (typed, or taken from a report); the error message when it is wrong."""
    if form.incident_id.data:
        raw = str(form.incident_id.data)
        origin = db.session.get(ReportOrigin, int(raw)) if raw.isdigit() and len(raw) < 10 else None
        if origin is None:
            return "", gettext("That report does not exist.")
        value = origin.phone if form.kind.data == "phone" else origin.remote_addr
        if not value:
            return "", gettext("That report has no phone number or address to block.")
        return value, None
    raw = (form.value.data or "").strip()
    if form.kind.data == "phone":
        try:
            return normalise_phone(raw), None
        except ValueError:
            return "", gettext("Enter an Indonesian phone number, e.g. 0812 3456 7890.")
    try:
        network = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        return "", gettext("Enter an IP address (e.g. 203.0.113.7) or a range (e.g. 203.0.113.0/24).")
    if network.num_addresses > 65536:
        return "", gettext("That range is too wide (at most 65,536 addresses).")
    return (str(network.network_address) if network.num_addresses == 1 else str(network)), None


@bp.route("/operator/blokir", methods=["GET", "POST"])
@allow("operator", "admin")
def blocklist() -> ResponseReturnValue:
    form = BlockForm()
    status = 200
    if request.method == "GET":
        raw = request.args.get("laporan", "")[:10]
        if raw.isdigit():
            form.incident_id.data = raw
            form.kind.data = request.args.get("jenis", "phone") if request.args.get("jenis") in labels.BLOCK_KIND \
                else "phone"
    elif form.validate_on_submit():
        value, error = _value(form)
        if error:
            form.value.errors = [error]
            status = 400
        else:
            days = form.days.data
            block = ReportBlock(kind=form.kind.data, value=value, action=form.action.data,
                                reason=(form.reason.data or "").strip(), created_by_id=current_user.id,
                                expires_at=utcnow() + dt.timedelta(days=days) if days else None)
            db.session.add(block)
            db.session.flush()
            record("report_block.add", target_type="report_block", target_id=block.id, after=block.as_audit(),
                   from_incident=int(form.incident_id.data) if str(form.incident_id.data or "").isdigit() else None)
            db.session.commit()
            flash(gettext("Added to the blocklist."))
            return redirect(url_for("reports_staff.blocklist"), 303)
    else:
        status = 400
    blocks = db.session.scalars(select(ReportBlock).order_by(ReportBlock.active.desc(), ReportBlock.id.desc())
                                .limit(500)).all()
    source: Any = None
    if form.incident_id.data and str(form.incident_id.data).isdigit():
        source = db.session.get(Incident, int(form.incident_id.data))
    page = render_template("reports/blocklist.html", form=form, blocks=blocks, labels=labels, source=source,
                           now=utcnow())
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/operator/blokir/<int:block_id>/cabut")
@allow("operator", "admin")
def lift(block_id: int) -> ResponseReturnValue:
    block = db.session.get(ReportBlock, block_id)
    if block is None:
        abort(404)
    if block.active:
        before = block.as_audit()
        block.active = False
        record("report_block.lift", target_type="report_block", target_id=block.id, before=before,
               after=block.as_audit())
        db.session.commit()
        flash(gettext("Lifted: their reports are accepted again."))
    return redirect(url_for("reports_staff.blocklist"), 303)
