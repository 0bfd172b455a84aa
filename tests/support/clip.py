"""A pre-encoded H.264 test clip, made once with ffmpeg and cached by its parameters.

The clip is what the simulated cameras loop: lavfi ``testsrc2`` (a moving pattern and a frame counter), libx264
with a fixed keyframe interval (``-g`` = frame rate by default), no B-frames, no scene-cut keyframes, an access
unit delimiter and SPS/PPS before every keyframe (so any keyframe is a clean place to start or to loop).
``seconds * fps`` is rounded up to whole GOPs so the loop point is a keyframe.

Formats: raw H.264 Annex B (``.h264``, what ``rtsp_server.py`` reads) or MP4 (``.mp4``, for tests that need a
container, e.g. the demo's file inputs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_CACHE = Path(os.environ.get("PANTAU_TEST_CACHE", Path.home() / ".cache" / "pantau-test"))
FORMATS = {".h264": "h264", ".264": "h264", ".mp4": "mp4"}


def clip_params(*, width: int, height: int, fps: int, seconds: float, bitrate: str, keyint: int | None,
                container: str) -> dict[str, object]:
    gop = keyint or fps
    frames = max(gop, -(-round(seconds * fps) // gop) * gop)  # whole GOPs, at least one
    return {"width": width, "height": height, "fps": fps, "frames": frames, "bitrate": bitrate, "keyint": gop,
            "container": container, "version": 1}


def ffmpeg_argv(ffmpeg: str, params: dict[str, object], out: Path) -> list[str]:
    """The ffmpeg command line that encodes a clip with these parameters into ``out``."""
    size = f"{params['width']}x{params['height']}"
    rate = str(params["bitrate"])
    argv = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={params['fps']}",
        "-frames:v", str(params["frames"]),
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v", rate, "-maxrate", rate, "-bufsize", rate,
        "-g", str(params["keyint"]), "-keyint_min", str(params["keyint"]), "-bf", "0", "-sc_threshold", "0",
        "-x264-params", "aud=1:repeat-headers=1",
    ]
    if params["container"] == "mp4":
        argv += ["-movflags", "+faststart", "-f", "mp4", str(out)]
    else:
        argv += ["-f", "h264", str(out)]
    return argv


def make_test_clip(path: Path | str | None = None, *, width: int = 1280, height: int = 720, fps: int = 25,
                   seconds: float = 10, bitrate: str = "2M", keyint: int | None = None,
                   container: str = "h264", ffmpeg: str | None = None) -> Path:
    """Return a cached clip with these parameters, encoding it first if needed.

    ``path`` is either a file (``.h264``/``.264``/``.mp4``; its suffix picks the container and a sidecar
    ``<file>.json`` remembers the parameters, so changed parameters re-encode) or a cache folder (default
    ``$PANTAU_TEST_CACHE`` or ``~/.cache/pantau-test``) in which the file is named after a hash of the
    parameters. Safe against concurrent callers: the clip is written to a temporary name and renamed.
    """
    target = Path(path) if path is not None else DEFAULT_CACHE
    if target.suffix.lower() in FORMATS:
        container = FORMATS[target.suffix.lower()]
    elif container not in ("h264", "mp4"):
        raise ValueError(f"unknown container {container!r}")
    params = clip_params(width=width, height=height, fps=fps, seconds=seconds, bitrate=bitrate, keyint=keyint,
                         container=container)
    if target.suffix.lower() not in FORMATS:
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
        target = target / f"testsrc2-{width}x{height}-{fps}fps-{bitrate}-{digest}.{container}"
    sidecar = target.with_name(target.name + ".json")
    if target.exists() and target.stat().st_size > 0 and _read_json(sidecar) == params:
        return target

    binary = ffmpeg or shutil.which("ffmpeg")
    if binary is None:
        raise FileNotFoundError("ffmpeg is needed to make the test clip")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".clip-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        done = subprocess.run(ffmpeg_argv(binary, params, tmp), capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or tmp.stat().st_size == 0:
            raise RuntimeError(f"ffmpeg could not make the test clip: {done.stderr.strip()[-2000:]}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        _write_json(sidecar, params)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(value, sort_keys=True))
    os.replace(tmp, path)
