"""Credentials never reach a page, a log line or an error message: what counts as one and how it is masked.

Both planes redact with these patterns (the worker before a line of ffmpeg's stderr leaves it, the portal
before anything is stored or shown). Every quantifier is bounded and each pattern is anchored on a literal,
so redaction runs in linear time on any input; callers still bound their input's length.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"

# Query or form parameters whose value is a secret (matched as whole names, case-insensitively).
SECRET_PARAMS = (
    "password", "passwd", "pass", "pwd", "token", "access_token", "auth_token", "api_key", "apikey", "key",
    "secret", "client_secret", "auth", "authorization", "sig", "signature", "credential", "credentials",
    "session", "sessionid",
)

# scheme://userinfo@ : the scheme is bounded, the userinfo is anything up to the first '@', '/' or space.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}://)[^/@\s]{1,512}@")
_PARAM_NAMES = "|".join(sorted((re.escape(p) for p in SECRET_PARAMS), key=len, reverse=True))
_QUERY_SECRET = re.compile(rf"(?i)(?<![A-Za-z0-9_])(?P<name>{_PARAM_NAMES})=(?P<value>[^&\s\"'<>]{{1,4096}})")


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask URL credentials, secret parameter values and any of ``secrets`` (e.g. a camera's password)."""
    text = _USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group('name')}={MASK}", text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def redact_url(url: str) -> str:
    """``rtsp://admin:pw@127.0.0.1/s1`` becomes ``rtsp://***@127.0.0.1/s1``; secret parameters lose their values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = _QUERY_SECRET.sub(lambda m: f"{m.group('name')}={MASK}", parts.query)
    return redact_text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def url_secrets(url: str) -> tuple[str, ...]:
    """The user name, password and secret parameter values of a URL (also percent-decoded), for :func:`redact_text`."""
    try:
        parts = urlsplit(url)
        found: list[str] = []
        for value in (parts.password, parts.username):
            if value:
                found.extend({value, unquote(value)})
    except ValueError:
        return ()
    for match in _QUERY_SECRET.finditer(parts.query):
        value = match.group("value")
        found.extend({value, unquote(value)})
    return tuple(found)


_factory_installed = False


def install_log_redaction() -> None:
    """Redact every log record of this process as it is made: its message (with arguments filled in) and
    its traceback, whoever logs it (our code, Flask, SQLAlchemy, gunicorn). Idempotent."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return record
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
