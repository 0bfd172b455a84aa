"""Reading untrusted JSON: typed field access with clear errors."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar, overload

T = TypeVar("T")
_MISSING: Any = object()


class PayloadError(ValueError):
    """A request body field is missing or of the wrong type; the message names the field."""


@overload
def want(obj: dict[str, Any], key: str, kind: type[T]) -> T: ...
@overload
def want(obj: dict[str, Any], key: str, kind: type[T], default: Any) -> Any: ...


def want(obj: dict[str, Any], key: str, kind: type[Any], default: Any = _MISSING) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise PayloadError(f"{key} is required")
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise PayloadError(f"{key} must be a whole number")
    if not isinstance(value, kind):
        raise PayloadError(f"{key} must be of type {kind.__name__}")
    return value


def parse_time(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError("times must carry an offset")
    return parsed.astimezone(dt.UTC)
