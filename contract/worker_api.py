"""The worker API's shape (``docs/worker-api.md``): version, path, settings sent down, lease timing."""

from __future__ import annotations

API_VERSION = 1
BASE_PATH = "/api/worker/v1"
SYNC_PATH = f"{BASE_PATH}/sync"

# Settings the portal sends in every sync reply (``settings``); the worker reads exactly these.
OUTPUT_SETTINGS = ("segment_seconds", "hls_list_size", "record_segment_seconds", "snapshot_interval_s",
                   "allow_file_sources")
# Fields of each camera in the reply.
CAMERA_FIELDS = ("id", "key", "source_url", "substream_url", "recording", "audio", "retention_days")
# Fields of each camera's status in the request.
STATUS_FIELDS = ("id", "state", "status", "reason", "error", "stderr_tail", "bitrate_kbps", "fps", "codec",
                 "width", "height", "last_segment_at", "restarts_last_hour")

SYNC_INTERVAL_S = 5
LEASE_SECONDS = 30
# A worker that cannot reach the portal (connection refused, timeout, 5xx) keeps its cameras running and
# recording this long past its lease; a reply that takes the cameras away stops them at once.
LEASE_GRACE_S = 600
# HTTP answers that mean "the portal is there and refuses this worker": stop at once, no grace.
REFUSED_STATUS_CODES = (401, 403)
