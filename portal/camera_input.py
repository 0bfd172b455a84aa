"""Checking camera fields from any door (CLI, admin forms, imports): clear errors, secrets never echoed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contract.media import AUDIO_MODES
from contract.media import NETWORK_SCHEMES as STREAM_SCHEMES
from portal.models.camera import CAMERA_CATEGORIES


class CameraInputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_source(field: str, url: str, *, allow_files: bool) -> str:
    """Accept rtsp/rtsps/http(s) URLs with a host; a local file only in demo mode."""
    url = url.strip()
    if not url:
        raise CameraInputError(field, "is required")
    if any(ch.isspace() for ch in url) or any(ord(ch) < 32 for ch in url):
        raise CameraInputError(field, "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise CameraInputError(field, "is not a valid URL") from None
    if parts.scheme in STREAM_SCHEMES:
        if not host:
            raise CameraInputError(field, "has no host")
        return url
    if allow_files and (parts.scheme in ("", "file")):
        path = Path(parts.path if parts.scheme == "file" else url)
        if not path.is_absolute() or not path.is_file():
            raise CameraInputError(field, "must be an existing absolute file path (demo mode)")
        return str(path)
    raise CameraInputError(field, f"must start with one of {', '.join(s + '://' for s in STREAM_SCHEMES)}")


def check_coordinate(field: str, value: Any, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CameraInputError(field, "must be a number") from None
    if not (low <= number <= high):
        raise CameraInputError(field, f"must be between {low} and {high}")
    return number


@dataclass
class CameraFields:
    """Validated values; only the keys given are set (so ``set`` can change one field)."""

    values: dict[str, Any]


def check_fields(raw: dict[str, Any], *, allow_files: bool, creating: bool) -> CameraFields:
    out: dict[str, Any] = {}
    required = ("name", "latitude", "longitude", "source_url") if creating else ()
    for name in required:
        if raw.get(name) in (None, ""):
            raise CameraInputError(name, "is required")
    if raw.get("name") is not None:
        name = str(raw["name"]).strip()
        if not name or len(name) > 120:
            raise CameraInputError("name", "must be 1 to 120 characters")
        out["name"] = name
    if raw.get("latitude") is not None:
        out["latitude"] = check_coordinate("latitude", raw["latitude"], -90, 90)
    if raw.get("longitude") is not None:
        out["longitude"] = check_coordinate("longitude", raw["longitude"], -180, 180)
    if raw.get("source_url") is not None:
        out["source_url"] = check_source("source_url", str(raw["source_url"]), allow_files=allow_files)
    if raw.get("substream_url") is not None:
        sub = str(raw["substream_url"]).strip()
        out["substream_url"] = check_source("substream_url", sub, allow_files=allow_files) if sub else None
    if raw.get("category") is not None:
        if raw["category"] not in CAMERA_CATEGORIES:
            raise CameraInputError("category", f"must be one of {', '.join(CAMERA_CATEGORIES)}")
        out["category"] = raw["category"]
    if raw.get("audio") is not None:
        if raw["audio"] not in AUDIO_MODES:
            raise CameraInputError("audio", f"must be one of {', '.join(AUDIO_MODES)}")
        out["audio"] = raw["audio"]
    if raw.get("retention_days") is not None:
        try:
            days = int(raw["retention_days"])
        except (TypeError, ValueError):
            raise CameraInputError("retention_days", "must be a whole number") from None
        if not 1 <= days <= 3650:
            raise CameraInputError("retention_days", "must be between 1 and 3650")
        out["retention_days"] = days
    for text, limit in (("description", 4000), ("district", 80)):
        if raw.get(text) is not None:
            value = str(raw[text]).strip()
            if len(value) > limit:
                raise CameraInputError(text, f"must be at most {limit} characters")
            out[text] = value
    for flag in ("enabled", "public", "recording"):
        if raw.get(flag) is not None:
            out[flag] = bool(raw[flag])
    return CameraFields(out)
