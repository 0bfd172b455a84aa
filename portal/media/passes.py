"""Media passes: signed, expiring paths that let a browser read a private camera's media on a media node.

A browser sends the portal's session cookie only to the portal's own host, so a media node cannot tell who
is watching. For a private camera on a node, the portal (to someone who may view it) hands out
``<media_url>/media/p/<expires>/<signature>/hls/<key>/index.m3u8``: the segments' relative URLs keep the
prefix, the node's nginx passes it to the portal's access check, and the portal checks its own signature.
Passes are cut per hour (everyone watching in the same hour gets the same URL) and last 1 to 2 hours;
changing ``PANTAU_SECRET_KEY`` revokes all of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from flask import current_app

HOUR_S = 3600
SIGNATURE_CHARS = 32
MAX_AHEAD_S = 3 * HOUR_S  # a pass further in the future than this was not made by this portal's clock
EXPIRES = re.compile(r"^[0-9]{10}$")
SIGNATURE = re.compile(rf"^[A-Za-z0-9_-]{{{SIGNATURE_CHARS}}}$")


def _signature(key: str, expires: int) -> str:
    secret = str(current_app.config["PANTAU"].secret_key).encode()
    derived = hmac.new(secret, b"pantau-media-pass", hashlib.sha256).digest()
    mac = hmac.new(derived, f"{key}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()[:SIGNATURE_CHARS]


def issue(key: str, now: float | None = None) -> str:
    """The path prefix (``p/<expires>/<signature>/``) for this camera key, valid 1 to 2 hours."""
    now = time.time() if now is None else now
    expires = (int(now) // HOUR_S + 2) * HOUR_S
    return f"p/{expires}/{_signature(key, expires)}/"


def valid(key: str, expires: str, signature: str, now: float | None = None) -> bool:
    if not EXPIRES.fullmatch(expires) or not SIGNATURE.fullmatch(signature):
        return False
    now = time.time() if now is None else now
    when = int(expires)
    if not now < when <= now + MAX_AHEAD_S:
        return False
    return hmac.compare_digest(_signature(key, when), signature)
