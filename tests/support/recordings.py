"""Real recording segments as a worker writes them (fragmented MP4, 720p H.264, a keyframe a second), for export,
playback and benchmark tests: one short clip encoded once, copied under ``recordings/<camera>/<day>/<HHMMSS>.mp4``."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        from tests.support.tools import missing

        missing("ffmpeg is needed to make recording segments")
    assert found is not None
    return found


def make_segments(media_root: Path, camera_id: int, start: dt.datetime, count: int, seconds: int = 4,
                  cache: Path | None = None) -> list[tuple[str, dt.datetime, dt.datetime, int, int]]:
    """``count`` real recording segments as the worker writes them (fragmented MP4, 720p H.264, a keyframe a
    second), named by their UTC start; returns (path, start, end, bytes, init_bytes)."""
    from transcoder.mp4 import head_size

    ffmpeg = _ffmpeg()
    cache = cache or Path(os.environ.get("PANTAU_TEST_CACHE", Path.home() / ".cache" / "pantau-test"))
    source = cache / f"footage-{seconds}s-segment.mp4"
    if not source.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = source.with_suffix(".part.mp4")
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=1280x720:rate=25", "-t", str(seconds), "-c:v", "libx264", "-preset",
                        "ultrafast", "-g", "25", "-bf", "0", "-sc_threshold", "0", "-b:v", "1M", "-f", "mp4",
                        "-movflags", "+frag_keyframe+empty_moov+default_base_moof", str(tmp)], check=True)
        tmp.replace(source)
    made = []
    for n in range(count):
        a = start + dt.timedelta(seconds=n * seconds)
        rel = f"recordings/{camera_id}/{a:%Y%m%d}/{a:%H%M%S}.mp4"
        path = media_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        finished = (a + dt.timedelta(seconds=seconds)).timestamp()
        os.utime(path, (finished, finished))  # written when it ended, as the worker's files are
        made.append((rel, a, a + dt.timedelta(seconds=seconds), path.stat().st_size, head_size(path) or 0))
    return made
