"""Sign in and out, the second factor (enrolment with a QR code, codes, recovery codes) and one's own account."""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from werkzeug.security import check_password_hash, generate_password_hash

from portal.auth import second_factor as totp
from portal.auth.accounts import ROLE_LABELS, AccountError, account_message, change_own_password, find_user
from portal.auth.forms import CodeForm, PasswordChangeForm, SignInForm
from portal.auth.lockout import mark_failure, retry_after_seconds
from portal.auth.policy import PUBLIC, STAFF_ROLES, allow
from portal.auth.sessions import end_session, start_session
from portal.models import User, db
from portal.models.audit import record

bp = Blueprint("auth", __name__)
PENDING_SECONDS = 300  # between a right password and the second factor
_dummy_hash: list[str] = []  # checked against when the username does not exist: the same work, the same time


def safe_next(target: str | None) -> str:
    """Only a path on this site (never //elsewhere or a scheme), else the default page for the user."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target:
        return target
    return url_for("auth.account")


def _landing(user: User, target: str | None) -> str:
    if user.must_change_password:
        return url_for("auth.password")
    if target and safe_next(target) == target:
        return target
    if "admin.home" in current_app.view_functions:
        return url_for("admin.home")  # each role's start page
    return url_for("auth.account")


def _pending() -> tuple[User | None, dict[str, Any]]:
    data = session.get("pending_2fa") or {}
    if not data or time.time() - float(data.get("at", 0)) > PENDING_SECONDS:
        session.pop("pending_2fa", None)
        return None, {}
    user = db.session.get(User, int(data["user_id"]))
    if user is None or not user.active or user.session_version != data.get("version"):
        session.pop("pending_2fa", None)
        return None, {}
    return user, data


@bp.route("/masuk", methods=["GET", "POST"])
@allow(PUBLIC)
def signin() -> ResponseReturnValue:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_landing(current_user, request.args.get("next")))
    form = SignInForm(next=request.args.get("next", ""))
    if request.method == "POST" and form.validate_on_submit():
        user = find_user(form.username.data or "")
        password = form.password.data or ""
        valid = user.check_password(password) if user is not None else _waste_time(password)
        if user is None or not valid or not user.active:
            mark_failure()
            record("auth.signin_failed", actor="anonymous", ip=request.remote_addr, target_type="user",
                   target_id=user.id if user else None, username=(form.username.data or "")[:80],
                   reason="inactive" if user is not None and valid else "credentials")
            db.session.commit()
            form.password.errors = [gettext("Wrong username or password.")]
            return render_template("auth/signin.html", form=form), 200
        if totp.required_for(user):
            session.clear()
            session["pending_2fa"] = {"user_id": user.id, "version": user.session_version,
                                      "username": user.username, "at": time.time(), "next": form.next.data or ""}
            if user.has_second_factor:
                return redirect(url_for("auth.second_factor"))
            return redirect(url_for("auth.enrol"))
        start_session(user)
        return redirect(_landing(user, form.next.data))
    expired = request.args.get("expired") == "1"
    return render_template("auth/signin.html", form=form, expired=expired)


def _waste_time(password: str) -> bool:
    if not _dummy_hash:
        _dummy_hash.append(generate_password_hash(secrets.token_hex(16)))
    check_password_hash(_dummy_hash[0], password)
    return False


@bp.errorhandler(429)
def locked(_error: Exception) -> ResponseReturnValue:
    wait = retry_after_seconds()
    minutes = max(1, (wait + 59) // 60)
    mark_failure()  # a refused attempt is not a free look
    form = SignInForm(next=request.form.get("next", ""))
    message = gettext("Too many failed attempts. Try again in %(minutes)d minutes.", minutes=minutes)
    record("auth.locked_out", actor="anonymous", ip=request.remote_addr,
           username=(request.form.get("username") or session.get("pending_2fa", {}).get("username") or "")[:80])
    db.session.commit()
    template = "auth/signin.html" if request.endpoint == "auth.signin" else "auth/second_factor.html"
    context: dict[str, Any] = {"form": form if template == "auth/signin.html" else CodeForm(), "locked": message}
    return render_template(template, **context), 429, {"Retry-After": str(wait)}


@bp.route("/masuk/kode", methods=["GET", "POST"])
@allow(PUBLIC)
def second_factor() -> ResponseReturnValue:
    user, data = _pending()
    if user is None:
        return redirect(url_for("auth.signin"))
    if not user.has_second_factor:
        return redirect(url_for("auth.enrol"))
    form = CodeForm()
    if request.method == "POST" and form.validate_on_submit():
        code = form.code.data or ""
        used_recovery = False
        ok = totp.verify_totp(user, code)
        if not ok:
            ok = used_recovery = totp.use_recovery_code(user, code)
        if ok:
            start_session(user, second_factor="recovery_code" if used_recovery else "totp")
            if used_recovery:
                flash(gettext("You signed in with a recovery code; %(n)d are left.", n=totp.codes_left(user)))
            return redirect(_landing(user, data.get("next")))
        mark_failure()
        record("auth.second_factor_failed", actor="anonymous", ip=request.remote_addr, target_type="user",
               target_id=user.id, username=user.username)
        db.session.commit()
        form.code.errors = [gettext("That code is not right. Use the newest code or a recovery code.")]
    return render_template("auth/second_factor.html", form=form)


@bp.route("/masuk/pasang-kode", methods=["GET", "POST"])
@allow(PUBLIC)
def enrol() -> ResponseReturnValue:
    """Enrol an authenticator: while signing in (second factor required) or from one's account page."""
    signed_in = current_user.is_authenticated
    user, data = (current_user._get_current_object(), {}) if signed_in else _pending()  # type: ignore[attr-defined]
    if user is None:
        return redirect(url_for("auth.signin"))
    if user.has_second_factor and not signed_in:
        return redirect(url_for("auth.second_factor"))
    secret = totp.pending_secret(user) if not user.has_second_factor else None
    form = CodeForm()
    if secret is not None and request.method == "POST" and form.validate_on_submit():
        codes = totp.complete_enrolment(user, form.code.data or "")
        if codes is not None:
            start_session(user, second_factor="enrolled")  # its version changed: a fresh session either way
            return render_template("auth/recovery_codes.html", codes=codes,
                                   next=_landing(user, data.get("next")))
        mark_failure()
        db.session.commit()
        form.code.errors = [gettext("That code is not right. Check the time on your phone and try the newest code.")]
    if secret is None:
        return redirect(url_for("auth.account"))
    uri = totp.provisioning_uri(user, secret)
    return render_template("auth/enrol.html", form=form, qr=totp.qr_svg(uri), secret=secret, user=user)


@bp.post("/keluar")
@allow(PUBLIC)
def signout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        end_session()
    return redirect(url_for("public.index"))


@bp.get("/akun")
@allow(*STAFF_ROLES)
def account() -> ResponseReturnValue:
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    return render_template("auth/account.html", user=user, codes_left=totp.codes_left(user),
                           required=totp.required_for(user), role_labels=ROLE_LABELS)


@bp.post("/akun/kode-pemulihan")
@allow(*STAFF_ROLES)
def new_recovery_codes() -> ResponseReturnValue:
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    if not user.has_second_factor:
        return redirect(url_for("auth.account"))
    codes = totp.new_recovery_codes(user)
    record("auth.recovery_codes_renewed", target_type="user", target_id=user.id, username=user.username)
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, next=url_for("auth.account"))


@bp.route("/akun/sandi", methods=["GET", "POST"])
@allow(*STAFF_ROLES)
def password() -> ResponseReturnValue:
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    form = PasswordChangeForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            change_own_password(user, form.current_password.data or "", form.password.data or "")
        except AccountError as exc:
            field = getattr(form, exc.field, form.password)
            field.errors = [account_message(exc)]
        else:
            db.session.commit()
            start_session(user, password_changed=True)  # its version changed: sign in again, in place
            flash(gettext("Your password was changed."))
            return redirect(_landing(user, None))
    return render_template("auth/password.html", form=form, forced=user.must_change_password)


ALWAYS_ALLOWED = frozenset({"auth.password", "auth.signout", "auth.signin", "static"})


def require_password_change() -> ResponseReturnValue | None:
    """``before_request``: a user whose password was reset must choose a new one before anything else."""
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    if request.endpoint in ALWAYS_ALLOWED or request.blueprint in ("media", "worker_api"):
        return None
    if request.method == "GET" and request.headers.get("HX-Request") != "true":
        return redirect(url_for("auth.password"))
    return "", 403
