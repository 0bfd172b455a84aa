"""Agencies' webhook secrets at rest: encrypted (Fernet) with a key derived from the portal's secret key, shown
to the admin once when made, never again (pages show only whether one is set). The jobs process opens them to
sign deliveries. Changing ``PANTAU_SECRET_KEY`` makes the kept secrets unreadable: rotate them then."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "f1:"


class SecretUnreadable(RuntimeError):
    pass


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"pantau-dispatch-webhook-secret\0" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def new_secret() -> str:
    """A fresh shared secret for an agency (the agency keeps it to check signatures)."""
    return "whsec_" + secrets.token_urlsafe(32)


def seal(secret: str, secret_key: str) -> str:
    return PREFIX + _fernet(secret_key).encrypt(secret.encode()).decode()


def unseal(stored: str, secret_key: str) -> str:
    if not stored.startswith(PREFIX):
        raise SecretUnreadable("not a sealed secret")
    try:
        return _fernet(secret_key).decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the secret key changed since this secret was sealed") from None
