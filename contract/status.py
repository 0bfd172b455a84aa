"""Camera status codes both planes agree on: the worker reports them, the portal stores and shows them.

A worker reports two things per camera: ``state`` (its supervisor's state machine, for the health page) and
``status`` (what an operator and the public see), with a ``reason`` code that says why, and the technical
line (``error``) beside it. The portal translates each reason into a short message in Bahasa Indonesia and
English; the messages below are the English msgids (``tests/contract`` fails when the two sides drift).
"""

from __future__ import annotations

# The supervisor's states (transcoder.camera.State), in the order of a camera's life.
WORKER_STATES = ("stopped", "starting", "running", "backoff", "stopping", "failed")

# What the worker may report as a camera's status, and what each means for an operator.
STATUS_MEANINGS = {
    "online": "the camera streams; live video, recording and snapshots are being made",
    "starting": "ffmpeg was started and the first live segment is not written yet",
    "offline": "the camera is unreachable, timed out or sends no media: wait, or check its power and network",
    "auth_failed": "the camera refused the user name or password: fix the credentials in the camera's settings",
    "unsupported": "the camera sends a codec or stream the portal cannot serve: change the camera's encoding",
    "error": "anything else (a refused source address, too many restarts, ffmpeg failing): read the technical line",
}
REPORTED_STATUSES = tuple(STATUS_MEANINGS)
# The portal adds "unknown" for a camera no worker has reported on yet.
STATUSES = (*REPORTED_STATUSES, "unknown")

# Why a camera has its status: reason code -> (status, short English message; the portal translates it).
REASONS = {
    "unreachable": ("offline", "The camera cannot be reached on the network."),
    "timeout": ("offline", "The camera does not answer."),
    "no_media": ("offline", "The camera answers but sends no video."),
    "stalled": ("offline", "The camera stopped sending video."),
    "ended": ("offline", "The camera ended the stream."),
    "auth": ("auth_failed", "The camera refused the user name or password."),
    "codec": ("unsupported", "The camera sends a video format the portal cannot serve."),
    "no_video": ("unsupported", "The camera sends no video stream."),
    "source_refused": ("error", "The camera's address is not allowed."),
    "restart_budget": ("error", "The camera was restarted too often; retrying later."),
    "ffmpeg": ("error", "The video process failed."),
}
REASON_MAX_LENGTH = 16

# Video codecs the live view and the recordings can carry by copying (browsers: H.264 everywhere, H.265
# where the browser decodes HEVC); anything else is "unsupported".
SERVABLE_VIDEO_CODECS = ("h264", "hevc")


def status_for(reason: str) -> str:
    """The status a reason belongs to (``error`` for a reason this version does not know)."""
    return REASONS.get(reason, ("error", ""))[0]
