"""The camera form: what a person types, turned into the fields ``portal.camera_input`` checks (one set of rules
for every door); its errors in the reader's language, next to the field they concern."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from contract.media import AUDIO_MODES
from portal.camera_input import CameraInputError
from portal.models import Agency, Camera, db
from portal.models.camera import CAMERA_CATEGORIES
from portal.public.catalogue import CATEGORY_LABELS

SECRET_PLACEHOLDER = _l("Unchanged (hidden). Type a new address to replace it.")
AUDIO_LABELS = {"drop": _l("No sound"), "copy": _l("Sound as the camera sends it"), "aac": _l("Sound converted to AAC")}

# The English messages of portal.camera_input, as patterns, with their translations.
_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^is required$"), _l("is required")),
    (re.compile(r"^must not contain spaces or control characters$"),
     _l("must not contain spaces or control characters")),
    (re.compile(r"^is not a valid URL$"), _l("is not a valid address")),
    (re.compile(r"^has no host$"), _l("has no host name")),
    (re.compile(r"^must be an existing absolute file path \(demo mode\)$"),
     _l("must be an existing absolute file path (demo mode)")),
    (re.compile(r"^must start with one of (?P<v>.+)$"), _l("must start with one of %(v)s")),
    (re.compile(r"^must be a number$"), _l("must be a number")),
    (re.compile(r"^must be a whole number$"), _l("must be a whole number")),
    (re.compile(r"^must be between (?P<a>\S+) and (?P<b>\S+)$"), _l("must be between %(a)s and %(b)s")),
    (re.compile(r"^must be 1 to 120 characters$"), _l("must be 1 to 120 characters")),
    (re.compile(r"^must be at most (?P<n>\d+) characters$"), _l("must be at most %(n)s characters")),
    (re.compile(r"^must be one of (?P<v>.+)$"), _l("must be one of %(v)s")),
    (re.compile(r"^is not a known agency$"), _l("is not a known agency")),
]
FIELD_LABELS = {
    "name": _l("Name"), "description": _l("Description"), "latitude": _l("Latitude"), "longitude": _l("Longitude"),
    "district": _l("District"), "category": _l("Category"), "source_url": _l("Camera stream address (RTSP)"),
    "substream_url": _l("Low-resolution stream address"), "audio": _l("Sound"),
    "retention_days": _l("Keep recordings (days)"), "agency": _l("Owner agency"), "enabled": _l("Running"),
    "recording": _l("Recording"), "owner_allows_public": _l("The owner allows showing it to the public"),
    "public": _l("Public"),
}


def input_error(exc: CameraInputError) -> str:
    """A camera_input error in the reader's language (the values it names are not secrets)."""
    for pattern, text in _PATTERNS:
        match = pattern.match(exc.message)
        if match:
            return str(text) % match.groupdict() if match.groupdict() else str(text)
    return exc.message


def field_label(field: str) -> str:
    return str(FIELD_LABELS.get(field, field))


def _agency_choices() -> list[tuple[str, str]]:
    agencies = db.session.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.name))
    return [("", gettext("None (the city's own)"))] + [(str(a.id), a.name) for a in agencies]


class CameraForm(FlaskForm):
    name = StringField(FIELD_LABELS["name"], validators=[Length(max=120)])
    description = TextAreaField(FIELD_LABELS["description"], validators=[Optional(), Length(max=4000)])
    latitude = StringField(FIELD_LABELS["latitude"], render_kw={"inputmode": "decimal"})
    longitude = StringField(FIELD_LABELS["longitude"], render_kw={"inputmode": "decimal"})
    district = StringField(FIELD_LABELS["district"], validators=[Optional(), Length(max=80)])
    category = SelectField(FIELD_LABELS["category"],
                           choices=[(c, CATEGORY_LABELS.get(c, c)) for c in CAMERA_CATEGORIES])
    source_url = StringField(FIELD_LABELS["source_url"],
                             render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"})
    substream_url = StringField(FIELD_LABELS["substream_url"],
                                render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"})
    audio = SelectField(FIELD_LABELS["audio"], choices=[(a, AUDIO_LABELS.get(a, a)) for a in AUDIO_MODES])
    retention_days = StringField(FIELD_LABELS["retention_days"], render_kw={"inputmode": "numeric"})
    agency = SelectField(FIELD_LABELS["agency"], choices=[], validate_choice=False)
    owner_allows_public = BooleanField(FIELD_LABELS["owner_allows_public"], default=True)
    enabled = BooleanField(FIELD_LABELS["enabled"], default=True)
    recording = BooleanField(FIELD_LABELS["recording"], default=True)
    public = BooleanField(FIELD_LABELS["public"], default=False)

    def __init__(self, *args: Any, camera: Camera | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agency.choices = _agency_choices()
        self.editing = camera is not None
        if camera is not None and not self.is_submitted():
            for key in ("name", "description", "district", "category", "audio"):
                getattr(self, key).data = getattr(camera, key)
            self.latitude.data = str(camera.latitude)
            self.longitude.data = str(camera.longitude)
            self.retention_days.data = str(camera.retention_days)
            self.agency.data = str(camera.agency_id or "")
            for key in ("owner_allows_public", "enabled", "recording", "public"):
                getattr(self, key).data = getattr(camera, key)
        # write-only: the page never carries a stream address (it may hold the camera's password)
        self.source_url.data = self.source_url.data if self.is_submitted() else ""
        self.substream_url.data = self.substream_url.data if self.is_submitted() else ""

    def raw(self) -> dict[str, Any]:
        """The values for ``camera_changes`` (blank stream addresses keep the old ones when editing)."""
        agency_id = self.agency.data or ""
        agency = db.session.get(Agency, int(agency_id)) if agency_id.isdigit() else None
        values: dict[str, Any] = {
            "name": self.name.data, "description": self.description.data or "", "latitude": self.latitude.data,
            "longitude": self.longitude.data, "district": self.district.data or "", "category": self.category.data,
            "source_url": (self.source_url.data or "").strip(),
            "substream_url": (self.substream_url.data or "").strip(), "audio": self.audio.data,
            "retention_days": self.retention_days.data or "30", "agency": agency,
            "owner_allows_public": self.owner_allows_public.data, "enabled": self.enabled.data,
            "recording": self.recording.data,
        }
        if not self.editing:
            values["public"] = self.public.data
        for key in ("latitude", "longitude", "name"):
            if values[key] is not None and not str(values[key]).strip():
                values[key] = None if not self.editing else values[key]
        return values

    def show_error(self, exc: CameraInputError) -> None:
        field = getattr(self, exc.field, None) or self.name
        field.errors = [*field.errors, input_error(exc)]  # type: ignore[list-item]
        # never echo what was typed into a stream address field (it may hold a password)
        self.source_url.data = ""
        self.substream_url.data = ""
