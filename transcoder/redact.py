"""Credentials never leave the worker: camera URLs and ffmpeg's messages lose their secrets here."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_QUERY_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|pass|token|secret|auth|key)=([^&\s]+)")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove URL credentials, secret query values and any of ``secrets`` (e.g. a camera's password)."""
    text = _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}=***", text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def url_secrets(url: str) -> tuple[str, ...]:
    """The user name and password in a URL (also their percent-decoded forms), for :func:`redact`."""
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found: list[str] = []
    for value in (parts.password, parts.username):
        if value:
            found.extend({value, unquote(value)})
    for match in _QUERY_SECRET.finditer(parts.query):
        found.append(match.group(2))
    return tuple(found)
