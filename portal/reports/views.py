"""Public report pages: ``/lapor`` (the form; also answers the offline queue in JSON), ``/lacak`` (type a
code) and ``/lacak/<code>`` (the report's progress, polled by htmx), and the web app's manifest and service
worker."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from portal.auth.policy import PUBLIC, allow
from portal.incidents.codes import normalise
from portal.models import db
from portal.models.incident import Incident
from portal.reports import labels, tracking
from portal.reports.forms import ReportForm
from portal.reports.service import ReportRejected, city_area, create_report

bp = Blueprint("reports", __name__)
MIN_FILL_SECONDS = 3  # a person takes longer than this to fill the form; a robot does not
FIELDS = ("category", "description", "address", "reporter_name", "reporter_phone", "location", "latitude",
          "longitude", "photos")


def _settings() -> Any:
    return current_app.config["PANTAU"]


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _flags(form: ReportForm) -> list[str]:
    flags = []
    if (request.form.get("website") or "").strip():
        flags.append("honeypot")
    started = (request.form.get("started") or "")[:20]
    if started.isdigit() and 0 <= time.time() - int(started) < MIN_FILL_SECONDS:
        flags.append("too_fast")
    return flags


def _form_page(form: ReportForm, errors: dict[str, str], status: int) -> ResponseReturnValue:
    settings = _settings()
    area = [[lat, lon] for lon, lat in city_area()]
    page = render_template("reports/report.html", form=form, errors=errors, area=area, now=int(time.time()),
                           max_photos=settings.report_max_photos,
                           photo_mb=settings.report_photo_max_bytes // (1024 * 1024))
    return _private(current_app.make_response((page, status)))


def _refused(form: ReportForm, message: str, field: str | None, status: int) -> ResponseReturnValue:
    if _wants_json():
        body = {"error": "rejected", "message": message, "field": field}
        return _private(current_app.make_response((jsonify(body), status)))
    return _form_page(form, {field or "form": message}, status)


@bp.route("/lapor", methods=["GET", "POST"])
@allow(PUBLIC)
def report() -> ResponseReturnValue:
    if request.method == "GET":
        form = ReportForm()
        form.category.data = request.args.get("kategori", "")[:32]
        form.started.data = str(int(time.time()))
        return _form_page(form, {}, 200)
    try:
        form = ReportForm()
        files = request.files.getlist("photos")
        valid = form.validate_on_submit()
    except RequestEntityTooLarge:
        form = ReportForm(formdata=None)
        mb = _settings().report_photo_max_bytes // (1024 * 1024)
        return _refused(form, gettext("The photos are too large: at most %(count)d photos of %(mb)d MB each.",
                                      count=_settings().report_max_photos, mb=mb), "photos", 413)
    if not valid:
        return _refused(form, gettext("The form has expired. Reload the page and send it again."), "form", 400)
    try:
        incident = create_report(
            category=form.category.data, description=request.form.get("description", ""),
            latitude=request.form.get("latitude") or None, longitude=request.form.get("longitude") or None,
            address=request.form.get("address", ""), reporter_name=request.form.get("reporter_name", ""),
            reporter_phone=request.form.get("reporter_phone", ""),
            source="offline" if request.form.get("queued") == "1" else "web",
            photos=files, remote_addr=request.remote_addr, flags=_flags(form),
            client_ref=request.form.get("client_ref", ""))
    except ReportRejected as exc:
        return _refused(form, exc.message, exc.field, exc.status)
    target = url_for("reports.track", code=incident.tracking_code, baru=1)
    if _wants_json():
        body = {"tracking_code": incident.tracking_code, "url": target}
        return _private(current_app.make_response((jsonify(body), 201)))
    return redirect(target, 303)


@bp.get("/lapor/token")
@allow(PUBLIC)
def token() -> ResponseReturnValue:
    """A fresh CSRF token for the offline queue (the page it was written on may be hours old)."""
    return _private(jsonify({"csrf_token": generate_csrf()}))


@bp.get("/lapor/manifest.webmanifest")
@allow(PUBLIC)
def manifest() -> ResponseReturnValue:
    city = _settings().city_name
    body = {
        "name": gettext("Report to 112 · %(city)s", city=city), "short_name": gettext("Report 112"),
        "description": gettext("Report an emergency or a city problem to the command centre and follow it."),
        "lang": request.args.get("lang", "id")[:5], "start_url": url_for("reports.report"),
        "scope": url_for("reports.report"), "display": "standalone", "background_color": "#ffffff",
        "theme_color": "#0b3d6e",
        "icons": [{"src": url_for("static", filename=f"img/report-{n}.png"), "sizes": f"{n}x{n}",
                   "type": "image/png", "purpose": "any maskable"} for n in (192, 512)],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/lapor/sw.js")
@allow(PUBLIC)
def service_worker() -> ResponseReturnValue:
    """The service worker, served from here so it may control ``/lapor`` (a file under /static/ could not)."""
    response = send_from_directory(current_app.static_folder or "static", "js/report-sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = url_for("reports.report")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/lacak")
@allow(PUBLIC)
def lookup() -> ResponseReturnValue:
    typed = request.args.get("kode", "")[:40]
    error = None
    if typed:
        code = normalise(typed)
        if code and db.session.scalar(select(Incident.id).where(Incident.tracking_code == code)) is not None:
            return redirect(url_for("reports.track", code=code), 303)
        error = gettext("No report has this code. Check it (it looks like LP-ABCD-2345) and try again.")
    page = render_template("reports/lookup.html", typed=typed, error=error)
    return _private(current_app.make_response((page, 404 if error else 200)))


@bp.get("/lacak/<code>")
@allow(PUBLIC)
def track(code: str) -> ResponseReturnValue:
    clean = normalise(code[:40])
    incident = db.session.scalar(select(Incident).where(Incident.tracking_code == clean)) if clean else None
    if incident is None:
        abort(404)
    if clean != code:
        return redirect(url_for("reports.track", code=clean), 301)
    progress = tracking.progress(incident)
    fragment = request.headers.get("HX-Request") == "true"
    template = "reports/_progress.html" if fragment else "reports/track.html"
    page = render_template(template, progress=progress, labels=labels, fresh=request.args.get("baru") == "1")
    # htmx stops polling on 286: nothing changes any more once the report is closed
    status = 286 if fragment and progress.current == "closed" else 200
    response = _private(current_app.make_response((page, status)))
    response.headers["Vary"] = "HX-Request"
    return response
