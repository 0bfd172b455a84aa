"""The ``/lapor`` form (Flask-WTF, with its CSRF token) and the blocklist form.

The report form only carries the fields: every check of their values is :func:`create_report`'s, so the
form, the offline queue and Open311 refuse the same things with the same messages.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.models.report import BLOCK_ACTIONS, BLOCK_KINDS
from portal.reports import labels


class ReportForm(FlaskForm):
    category = SelectField(_l("What happened?"), choices=[], validate_choice=False)
    description = TextAreaField(_l("Describe what you see"))
    latitude = HiddenField()
    longitude = HiddenField()
    address = StringField(_l("Address or landmark"))
    reporter_name = StringField(_l("Your name (optional)"))
    reporter_phone = StringField(_l("Your phone number (optional, so the command centre can call you back)"))
    website = StringField(_l("Leave this field empty"))  # the honeypot: hidden from people, filled by robots
    started = HiddenField()
    client_ref = HiddenField()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = [("", _l("Choose..."))] + [(k, v) for k, v in labels.CATEGORY.items()]


class BlockForm(FlaskForm):
    kind = SelectField(_l("What to block"), choices=[(k, labels.BLOCK_KIND[k]) for k in BLOCK_KINDS])
    value = StringField(_l("Phone number or address"), validators=[Optional(), Length(max=64)])
    incident_id = HiddenField()
    action = SelectField(_l("What to do with their reports"),
                         choices=[(a, labels.BLOCK_ACTIONS_LABEL[a]) for a in BLOCK_ACTIONS])
    reason = StringField(_l("Reason (kept in the audit log)"), validators=[DataRequired(), Length(min=3, max=300)])
    days = IntegerField(_l("For how many days (empty: until lifted)"),
                        validators=[Optional(), NumberRange(min=1, max=3650)])
