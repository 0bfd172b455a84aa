"""Bounds on every input: checked before a value reaches the database, a regular expression or a template.

Each check takes the raw value (from JSON, a form or a query string), names the field it came from and
either returns a clean value or raises :class:`InputError`, whose message is translated (Bahasa Indonesia by
default, English with ``?lang=en``) and never repeats the value. Every check is linear in the size of its
input, and sizes are checked first. The same bounds hold on SQLite and PostgreSQL: ids fit a 32-bit
``INTEGER``, sizes a 64-bit ``BIGINT``, times a year both databases and Python store.

    name = bounds.text(raw.get("name"), "name", max_len=120)
    ids = bounds.items(raw.get("ids"), "ids", max_items=9, each=lambda v, f: bounds.integer(v, f, 1, INT32_MAX))
    body = bounds.read_json(request)  # size, depth, NaN and lone surrogates refused before anyone looks inside

Pages and APIs turn an ``InputError`` into a 400 (``portal.errors``); views need not catch it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BaseConverter, ValidationError

from contract.limits import MAX_JSON_DEPTH

T = TypeVar("T")
INT32_MAX = 2**31 - 1  # PostgreSQL INTEGER, the type of every id column
INT64_MAX = 2**63 - 1  # PostgreSQL BIGINT (bytes, counters)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # no camera, report or recording is older
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
MAX_TIME_CHARS = 40  # "2026-11-22T21:03:04.512345+08:00" is 32
_MISSING: Any = object()


class InputError(ValueError):
    """A value out of bounds. ``message`` is a translatable text; the value itself is never repeated."""

    def __init__(self, field: str, message: Any, **params: Any) -> None:
        self.field = field
        self.message = message
        self.params = params
        super().__init__(field)

    def __str__(self) -> str:  # in the request's language when there is one (lazy text), else English
        return f"{self.field}: {self.message}"


def _required(field: str) -> InputError:
    return InputError(field, _l("is required"))


def _present(value: Any, field: str, default: Any) -> bool:
    if value is None or value is _MISSING:
        if default is _MISSING:
            raise _required(field)
        return False
    return True


def clean_text(value: str, field: str, *, multiline: bool = False) -> str:
    """Refuse NUL and other control characters (tab and newline allowed when ``multiline``) and lone
    surrogates, which no database column or UTF-8 encoder takes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(field, _l("contains characters that are not valid text")) from None
    allowed = "\t\n\r" if multiline else ""
    if not value.isprintable():  # cheap first look: most text is printable
        for ch in value:
            if (ord(ch) < 32 and ch not in allowed) or ord(ch) == 127:
                raise InputError(field, _l("must not contain control characters"))
    return value


def text(value: Any, field: str, *, max_len: int, min_len: int = 0, multiline: bool = False, strip: bool = True,
         default: Any = _MISSING) -> Any:
    """A string of at most ``max_len`` characters (checked before anything else looks at it)."""
    if not _present(value, field, default):
        return default
    if not isinstance(value, str):
        raise InputError(field, _l("must be text"))
    if len(value) > max_len:
        raise InputError(field, _l("must be at most %(max)d characters", max=max_len))
    clean_text(value, field, multiline=multiline)
    if strip:
        value = value.strip()
    if len(value) < min_len:
        if min_len == 1:
            raise _required(field)
        raise InputError(field, _l("must be at least %(min)d characters", min=min_len))
    return value


def integer(value: Any, field: str, minimum: int, maximum: int, *, default: Any = _MISSING) -> Any:
    """A whole number (JSON number, not a boolean) within ``minimum..maximum``."""
    if not _present(value, field, default):
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and minimum <= value <= maximum:
            return int(value)
        raise InputError(field, _l("must be a whole number"))
    if not minimum <= value <= maximum:
        raise InputError(field, _l("must be between %(min)s and %(max)s", min=minimum, max=maximum))
    return value


def number(value: Any, field: str, minimum: float, maximum: float, *, default: Any = _MISSING) -> Any:
    """A finite number within ``minimum..maximum`` (NaN and infinities refused)."""
    if not _present(value, field, default):
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, _l("must be a number"))
    if isinstance(value, int) and not minimum <= value <= maximum:  # before float(): a huge int overflows
        raise InputError(field, _l("must be between %(min)s and %(max)s", min=minimum, max=maximum))
    number_ = float(value)
    if not math.isfinite(number_) or not minimum <= number_ <= maximum:
        raise InputError(field, _l("must be between %(min)s and %(max)s", min=minimum, max=maximum))
    return number_


def flag(value: Any, field: str, *, default: Any = _MISSING) -> Any:
    if not _present(value, field, default):
        return default
    if not isinstance(value, bool):
        raise InputError(field, _l("must be true or false"))
    return value


def choice(value: Any, field: str, options: Iterable[str], *, default: Any = _MISSING) -> Any:
    if not _present(value, field, default):
        return default
    allowed = tuple(options)
    if not isinstance(value, str) or value not in allowed:
        raise InputError(field, _l("must be one of %(options)s", options=", ".join(sorted(allowed))))
    return value


def moment(value: Any, field: str, *, earliest: dt.datetime = EARLIEST, latest: dt.datetime = LATEST,
           default: Any = _MISSING) -> Any:
    """An ISO 8601 time with an offset, between ``earliest`` and ``latest``, returned in UTC."""
    if not _present(value, field, default):
        return default
    if not isinstance(value, str):
        raise InputError(field, _l("must be a time"))
    if len(value) > MAX_TIME_CHARS or not value.isascii():
        raise InputError(field, _l("is not an ISO 8601 time"))
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(field, _l("is not an ISO 8601 time")) from None
    if parsed.tzinfo is None:
        raise InputError(field, _l("must carry a time zone offset"))
    # Compare before converting: year 1 at +01:00 is before year 1 in UTC, which Python cannot represent.
    if not (earliest.replace(tzinfo=None) <= parsed.replace(tzinfo=None) <= latest.replace(tzinfo=None)):
        raise InputError(field, _l("must be between %(earliest)s and %(latest)s",
                                   earliest=earliest.date().isoformat(), latest=latest.date().isoformat()))
    utc = parsed.astimezone(dt.UTC)
    if not earliest <= utc <= latest:
        raise InputError(field, _l("must be between %(earliest)s and %(latest)s",
                                   earliest=earliest.date().isoformat(), latest=latest.date().isoformat()))
    return utc


def items(value: Any, field: str, *, max_items: int, each: Callable[[Any, str], T],
          default: Any = _MISSING) -> Any:
    """A list of at most ``max_items`` entries, each checked by ``each(value, "field[i]")``."""
    if not _present(value, field, default):
        return default
    if not isinstance(value, list):
        raise InputError(field, _l("must be a list"))
    if len(value) > max_items:
        raise InputError(field, _l("must have at most %(max)d entries", max=max_items))
    return [each(item, f"{field}[{i}]") for i, item in enumerate(value)]


def mapping(value: Any, field: str, *, default: Any = _MISSING) -> Any:
    if not _present(value, field, default):
        return default
    if not isinstance(value, dict):
        raise InputError(field, _l("must be an object"))
    return value


def free_json(value: Any, field: str, *, max_bytes: int, max_depth: int = 8) -> Any:
    """Arbitrary JSON kept as is (e.g. a worker's own health figures): bounded size and depth, every key
    and string valid text, every number finite."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise InputError(field, _l("is nested too deeply (at most %(max)d levels)", max=max_depth))
        if isinstance(node, dict):
            for key, child in node.items():
                clean_text(key, field)
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str):
            clean_text(node, field, multiline=True)
        elif isinstance(node, float) and not math.isfinite(node):
            raise InputError(field, _l("must be a number"))
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    except (ValueError, TypeError):
        raise InputError(field, _l("is not valid JSON")) from None
    if size > max_bytes:
        raise InputError(field, _l("must be at most %(max)d bytes", max=max_bytes))
    return value


# -- JSON request bodies --

def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _no_constant(raw: str) -> Any:
    raise ValueError(f"{raw[:10]} is not JSON")


def depth(value: Any) -> int:
    """Nesting depth of parsed JSON (iterative: any depth json.loads could build is safe to measure)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


def parse_json(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strict JSON: no NaN or Infinity, numbers that fit a double, bounded nesting. Raises InputError."""
    try:
        value = json.loads(data, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise InputError("body", _l("is nested too deeply (at most %(max)d levels)", max=max_depth)) from None
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError, a 5,000-digit integer, bad UTF-8
        raise InputError("body", _l("is not valid JSON")) from None
    if depth(value) > max_depth:
        raise InputError("body", _l("is nested too deeply (at most %(max)d levels)", max=max_depth))
    return value


def read_json(request: Request, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The request's JSON body, within the request's size limit (413 beyond it) and :func:`parse_json`'s
    bounds (400)."""
    if not request.is_json:
        raise InputError("body", _l("must be JSON (Content-Type: application/json)"))
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    data = request.get_data(cache=True)  # werkzeug stops reading at the limit and raises 413
    return parse_json(data, max_depth=max_depth)


# -- ids in URLs --

class BoundedInt(BaseConverter):
    """``<int:id>`` that means what a database id can be: ASCII digits only, 0..2**31-1 by default (the
    same on SQLite and PostgreSQL), no leading sign. Anything else is a clean 404, never a 500.

    Registered as ``int`` (replacing werkzeug's, whose ``\\d`` also matches other scripts' digits) and as
    ``id``; ``<int(max=99):n>`` and ``<int(min=1):n>`` narrow it.
    """

    regex = r"[0-9]{1,19}"
    weight = 50
    part_isolating = True

    def __init__(self, map: Any, min: int = 0, max: int = INT32_MAX) -> None:  # noqa: A002 (werkzeug's names)
        super().__init__(map)
        self.min = min
        self.max = max

    def to_python(self, value: str) -> int:
        number_ = int(value)
        if not self.min <= number_ <= self.max:
            raise ValidationError()
        return number_

    def to_url(self, value: Any) -> str:
        return str(int(value))


def query_id(raw: str, field: str) -> int:
    """One id from a query string: ASCII digits, 1..2**31-1."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise InputError(field, _l("must be a camera number"))
    value = int(raw)
    if not 1 <= value <= INT32_MAX:
        raise InputError(field, _l("must be a camera number"))
    return value


def init_app(app: Any) -> None:
    app.url_map.converters["int"] = BoundedInt
    app.url_map.converters["id"] = BoundedInt
