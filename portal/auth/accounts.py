"""Accounts: the password policy and every change to a user, the same from the shell and the admin pages.

Each change bumps what it must (``session_version`` ends the user's open sessions when their password, role,
agency, second factor or active flag changes) and writes an audit entry with what changed, never a secret.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.models import Agency, RecoveryCode, User, db
from portal.models.audit import record
from portal.models.people import ROLES

MIN_PASSWORD = 10
MAX_PASSWORD = 200
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
# The passwords every guessing list starts with (and Indonesian favourites); longer than MIN_PASSWORD only.
COMMON = frozenset({
    "1234567890", "12345678910", "123456789012", "0123456789", "qwertyuiop", "1q2w3e4r5t", "password123",
    "passw0rd123", "iloveyou123", "admin12345", "administrator", "qwerty12345", "abc1234567", "1111111111",
    "0000000000", "sayangku123", "bismillah123", "indonesia123", "jakarta123", "kendari123", "rahasia123",
    "password1234", "qwertyuiop123", "admin123456", "superadmin", "welcome123", "letmein123",
})
ROLE_LABELS = {
    "admin": _l("Administrator"),
    "operator": _l("112 operator"),
    "agency": _l("Agency staff"),
    "police": _l("Police investigator"),
    "leadership": _l("Leadership (read only)"),
}
NEEDS_AGENCY = ("agency",)
# Every AccountError message, marked for translation (pages show them in the reader's language).
MESSAGES = {
    "must have at least %(n)d characters": _l("must have at least %(n)d characters"),
    "must have at most %(n)d characters": _l("must have at most %(n)d characters"),
    "is too easy to guess": _l("is too easy to guess"),
    "must not contain your name or username": _l("must not contain your name or username"),
    "must be 2 to 40 letters, digits, dots, dashes or underscores":
        _l("must be 2 to 40 letters, digits, dots, dashes or underscores"),
    "is taken already": _l("is taken already"),
    "no such agency: %(code)s": _l("no such agency: %(code)s"),
    "must be one of %(roles)s": _l("must be one of %(roles)s"),
    "is required for agency staff": _l("is required for agency staff"),
    "is not your current password": _l("is not your current password"),
    "must differ from the current one": _l("must differ from the current one"),
}


class AccountError(ValueError):
    """A rule was broken; ``field`` names the form field, ``message`` is English (translated on pages)."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(f"{field}: {message % values if values else message}")
        self.field = field
        self.message = message
        self.values = values


def account_message(exc: AccountError) -> str:
    """The error in the reader's language (for a form field)."""
    known = MESSAGES.get(exc.message)
    text = str(known) if known is not None else exc.message
    return text % exc.values if exc.values else text


def check_password(password: str, *, username: str = "", full_name: str = "") -> None:
    """The password policy: long enough, not a common password, not the username, not one repeated character."""
    if len(password) < MIN_PASSWORD:
        raise AccountError("password", "must have at least %(n)d characters", n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise AccountError("password", "must have at most %(n)d characters", n=MAX_PASSWORD)
    lowered = password.lower()
    if lowered in COMMON or len(set(lowered)) < 4:
        raise AccountError("password", "is too easy to guess")
    for word in (username, *full_name.split()):
        if len(word) >= 3 and word.lower() in lowered:
            raise AccountError("password", "must not contain your name or username")


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise AccountError("username", "must be 2 to 40 letters, digits, dots, dashes or underscores")
    return name


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def find_agency(code_or_id: str | int | None) -> Agency | None:
    if code_or_id in (None, ""):
        return None
    if isinstance(code_or_id, int) or str(code_or_id).isdigit():
        found = db.session.get(Agency, int(code_or_id))
        if found is not None:
            return found
    agency = db.session.scalar(select(Agency).where(Agency.code == str(code_or_id)))
    if agency is None:
        raise AccountError("agency", "no such agency: %(code)s", code=code_or_id)
    return agency


def _check_role(role: str, agency: Agency | None) -> None:
    if role not in ROLES:
        raise AccountError("role", "must be one of %(roles)s", roles=", ".join(ROLES))
    if role in NEEDS_AGENCY and agency is None:
        raise AccountError("agency", "is required for agency staff")


def create_user(username: str, *, role: str, password: str, full_name: str = "", email: str = "",
                agency: Agency | None = None, must_change_password: bool = False) -> User:
    name = check_username(username)
    if find_user(name) is not None:
        raise AccountError("username", "is taken already")
    _check_role(role, agency)
    check_password(password, username=name, full_name=full_name)
    user = User(username=name, role=role, full_name=full_name.strip()[:200], email=email.strip()[:200],
                agency=agency, active=True, must_change_password=must_change_password, session_version=1)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record("user.create", target_type="user", target_id=user.id, username=name, role=role,
           agency=agency.code if agency else None)
    return user


EDITABLE = ("full_name", "email", "role", "agency_id", "active", "locale")


def snapshot(user: User) -> dict[str, Any]:
    """What an audit entry may show of a user (no hashes, no secrets)."""
    return {"username": user.username, "full_name": user.full_name, "email": user.email, "role": user.role,
            "agency_id": user.agency_id, "active": user.active, "second_factor": user.has_second_factor}


def update_user(user: User, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply the given fields; returns {field: [before, after]} of what changed (audited)."""
    before = snapshot(user)
    agency = user.agency
    if "agency" in changes:
        agency = changes["agency"]
    role = changes.get("role", user.role)
    _check_role(role, agency)
    user.role = role
    user.agency = agency
    user.agency_id = agency.id if agency else None
    for key in ("full_name", "email"):
        if key in changes and changes[key] is not None:
            setattr(user, key, str(changes[key]).strip()[:200])
    if "active" in changes and changes["active"] is not None:
        user.active = bool(changes["active"])
    after = snapshot(user)
    diff = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if {"role", "agency_id", "active"} & diff.keys():
        user.session_version += 1  # a demoted or disabled user's open sessions end now
    if diff:
        record("user.update", target_type="user", target_id=user.id, username=user.username, changes=diff)
    return diff


def reset_password(user: User, password: str | None = None, *, must_change: bool = True) -> str:
    """Set a new password (a random one when none is given, returned once) and end the user's sessions."""
    new = password or temporary_password()
    check_password(new, username=user.username, full_name=user.full_name)
    user.set_password(new)
    user.must_change_password = must_change
    record("user.reset_password", target_type="user", target_id=user.id, username=user.username,
           must_change=must_change)
    return new


def change_own_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise AccountError("current_password", "is not your current password")
    if current == new:
        raise AccountError("password", "must differ from the current one")
    check_password(new, username=user.username, full_name=user.full_name)
    user.set_password(new)
    user.must_change_password = False
    record("auth.password_changed", target_type="user", target_id=user.id, username=user.username)


def reset_second_factor(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    user.session_version += 1
    record("user.reset_second_factor", target_type="user", target_id=user.id, username=user.username)


def temporary_password() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
