"""Media values the worker API carries: defaults the portal sends, what the worker accepts."""

from __future__ import annotations

import re

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


def is_media_key(value: object) -> bool:
    return isinstance(value, str) and MEDIA_KEY_PATTERN.fullmatch(value) is not None
