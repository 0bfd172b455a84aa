"""Where report photos live and how staff pages link to them.

Photos are stored under ``<instance>/report-photos/YYYY/MM/<random>.jpg``, outside ``MEDIA_ROOT`` (which nginx
serves to anyone), and are served only through ``reports_staff.photo`` to operators and admins, and to an
agency's users once their agency holds a dispatch for the report.

For staff pages (console, agency): ``photos_of(incident)`` and ``photo_url(photo)``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import current_app, url_for
from sqlalchemy import select

from portal.models import db
from portal.models.base import utcnow
from portal.models.incident import Incident
from portal.models.report import ReportPhoto
from portal.reports.imaging import CleanPhoto

FOLDER = "report-photos"


def root() -> Path:
    return Path(current_app.config["PANTAU"].instance_path).resolve() / FOLDER


def path_of(photo: ReportPhoto) -> Path:
    return root() / photo.key


def photos_of(incident: Incident | int) -> list[ReportPhoto]:
    incident_id = incident if isinstance(incident, int) else incident.id
    return list(db.session.scalars(select(ReportPhoto).where(ReportPhoto.incident_id == incident_id)
                                   .order_by(ReportPhoto.id)))


def photo_url(photo: ReportPhoto | int) -> str:
    """The staff-only address of a photo (the view checks the role and, for agencies, the dispatch)."""
    photo_id = photo if isinstance(photo, int) else photo.id
    return url_for("reports_staff.photo", photo_id=photo_id)


def write(clean: CleanPhoto) -> tuple[str, Path]:
    """Write a cleaned photo to a new file; returns its key and path (the caller removes it on failure)."""
    now = utcnow()
    key = f"{now:%Y}/{now:%m}/{secrets.token_hex(16)}.jpg"
    path = root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(clean.data)
    tmp.replace(path)
    return key, path
