"""``/admin/open311``: admins issue and revoke the API keys of apps that post reports (a key is shown once)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.auth.policy import allow
from portal.models import db
from portal.models.open311 import Open311Client
from portal.open311 import keys

bp = Blueprint("open311_admin", __name__, url_prefix="/admin/open311")


class IssueForm(FlaskForm):  # type: ignore[misc]
    name = StringField(_l("App name"), validators=[DataRequired(), Length(max=120)])
    contact = StringField(_l("Contact (who runs the app)"), validators=[Length(max=200)])


class RevokeForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token."""


def _no_store(page: str) -> ResponseReturnValue:
    return page, 200, {"Cache-Control": "private, no-store"}


@bp.route("", methods=["GET", "POST"])
@allow("admin")
def clients() -> ResponseReturnValue:
    form = IssueForm()
    if form.validate_on_submit():
        try:
            client, key = keys.issue(form.name.data or "", contact=form.contact.data or "",
                                     actor_user_id=current_user.id)
        except keys.KeyRefused:
            db.session.rollback()
            form.name.errors = [gettext("This app holds an active key: revoke it first.")]
        else:
            db.session.commit()
            return _no_store(render_template("open311/key_issued.html", client=client, key=key))
    return _no_store(render_template("open311/clients.html", form=form, clients=keys.clients(), revoke=RevokeForm()))


@bp.post("/<int:client_id>/cabut")
@allow("admin")
def revoke(client_id: int) -> ResponseReturnValue:
    form = RevokeForm()
    client = db.session.get(Open311Client, client_id)
    if client is None:
        abort(404)
    if not form.validate_on_submit():
        abort(400)
    try:
        keys.revoke(client, actor_user_id=current_user.id)
    except keys.KeyRefused:
        db.session.rollback()
        flash(gettext("%(name)s holds no active key.", name=client.name))
    else:
        db.session.commit()
        flash(gettext("The key of %(name)s was revoked; it no longer works.", name=client.name))
    return redirect(url_for("open311_admin.clients"))
