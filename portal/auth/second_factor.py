"""The second factor: TOTP (RFC 6238, pyotp) enrolled with a QR code, and one-time recovery codes.

A code is accepted once (the time step of the last accepted code is kept), one step of clock drift either way
is allowed, and recovery codes are stored as SHA-256 hashes and used up when used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import segno
from flask import current_app

from portal.models import RecoveryCode, User, db, utcnow
from portal.models.audit import record

RECOVERY_CODES = 10
ISSUER = "Pantau"
SECOND_FACTOR_ROLES = ("admin", "police")


def required_for(user: User) -> bool:
    """Must this user sign in with a second factor? (Admins and police, in production or when turned on.)"""
    return user.has_second_factor or (
        user.role in SECOND_FACTOR_ROLES and bool(current_app.config["PANTAU"].second_factor_required)
    )


def pending_secret(user: User) -> str:
    """The secret being enrolled (made once, kept until enrolment succeeds or is reset)."""
    if user.totp_secret is None or user.totp_enabled_at is not None:
        user.totp_secret = pyotp.random_base32()
        db.session.commit()
    return user.totp_secret


def provisioning_uri(user: User, secret: str) -> str:
    city = str(current_app.config["PANTAU"].city_name)
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=f"{ISSUER} {city}")


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG markup (no script, no style attribute)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#0b1f33", light="#ffffff"))


def _normalise(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum()).lower()


def _step_of(totp: pyotp.TOTP, code: str) -> int | None:
    """The time step whose code this is (now, or one step either side), or None."""
    now = utcnow()
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(user: User, code: str) -> bool:
    code = _normalise(code)
    if not user.totp_secret or len(code) != 6 or not code.isdigit():
        return False
    step = _step_of(pyotp.TOTP(user.totp_secret), code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False  # wrong, or replayed
    user.totp_last_step = step
    return True


def _hash_code(user: User, code: str) -> str:
    return hashlib.sha256(f"{user.id}:{_normalise(code)}".encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes; the plain codes are returned once, to be shown once."""
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = ["-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2))
             for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(user, c)) for c in codes)
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    wanted = _hash_code(user, code)
    for row in user.recovery_codes:
        if row.used_at is None and hmac.compare_digest(row.code_hash, wanted):
            row.used_at = utcnow()
            left = sum(1 for r in user.recovery_codes if r.used_at is None)
            record("auth.recovery_code_used", target_type="user", target_id=user.id, username=user.username,
                   codes_left=left)
            return True
    return False


def complete_enrolment(user: User, code: str) -> list[str] | None:
    """Turn the second factor on when the code from the new authenticator is right; returns recovery codes."""
    if not verify_totp(user, code):
        return None
    user.totp_enabled_at = utcnow()
    user.session_version += 1
    codes = new_recovery_codes(user)
    record("auth.second_factor_enrolled", target_type="user", target_id=user.id, username=user.username)
    return codes


def codes_left(user: User) -> int:
    return sum(1 for r in user.recovery_codes if r.used_at is None)
