"""The footage forms (Flask-WTF, each with its CSRF token). Times are typed in the city's time zone."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateTimeLocalField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
TAG = re.compile(r"<\s*/?\s*[a-zA-Z!?]|javascript:|on[a-z]+\s*=", re.IGNORECASE)
PHONE_SEPARATORS = re.compile(r"[\s\-().]")
PHONE = re.compile(r"(?:\+62|62|0)(\d{7,12})")
CASE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./:_-]{1,79}")
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
TIME_FORMATS = [TIME_FORMAT, "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
LEGAL_BASES = (
    ("kuhap", _l("Criminal Procedure Code (KUHAP), investigation")),
    ("ite", _l("Electronic Information and Transactions Law (UU ITE)")),
    ("court_order", _l("Court order")),
    ("other", _l("Other (explain in the reason)")),
)


def plain_text(form: FlaskForm, field: Any) -> None:
    value = field.data or ""
    if CONTROL.search(value):
        raise ValidationError(_l("Remove the control characters from this text."))
    if TAG.search(value):
        raise ValidationError(_l("This text may not contain HTML or script code."))


def normalise_phone(raw: str) -> str:
    """``0812-3456 7890`` / ``62812...`` / ``+62 812...`` -> ``+628123457890``; ValueError when it is not one."""
    compact = PHONE_SEPARATORS.sub("", raw or "")
    match = PHONE.fullmatch(compact)
    if match is None:
        raise ValueError(compact)
    return "+62" + match.group(1)


def phone_number(form: FlaskForm, field: Any) -> None:
    try:
        field.data = normalise_phone(field.data or "")
    except ValueError:
        raise ValidationError(_l("Enter an Indonesian phone number, e.g. 0812 3456 7890.")) from None


def case_number(form: FlaskForm, field: Any) -> None:
    if not CASE_NUMBER.fullmatch((field.data or "").strip()):
        raise ValidationError(_l("Letters, digits and . / : _ - only, 2 to 80 characters."))


def city_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(current_app.config["PANTAU"].timezone)


def to_utc(local: dt.datetime) -> dt.datetime:
    """A naive time typed in the city's time zone, as UTC."""
    return local.replace(tzinfo=city_zone()).astimezone(dt.UTC)


def to_local_input(moment: dt.datetime) -> str:
    return moment.astimezone(city_zone()).strftime(TIME_FORMAT)


class CameraChoice(SelectMultipleField):
    """Camera ids from checkboxes or a multiple select; the allowed ids are set by the view."""

    def pre_validate(self, form: FlaskForm) -> None:
        allowed = {value for value, _label in self.choices or []}  # type: ignore[misc]
        if any(value not in allowed for value in self.data or []):
            raise ValidationError(_l("One of the cameras does not exist."))


class SpanForm(FlaskForm):
    start = DateTimeLocalField(_l("From"), format=TIME_FORMATS, render_kw={"step": 1},
                               validators=[DataRequired(_l("When did it start?"))])
    end = DateTimeLocalField(_l("Until"), format=TIME_FORMATS, render_kw={"step": 1},
                             validators=[DataRequired(_l("When did it end?"))])

    @property
    def start_utc(self) -> dt.datetime:
        return to_utc(self.start.data)

    @property
    def end_utc(self) -> dt.datetime:
        return to_utc(self.end.data)


class PoliceRequestForm(SpanForm):
    cameras = CameraChoice(_l("Cameras"), coerce=int, validators=[DataRequired(_l("Choose at least one camera."))])
    case_number = StringField(_l("Case number"), validators=[DataRequired(), Length(max=80), case_number])
    legal_basis = StringField(_l("Legal basis"), validators=[DataRequired(), Length(min=3, max=300), plain_text])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(min=10, max=2000), plain_text])
    resident_codes = StringField(_l("Codes of residents' requests (optional)"),
                                 validators=[Optional(), Length(max=200), plain_text])

    def codes(self) -> list[str]:
        return [c for c in re.split(r"[\s,;]+", self.resident_codes.data or "") if c]


class ResidentHoldForm(SpanForm):
    cameras = CameraChoice(_l("Cameras near the place"), coerce=int,
                           validators=[DataRequired(_l("Choose at least one camera."))])
    phone = StringField(_l("Your phone number"), validators=[DataRequired(), Length(max=40), phone_number],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    name = StringField(_l("Your name (optional)"), validators=[Optional(), Length(max=200), plain_text],
                       render_kw={"autocomplete": "name"})
    police_report_number = StringField(_l("Police report number, if you have one"),
                                       validators=[Optional(), Length(max=80), plain_text])
    description = TextAreaField(_l("What happened? (optional)"),
                                validators=[Optional(), Length(max=1000), plain_text])


class DecisionForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[DataRequired(_l("Write a note for the requester.")),
                                                  Length(min=3, max=2000), plain_text])


class ReleaseForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the release"), validators=[
        DataRequired(_l("Say why the hold is released.")), Length(min=5, max=2000), plain_text])


class EmptyForm(FlaskForm):
    """A button that only needs its CSRF token (withdraw, retry)."""


class VerifyForm(FlaskForm):
    manifest = FileField(_l("Manifest (.json)"), validators=[DataRequired(_l("Choose the manifest file."))])
    file = FileField(_l("The exported video file"))
    sha256 = StringField(_l("or its SHA-256"), validators=[Optional(strip_whitespace=True), Length(max=64)],
                         render_kw={"spellcheck": "false", "autocapitalize": "none"})

    def validate_sha256(self, field: Any) -> None:
        if field.data and not SHA256.fullmatch(field.data.strip()):
            raise ValidationError(_l("A SHA-256 has 64 hexadecimal digits."))
