"""Tracking codes: short, unguessable, no look-alike characters (0/O, 1/I/L), easy to read over the phone."""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PREFIX = "LP"


def new_tracking_code() -> str:
    """``LP-XXXX-XXXX``: 31**8 ≈ 8.5e11 codes, so guessing another's report is hopeless at any rate limit."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{PREFIX}-{body[:4]}-{body[4:]}"


def normalise(code: str) -> str:
    """What a person typed (lower case, spaces, no dashes) to the stored form; '' when it can't be a code."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())[:20]
    if raw.startswith(PREFIX):
        raw = raw[len(PREFIX):]
    if len(raw) != 8 or any(ch not in ALPHABET for ch in raw):
        return ""
    return f"{PREFIX}-{raw[:4]}-{raw[4:]}"
