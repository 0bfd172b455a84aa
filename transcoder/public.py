"""The public marker: an empty file ``hls/<key>/.public`` (``contract.media.PUBLIC_MARKER``) that says "this camera is
public now", kept by the worker that runs the camera from what each sync reply says (the camera's ``public``).

nginx serves a signed link's playlist (``/media/s/.../hls/<key>/index.m3u8``) only while the marker is there, with no
question to the portal (``nginx/pantau.conf.template``, ``nginx/media-node.conf.template``): a camera switched to
private stops serving its signed playlist one sync after the switch (``SYNC_INTERVAL_S``, 2 s) instead of one
``auth_request`` per playlist fetch. Fail closed: the marker is removed when the reply says private, when the camera
is no longer assigned to this worker, when the lease runs out, when the worker stops, and every marker of a folder
is removed when the worker starts; a marker that is missing only refuses a public playlist until the next sync.
The name starts with a dot, which no media location of nginx serves.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from contract.media import PUBLIC_MARKER

log = logging.getLogger(__name__)


def marker(hls_dir: Path) -> Path:
    return hls_dir / PUBLIC_MARKER


def set_public(hls_dir: Path, public: bool) -> None:
    """Create or remove the marker; cheap when nothing changes (one stat), so it runs on every sync."""
    path = marker(hls_dir)
    try:
        if public:
            if not path.is_file():
                hls_dir.mkdir(parents=True, exist_ok=True)
                path.touch()
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:  # a full or read-only disk: nginx refuses the signed playlist, which is the safe side
        log.warning("public marker of %s not %s: %s", hls_dir.name, "written" if public else "removed", exc)


def clear_all(media_root: Path) -> int:
    """Remove every marker under ``media_root/hls`` (the worker starting: nothing is public until a sync says so)."""
    removed = 0
    try:
        folders = list(os.scandir(media_root / "hls"))
    except FileNotFoundError:
        return 0
    for folder in folders:
        try:
            os.unlink(os.path.join(folder.path, PUBLIC_MARKER))
            removed += 1
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            log.warning("public marker of %s not removed: %s", folder.name, exc)
    return removed
