"""What the portal is told about one camera: state, public status, error, and figures read off the live
playlist (bitrate from segment sizes and durations, newest segment time)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract import limits
from transcoder.camera import Camera, State
from transcoder.ffmpeg import MediaPaths
from transcoder.snapshots import read_quietly


def playlist_bitrate_kbps(playlist: Path) -> float | None:
    try:
        text = read_quietly(playlist).decode(errors="replace")  # the worker's reads are not a viewer's
    except OSError:
        return None
    seconds, size = 0.0, 0
    duration = None
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            try:
                duration = float(line[8:].split(",", 1)[0])
            except ValueError:
                duration = None
        elif line and not line.startswith("#") and duration:
            try:
                size += os.stat(playlist.parent / line).st_size
                seconds += duration
            except OSError:
                pass
            duration = None
    return round(size * 8 / seconds / 1000, 1) if seconds > 0 else None


def camera_report(camera: Camera, media_root: Path, now: float) -> dict[str, Any]:
    paths = MediaPaths(media_root, camera.spec.key, camera.spec.id)
    info = camera.log.info
    try:
        last = datetime.fromtimestamp(os.stat(paths.playlist).st_mtime, UTC).isoformat()
    except OSError:
        last = None
    running = camera.state is State.RUNNING
    return {
        "id": camera.spec.id,
        "state": camera.state.value,
        "status": camera.status,
        "reason": getattr(camera, "reason", None),
        "error": camera.error[:limits.MAX_ERROR_CHARS] if camera.error else None,
        "stderr_tail": [line[:limits.MAX_STDERR_LINE_CHARS] for line in camera.log.tail(10)],
        "bitrate_kbps": playlist_bitrate_kbps(paths.playlist) if running else None,
        "fps": info.fps,
        "codec": info.codec,
        "width": info.width,
        "height": info.height,
        "last_segment_at": last,
        "restarts_last_hour": camera.restarts_last_hour(now),
    }
