"""Bounds of the worker API that both planes must respect: the portal refuses a sync beyond them (400 or
413), so the worker sends its backlog in batches that stay inside them.
"""

from __future__ import annotations

# One sync body, in bytes (nginx's client_max_body_size for the worker API and the portal's own limit).
MAX_SYNC_BODY_BYTES = 4 * 1024 * 1024
# Nesting depth of any JSON body the portal reads (a sync is 4 deep; worker.health adds a few levels).
MAX_JSON_DEPTH = 16
# Entries per sync: recording segments handed over, deletions reported, camera statuses.
MAX_SYNC_SEGMENTS = 2000
MAX_SYNC_DELETED = 5000
MAX_SYNC_CAMERAS = 5000
# A camera's report: the error text and the last lines of ffmpeg's stderr.
MAX_ERROR_CHARS = 4000
MAX_STDERR_LINES = 50
MAX_STDERR_LINE_CHARS = 2000
# worker.health, encoded as JSON.
MAX_HEALTH_BYTES = 20000
# A recording path, relative to the media root: recordings/<camera id>/<YYYYmmdd>/<HHMMSS>.mp4
MAX_PATH_CHARS = 500
