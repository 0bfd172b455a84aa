"""Signed media links: expiring playlist URLs that nginx checks by itself (``secure_link``), so the segments of a
public camera (most of the bytes, immutable) need no access check by the portal.

The portal gives ``/media/s/<key id>/<expires>/<signature>/hls/<key>/index.m3u8`` to whoever may watch a public
camera (the player page and its status feed; the open GeoJSON keeps the plain, unsigned URL). The segments'
relative URLs keep the prefix. nginx (``nginx/pantau.conf.template``, ``nginx/media-node.conf.template``):

- segments under the prefix: served when the signature is right and not expired (403 tampered or for another
  camera, 410 expired), with no subrequest;
- the playlist under the prefix: the same check, and the camera's public marker ``hls/<key>/.public`` must exist
  (kept by the worker that runs the camera from each sync reply's ``public``: ``transcoder/public.py``), with no
  question to the portal either; a camera switched to private loses it at the worker's next sync (2 s).

A link expires 2 to 3 x ``PANTAU_MEDIA_LINK_SECONDS`` (20 s: 40 to 60 s) after it is made; everyone asking in the
same step gets the same URL (a CDN shares it). An open player renews it from the status feed it polls anyway and
rewrites its requests to the newest link without reloading. After a switch to private the status feed refuses
at once and the playlist within one sync, so a player stops; a client that guesses the next segment names with a
link it already holds can fetch those until the link expires (at most 3 x ``PANTAU_MEDIA_LINK_SECONDS``).

The signature is nginx's ``secure_link_md5`` of ``"<expires> <key> <secret>"`` (base64url, no padding); the
secret (``PANTAU_MEDIA_LINK_SECRET``) is known to the portal and to each nginx (``render.py
--media-link-secret-file``) and never reaches a page or a log: a link names the secret by a key id (the first 8 hex
digits of a SHA-256 of it), so nginx can accept an old and a new secret while they are rotated (docs/deploy.md).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time

PREFIX = "s"
KEY_ID_CHARS = 8
SECRET = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
LINK = re.compile(r"/media/s/[0-9a-f]{8}/[0-9]{10}/[A-Za-z0-9_-]{22}/")


def key_id(secret: str) -> str:
    """The public name of a secret (nginx/render.py computes the same)."""
    return hashlib.sha256(f"pantau-media-link:{secret}".encode()).hexdigest()[:KEY_ID_CHARS]


def signature(secret: str, key: str, expires: int) -> str:
    digest = hashlib.md5(f"{expires} {key} {secret}".encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def expiry(step_s: int, now: float | None = None) -> int:
    """2 to 3 steps ahead, on a step boundary: the same for everyone asking within one step."""
    now = time.time() if now is None else now
    return (int(now) // step_s + 3) * step_s


def issue(secret: str, key: str, step_s: int, now: float | None = None) -> str:
    """The path prefix (``s/<key id>/<expires>/<signature>/``) for this camera key."""
    expires = expiry(step_s, now)
    return f"{PREFIX}/{key_id(secret)}/{expires}/{signature(secret, key, expires)}/"


def unsigned(url: str) -> str:
    """The same URL without its link prefix."""
    return LINK.sub("/media/", url)
