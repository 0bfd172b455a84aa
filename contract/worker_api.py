"""The worker API's shape (``docs/worker-api.md``): version, path, settings sent down, lease timing."""

from __future__ import annotations

API_VERSION = 1
BASE_PATH = "/api/worker/v1"
SYNC_PATH = f"{BASE_PATH}/sync"

# Settings the portal sends in every sync reply (``settings``); the worker reads exactly these.
OUTPUT_SETTINGS = ("segment_seconds", "hls_list_size", "record_segment_seconds", "snapshot_interval_s",
                   "snapshot_idle_interval_s", "allow_file_sources")
# Fields of each camera in the reply. ``public`` (revision 5): the camera is public now (the portal's one rule:
# public, enabled, not archived, its owner agency agrees); the worker keeps contract.media.PUBLIC_MARKER in the
# camera's HLS folder while it is true. It changes no ffmpeg setting: the worker's CameraSpec leaves it out.
CAMERA_FIELDS = ("id", "key", "source_url", "substream_url", "recording", "audio", "retention_days", "public")
# The reply's camera fields the worker does not pass to ffmpeg (not in transcoder.ffmpeg.CameraSpec).
CAMERA_MARKER_FIELDS = ("public",)
# Fields of each camera's status in the request.
STATUS_FIELDS = ("id", "state", "status", "reason", "error", "stderr_tail", "bitrate_kbps", "fps", "codec",
                 "width", "height", "last_segment_at", "restarts_last_hour")

# A sync every 2 s: a camera freed by a worker that left is taken by another within about one interval. A worker
# that vanishes without a word (its machine lost power) loses its cameras when its lease runs out.
SYNC_INTERVAL_S = 2
LEASE_SECONDS = 15
# A worker that cannot reach the portal (connection refused, timeout, 5xx) keeps its cameras running and
# recording this long past its lease; a reply that takes the cameras away stops them at once.
LEASE_GRACE_S = 600
# HTTP answers that mean "the portal is there and refuses this worker": stop at once, no grace.
REFUSED_STATUS_CODES = (401, 403)

# -- Legal holds and export jobs (added in API version 1, revision 2: docs/worker-api.md "Holds and exports") --
# Both fields are optional both ways: a worker that does not know them ignores them, and a portal that sends
# none gets none back.
API_REVISION = 5  # 2: holds and exports; 3: worker.media_url; 4: worker.leaving; 5: cameras[].public

# The reply's ``holds``: every active legal hold of every camera (a worker's disk may hold footage of cameras
# it no longer runs), as time spans; the worker never deletes a segment whose time overlaps one of them.
HOLD_FIELDS = ("camera_id", "start", "end")

# The reply's ``exports``: the export jobs this worker must run (footage it recorded). ``output`` is the file to
# write, relative to the media root, under EXPORTS_DIR; ``sources`` are the recorded segments in time order.
EXPORTS_DIR = "exports"
EXPORT_JOB_FIELDS = ("id", "camera_id", "start", "end", "output", "sources")
EXPORT_SOURCE_FIELDS = ("path", "start", "end")
# The reply's ``expired_exports``: files past their days that the worker must delete (it reports them back in
# the request's ``deleted_exports``).

# The request's ``exports``: one report per job the worker knows, sent every sync until a sync carrying its
# final state succeeded. ``state`` is one of EXPORT_STATES; ``progress`` is 0..1.
EXPORT_STATES = ("queued", "running", "done", "empty", "failed")
EXPORT_FINAL_STATES = ("done", "empty", "failed")
EXPORT_REPORT_FIELDS = ("id", "state", "progress", "output", "bytes", "sha256", "duration_s", "actual_start",
                        "actual_end", "sources", "missing", "error", "ffmpeg_version")
# Each of a finished report's ``sources``: a segment that went into the file, hashed as it was read.
EXPORT_SOURCE_REPORT_FIELDS = ("path", "bytes", "sha256")
# Each segment of the request's ``segments`` may carry ``init_bytes``: the size of its ftyp+moov head, so the
# portal can make an HLS playlist of archived segments (EXT-X-MAP with a byte range).
SEGMENT_FIELDS = ("camera_id", "start", "end", "bytes", "path", "init_bytes")

# -- Media nodes (API version 1, revision 3: docs/worker-api.md "Media nodes") --
# The request's ``worker.media_url``: the public address under which this worker's node serves its MEDIA_ROOT
# (``<media_url>/media/hls/<key>/index.m3u8``, ``<media_url>/media/snapshots/<key>.jpg``), e.g.
# ``https://media1.cctv.example.go.id``. Absent or empty: the portal's own ``/media`` (one machine). An http(s)
# origin with an optional path prefix, no query, fragment or user name, at most contract.media.MEDIA_URL_MAX_CHARS
# characters (contract.media.normalize_media_url); the portal accepts only origins listed in its
# PANTAU_MEDIA_ORIGINS and answers 400 otherwise.
# The media node's nginx names itself in its access checks with this header (its own PANTAU_MEDIA_URL), so the
# portal refuses a camera that the node no longer runs (a stale folder is never served as live).
MEDIA_NODE_HEADER = "X-Pantau-Media-Node"

# -- Leaving (API version 1, revision 4: docs/worker-api.md "Leaving") --
# The request's ``worker.leaving: true``: this worker is going away (its last sync at a clean stop, or the farewell
# its watcher process sends when the worker died, even by SIGKILL). The portal stores the segments it carries, then
# releases every lease of the worker at once, so the other workers take its cameras on their next sync instead of
# when the leases run out; the worker no longer counts as live until it syncs again.
# A segment of a camera that moved away is still accepted from the worker that recorded it when it began while that
# worker held the camera (within HANDOVER_SLACK_S of the lease's span; the portal remembers the spans for two days):
# the last segment of an ffmpeg stopped because its camera moved, and what a killed worker's ffmpeg left behind,
# handed over when the worker comes back.
HANDOVER_SLACK_S = 10
# A media node that ran a camera until it moved keeps serving what it has of it this long (its last segments),
# while open players learn the new address (they poll the camera's status every 2.5 s); then it refuses.
HANDOVER_SERVE_S = 6
