"""Media values the worker API carries: defaults the portal sends, what the worker accepts."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Live HLS cuts on keyframes, so a live segment lasts max(SEGMENT_SECONDS, the camera's keyframe interval).
SEGMENT_SECONDS = 1
HLS_LIST_SIZE = 6
RECORD_SEGMENT_SECONDS = 60
# Snapshots: every SNAPSHOT_INTERVAL_S while someone looks at a camera, every SNAPSHOT_IDLE_INTERVAL_S otherwise.
SNAPSHOT_INTERVAL_S = 5
SNAPSHOT_IDLE_INTERVAL_S = 120
RETENTION_DAYS = 30

# What happens to a camera's audio: dropped, or converted to AAC (browsers can't play G.711).
AUDIO_MODES = ("drop", "aac")
DEFAULT_AUDIO = "drop"

# Schemes a camera source may use; local files only in demo mode (ALLOW_FILE_SOURCES).
NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")

# A camera's media key names its folder (hls/<key>/, snapshots/<key>.jpg): 16 hex digits when made,
# 8 to 32 accepted, so a key is never a path and never guessable from the camera id.
MEDIA_KEY_BYTES = 8
MEDIA_KEY_PATTERN = re.compile(r"^[0-9a-f]{8,32}$")


# The public marker: an empty file hls/<key>/.public that the worker running a camera keeps while the sync reply
# says the camera is public (``public``); nginx serves a signed link's playlist only while it exists
# (transcoder/public.py, nginx/pantau.conf.template). A dot name: no media location of nginx serves it.
PUBLIC_MARKER = ".public"


def is_media_key(value: object) -> bool:
    return isinstance(value, str) and MEDIA_KEY_PATTERN.fullmatch(value) is not None


# A media node's public address (the worker's PANTAU_MEDIA_URL, the sync's ``worker.media_url``).
MEDIA_URL_MAX_CHARS = 200
_MEDIA_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")


def normalize_media_url(value: str) -> str:
    """``https://media1.example.go.id/`` -> ``https://media1.example.go.id``; ValueError when it is not an http(s)
    origin with an optional plain path prefix (no query, fragment, user name, spaces; ASCII; bounded)."""
    text = value.strip()
    if len(text) > MEDIA_URL_MAX_CHARS or not text.isascii() or any(c.isspace() or ord(c) < 32 for c in text):
        raise ValueError(f"must be an http(s) address of at most {MEDIA_URL_MAX_CHARS} characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("must be an http(s) address such as https://media1.example.go.id") from None
    del port
    path = parts.path.rstrip("/")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None \
            or parts.password is not None or parts.query or parts.fragment or "?" in text or "#" in text \
            or not _MEDIA_PATH.fullmatch(path) or "/../" in path + "/" or "/./" in path + "/":
        raise ValueError("must be an http(s) address such as https://media1.example.go.id")
    return f"{parts.scheme}://{parts.netloc.lower()}{path}"


def media_origin(url: str) -> str:
    """The origin (scheme://host[:port]) of a normalized media URL: what CSP and the allowed list speak."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"
