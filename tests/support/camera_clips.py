"""Clips that look like what real cameras send, for the camera compatibility tests: H.264 Baseline/Main/High
with and without B-frames, H.265 with and without B-frames, AAC and G.711 (A-law, µ-law) audio, keyframe
intervals of 1 to 10 s, 15 and 25 fps, 720p to 2560x1440, and one whose resolution changes halfway.

Each clip is a QuickTime file (``.mov``: it holds G.711 too) that ``rtsp_cameras.py`` serves with
``filesrc ! qtdemux ! h264parse ! rtph264pay``, so RTP carries the file's own timestamps (B-frames arrive in
decode order, as from a real camera). Encoded once and cached by their parameters (``$PANTAU_TEST_CACHE``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.support.clip import DEFAULT_CACHE


@dataclass(frozen=True)
class CameraKind:
    name: str
    codec: str = "h264"  # or "h265"
    profile: str = "high"  # H.264: baseline, main, high
    bframes: int = 0
    width: int = 1280
    height: int = 720
    fps: int = 25
    gop_s: int = 1
    audio: str | None = None  # "aac", "pcma" (G.711 A-law), "pcmu" (G.711 µ-law)
    bitrate: str = "1M"
    seconds: int = 90
    change_to: tuple[int, int] | None = None  # the resolution after half the clip

    @property
    def browser_codec(self) -> str:
        return "hevc" if self.codec == "h265" else "h264"


KINDS = (
    CameraKind("h264_baseline_aac", profile="baseline", audio="aac"),
    CameraKind("h264_main_bframes_pcmu_1080p", profile="main", bframes=2, width=1920, height=1080, gop_s=2,
               audio="pcmu", bitrate="2M"),
    CameraKind("h264_high_bframes_pcma_1440p", bframes=3, width=2560, height=1440, fps=15, gop_s=4, audio="pcma",
               bitrate="3M"),
    CameraKind("h264_high_gop10_15fps", fps=15, gop_s=10),
    CameraKind("h265_15fps", codec="h265", width=640, height=360, fps=15, bitrate="500k"),  # x265 is slow to
    CameraKind("h265_bframes_aac", codec="h265", bframes=2, width=640, height=360, gop_s=2, audio="aac",  # encode
               bitrate="500k"),
    CameraKind("h264_main_resolution_change", profile="main", width=640, height=360, change_to=(1280, 720),
               seconds=50),  # 640x360 for 25 s, then 1280x720
)
BY_NAME = {kind.name: kind for kind in KINDS}


def _video_args(kind: CameraKind, width: int, height: int, frames: int) -> list[str]:
    gop = kind.gop_s * kind.fps
    args = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={kind.fps}", "-frames:v", str(frames),
            "-pix_fmt", "yuv420p", "-b:v", kind.bitrate, "-maxrate", kind.bitrate, "-bufsize", kind.bitrate]
    if kind.codec == "h265":
        return args + ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                       f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={kind.bframes}:repeat-headers=1"
                       ":log-level=error"]
    # ultrafast, with B-frames put back explicitly (an explicit -bf wins over the preset): fast to encode once
    return args + ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", kind.profile, "-g", str(gop),
                   "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", str(kind.bframes),
                   "-x264-params", "repeat-headers=1"]


AUDIO = {
    "aac": ["-c:a", "aac", "-b:a", "32k", "-ar", "16000", "-ac", "1"],
    "pcma": ["-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1"],
    "pcmu": ["-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1"],
}


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make a camera clip: {done.stderr.strip()[-2000:]}")


def make_camera_clip(kind: CameraKind, cache: Path = DEFAULT_CACHE) -> Path:
    params = {**asdict(kind), "version": 1}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    target = cache / f"camera-{kind.name}-{digest}.mov"
    if target.exists() and target.stat().st_size > 0:
        return target
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FileNotFoundError("ffmpeg is needed to make the camera clips")
    cache.mkdir(parents=True, exist_ok=True)
    base = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    frames = kind.seconds * kind.fps
    with tempfile.TemporaryDirectory(prefix="camclip-", dir=cache) as tmp:
        work = Path(tmp)
        video = work / "video.mov"
        if kind.change_to is None:
            _run([*base, *_video_args(kind, kind.width, kind.height, frames), "-an", str(video)])
        else:  # two encodes, one Annex B stream: the second half starts with new SPS/PPS, as from a real camera
            half = frames // 2
            parts = []
            for i, (w, h) in enumerate(((kind.width, kind.height), kind.change_to)):
                part = work / f"part{i}.h264"
                _run([*base, *_video_args(kind, w, h, half), "-an", "-f", "h264", str(part)])
                parts.append(part.read_bytes())
            joined = work / "joined.h264"
            joined.write_bytes(b"".join(parts))
            _run([*base, "-f", "h264", "-framerate", str(kind.fps), "-i", str(joined), "-c", "copy", str(video)])
        out = work / "clip.mov"
        if kind.audio:
            _run([*base, "-i", str(video), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
                  "-t", str(kind.seconds), "-map", "0:v", "-map", "1:a", "-c:v", "copy", *AUDIO[kind.audio],
                  *(["-tag:v", "hvc1"] if kind.codec == "h265" else []), str(out)])
        else:
            _run([*base, "-i", str(video), "-c", "copy", *(["-tag:v", "hvc1"] if kind.codec == "h265" else []),
                  str(out)])
        os.chmod(out, 0o644)
        os.replace(out, target)
    return target
