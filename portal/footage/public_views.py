"""Public footage pages: a resident asks to keep footage (never seeing it), and anyone checks an exported file
against its manifest and the city's public key (``/verifikasi``). Both forms are rate-limited."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select

from portal.auth.policy import PUBLIC, allow
from portal.footage import asking, evidence
from portal.footage.forms import ResidentHoldForm, VerifyForm
from portal.footage.people import address
from portal.models import Camera, ResidentHoldRequest, db, utcnow
from portal.settings import Settings

bp = Blueprint("footage_public", __name__)
MAX_MANIFEST_BYTES = 1024 * 1024


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def _public_cameras() -> list[Camera]:
    return list(db.session.scalars(select(Camera).where(Camera.public.is_(True), Camera.archived_at.is_(None))
                                   .order_by(Camera.district, Camera.name)))


@bp.route("/simpan-rekaman", methods=["GET", "POST"])
@allow(PUBLIC)
def resident_form() -> ResponseReturnValue:
    form = ResidentHoldForm()
    cameras = _public_cameras()
    form.cameras.choices = [(c.id, c.name) for c in cameras]
    if request.method == "GET":
        form.cameras.data = [int(v) for v in request.args.getlist("kamera") if v.isdigit()]
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                resident = asking.ask_resident(
                    form.cameras.data or [], form.start_utc, form.end_utc, phone=form.phone.data,
                    name=form.name.data or "", police_report_number=form.police_report_number.data or "",
                    description=form.description.data or "", ip=address() or "", now=utcnow())
            except asking.AskError as exc:
                db.session.rollback()
                getattr(form, exc.field).errors = [exc.message]
            else:
                db.session.commit()
                return redirect(url_for("footage_public.resident_done", code=resident.code), 303)
        status = 400
    return render_template("footage/resident.html", form=form, cameras=cameras,
                           hold_days=_settings().resident_hold_days, max_hours=_settings().footage_max_hours), status


@bp.get("/simpan-rekaman/<code>")
@allow(PUBLIC)
def resident_done(code: str) -> ResponseReturnValue:
    """What the resident needs to tell the police: the code, the cameras, the time and until when it is kept."""
    found = db.session.scalar(select(ResidentHoldRequest).where(ResidentHoldRequest.code == code[:20].upper()))
    if found is None:
        abort(404)
    cameras = db.session.scalars(select(Camera).where(Camera.id.in_(found.camera_ids or []))).all()
    response = current_app.make_response(render_template("footage/resident_done.html", resident=found,
                                                         cameras=cameras))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _public_key() -> evidence.Ed25519PublicKey | None:
    try:
        return evidence.city_public_key(_settings().evidence_key_path)
    except evidence.EvidenceKeyError:
        return None


@bp.route("/verifikasi", methods=["GET", "POST"])
@allow(PUBLIC)
def verify() -> ResponseReturnValue:
    form = VerifyForm()
    key = _public_key()
    verdict, file_hash = None, None
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit() and key is not None:
            manifest = form.manifest.data.stream.read(MAX_MANIFEST_BYTES + 1)
            if form.sha256.data:
                file_hash = form.sha256.data.strip().lower()
            elif form.file.data and form.file.data.filename:
                file_hash, _size = evidence.sha256_stream(form.file.data.stream)
            if len(manifest) > MAX_MANIFEST_BYTES:
                form.manifest.errors = [gettext("This is not a manifest: it is far too large.")]
            elif file_hash is None:
                form.sha256.errors = [gettext("Choose the video file or give its SHA-256.")]
            else:
                verdict = evidence.verify(manifest, file_hash, key)
                status = 200
    context = {"form": form, "verdict": verdict, "file_hash": file_hash}
    if key is not None:
        context.update(public_pem=evidence.public_pem(key), fingerprint=evidence.fingerprint(key))
    return render_template("footage/verify.html", **context), status


@bp.get("/verifikasi/kunci-publik.pem")
@allow(PUBLIC)
def public_key() -> ResponseReturnValue:
    key = _public_key()
    if key is None:
        abort(404)
    response = current_app.response_class(evidence.public_pem(key), mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = 'attachment; filename="pantau-kunci-publik.pem"'
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Key-Fingerprint"] = evidence.fingerprint(key)
    return response

