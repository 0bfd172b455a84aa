"""Keeping secrets off pages, logs and error messages: URL credentials and token comparison."""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_QUERY_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|pass|token|secret|auth|key)=([^&\s]+)")


def redact_url(url: str) -> str:
    """``rtsp://admin:pw@10.0.0.5/s1`` becomes ``rtsp://***@10.0.0.5/s1``; queries lose secrets."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}=***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Remove anything that looks like URL credentials or secret query values from free text."""
    text = _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}=***", text)


def tokens_equal(given: str | None, expected: str) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
