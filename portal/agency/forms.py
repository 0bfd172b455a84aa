"""The agency page's forms: one status form (the buttons carry the status), a reason for handing back."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional, ValidationError

from portal.agency import service
from portal.bounds import InputError, clean_text


def plain_text(_form: Any, field: Any) -> None:
    try:
        clean_text(field.data or "", field.name, multiline=True)
    except InputError as exc:
        raise ValidationError(str(exc.message)) from None


class StatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired(), Length(max=20),
                                     AnyOf(service.AGENCY_STATUSES, message=_l("Unknown status."))])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=service.MAX_REASON), plain_text])


class TokenForm(FlaskForm):
    agency = HiddenField(validators=[DataRequired(), Length(max=10)])
    name = StringField(_l("Name of the system"), validators=[DataRequired(), Length(min=1, max=80), plain_text])
