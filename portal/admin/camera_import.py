"""Cameras from a CSV file: a dry run that reports every row's errors, and an import that adds nothing unless
every row is right (one transaction). Columns as in the export; ``name``, ``latitude``, ``longitude`` and
``source_url`` are required; an ``id`` column updates that camera instead of adding one (a blank ``source_url``
then keeps the old address)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select

from portal.admin.blueprint import ADMIN, bp
from portal.admin.camera_changes import SwitchRefused, create_camera, set_public, update_camera, validate_fields
from portal.admin.camera_forms import field_label, input_error
from portal.auth.policy import allow
from portal.camera_input import CameraInputError
from portal.models import Agency, Camera, db
from portal.models.audit import record

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
BOOLEAN = {"1": True, "true": True, "yes": True, "ya": True, "y": True, "0": False, "false": False, "no": False,
           "tidak": False, "n": False, "": None}
FIELDS = ("name", "description", "latitude", "longitude", "district", "category", "source_url", "substream_url",
          "audio", "retention_days")
FLAGS = ("owner_allows_public", "enabled", "public", "recording")


class ImportForm(FlaskForm):
    file = FileField()


@dataclass
class RowResult:
    line: int
    name: str
    action: str = "add"  # add | update
    errors: list[str] = field(default_factory=list)


@dataclass
class Report:
    rows: list[RowResult] = field(default_factory=list)
    problem: str | None = None  # the file as a whole

    @property
    def ok(self) -> bool:
        return self.problem is None and all(not r.errors for r in self.rows) and bool(self.rows)

    @property
    def bad_rows(self) -> int:
        return sum(1 for r in self.rows if r.errors)


def _flag(value: str | None) -> bool | None:
    key = (value or "").strip().lower()
    if key not in BOOLEAN:
        raise ValueError(key)
    return BOOLEAN[key]


def _parse(raw: dict[str, str], agencies: dict[str, Agency]) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    values: dict[str, Any] = {k: (raw.get(k) or "").strip() for k in FIELDS if k in raw}
    for key in ("description", "district", "substream_url", "category", "audio", "retention_days"):
        if key in values and values[key] == "":
            values.pop(key)  # blank: the default (or, updating, unchanged)
    for flag in FLAGS:
        if flag in raw:
            try:
                values[flag] = _flag(raw[flag])
            except ValueError:
                errors.append(f"{field_label(flag)}: {gettext('must be 1 or 0 (yes or no)')}")
            if values.get(flag) is None:
                values.pop(flag, None)
    code = (raw.get("agency") or "").strip()
    if code:
        if code in agencies:
            values["agency"] = agencies[code]
        else:
            errors.append(f"{field_label('agency')}: {gettext('no agency with the code %(code)s', code=code)}")
    elif "agency" in raw:
        values["agency"] = None
    return values, errors


def check_rows(text: str) -> tuple[Report, list[tuple[Camera | None, dict[str, Any]]]]:
    """Parse and validate every row without changing anything; returns the report and the planned changes."""
    report = Report()
    plan: list[tuple[Camera | None, dict[str, Any]]] = []
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip() for c in (reader.fieldnames or [])}
    missing = {"name", "latitude", "longitude", "source_url"} - columns
    if missing and "id" not in columns:
        report.problem = gettext("The file has no column %(columns)s.", columns=", ".join(sorted(missing)))
        return report, plan
    agencies = {a.code: a for a in db.session.scalars(select(Agency))}
    names_seen: dict[str, int] = {}
    with db.session.no_autoflush:
        for number, raw in enumerate(reader, start=2):
            if number - 1 > MAX_ROWS:
                report.problem = gettext("At most %(n)d rows per file.", n=MAX_ROWS)
                break
            raw = {(k or "").strip(): v for k, v in raw.items()}
            result = RowResult(line=number, name=(raw.get("name") or "").strip()[:120])
            values, result.errors = _parse(raw, agencies)
            camera: Camera | None = None
            ident = (raw.get("id") or "").strip()
            if ident:
                camera = db.session.get(Camera, int(ident)) if ident.isdigit() else None
                if camera is None:
                    result.errors.append(gettext("there is no camera %(id)s to update", id=ident))
                result.action = "update"
            try:
                validate_fields(values, creating=camera is None)
            except CameraInputError as exc:
                result.errors.append(f"{field_label(exc.field)}: {input_error(exc)}")
            key = result.name.lower()
            if key and key in names_seen:
                result.errors.append(gettext("the same name as line %(line)d", line=names_seen[key]))
            names_seen.setdefault(key, number)
            report.rows.append(result)
            plan.append((camera, values))
    if not report.rows and report.problem is None:
        report.problem = gettext("The file has no rows.")
    return report, plan


def run_import(plan: list[tuple[Camera | None, dict[str, Any]]]) -> tuple[int, int]:
    added = updated = 0
    for camera, values in plan:
        if camera is None:
            create_camera(values, reason=gettext("CSV import"))
            added += 1
        else:
            public = values.pop("public", None)
            update_camera(camera, values)
            if public is not None:
                set_public([camera], public, reason=gettext("CSV import"))
            updated += 1
    return added, updated


def _read_upload(form: ImportForm) -> tuple[str | None, str | None]:
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        return None, gettext("Choose a CSV file.")
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return None, gettext("The file is larger than 5 MB.")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, gettext("The file is not UTF-8 text. Save it as \"CSV UTF-8\".")


@bp.route("/kamera/impor", methods=["GET", "POST"])
@allow(*ADMIN)
def camera_import() -> ResponseReturnValue:
    form = ImportForm()
    if request.method == "GET":
        return render_template("admin/camera_import.html", form=form, report=None)
    if not form.validate_on_submit():
        return render_template("admin/camera_import.html", form=form, report=None,
                               problem=gettext("The form expired; please try again.")), 400
    text, problem = _read_upload(form)
    if text is None:
        return render_template("admin/camera_import.html", form=form, report=None, problem=problem), 400
    report, plan = check_rows(text)
    dry_run = request.form.get("mode") != "import"
    done: tuple[int, int] | None = None
    if report.ok and not dry_run:
        try:
            done = run_import(plan)
        except (CameraInputError, SwitchRefused) as exc:  # caught by the dry run; a race at most
            db.session.rollback()
            return render_template("admin/camera_import.html", form=form, report=report, problem=str(exc)), 400
        record("camera.import", added=done[0], updated=done[1], rows=len(plan))
        db.session.commit()
    else:
        db.session.rollback()
    htmx = request.headers.get("HX-Request") == "true"
    template = "admin/_import_report.html" if htmx else "admin/camera_import.html"
    status = 200 if report.ok else 422
    return render_template(template, form=form, report=report, dry_run=dry_run, done=done), status
