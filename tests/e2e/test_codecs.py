"""Real ffmpeg on other sources: an H.265 camera is copied (never re-encoded), flagged and served as fMP4 HLS;
a camera with audio gets AAC; file sources are refused outside demo mode."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Portal, Workers, running_portal, worker_pool
from tests.e2e.test_live import add_camera, camera_status, fetch, playlist_url
from tests.support.tools import require_tool, wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def make_clip(path: Path, *args: str) -> Path:
    ffmpeg = require_tool("ffmpeg", reason="makes the test clips")
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4", *args, str(path)],
                   check=True)
    return path


@pytest.fixture()
def demo_portal(tmp_path: Path) -> Iterator[Portal]:
    with running_portal(tmp_path, env="demo", allow_file_sources=True) as running:
        yield running


@pytest.fixture()
def demo_workers(demo_portal: Portal) -> Iterator[Workers]:
    with worker_pool(demo_portal) as pool:
        yield pool


def test_hevc_is_copied_flagged_and_served_as_fmp4(demo_portal: Portal, demo_workers: Workers, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "hevc.mp4", "-map", "0:v", "-c:v", "libx265", "-preset", "ultrafast",
                     "-x265-params", "keyint=25:min-keyint=25:log-level=error", "-pix_fmt", "yuv420p")
    camera = add_camera(demo_portal, str(clip))
    demo_workers.start("w1")
    url = playlist_url(demo_portal, camera)

    def fmp4_playlist() -> bytes | None:
        status, body = fetch(url)
        return body if status == 200 and b"#EXT-X-MAP:URI=\"init.mp4\"" in body else None

    init_path = demo_portal.media_root / "hls" / camera.media_key / "init.mp4"
    wait_for(lambda: init_path.exists() and b"hvc1" in init_path.read_bytes(), timeout=40,
             message="the H.265 live view is not tagged hvc1, the form Safari plays")
    body = wait_for(fmp4_playlist, timeout=40, message="no fMP4 playlist for the H.265 camera")
    segment = next(line for line in body.decode().splitlines() if line.endswith(".m4s"))
    assert fetch(url.replace("index.m3u8", segment))[0] == 200
    status = wait_for(lambda: (s := camera_status(demo_portal, camera.id)) and s.status == "online" and s,
                      timeout=20, message="not online")
    assert status.codec == "hevc" and (status.width, status.height) == (640, 360)
    assert "libx265" not in demo_workers.log("w1")


def test_audio_becomes_aac_in_live_and_recording(demo_portal: Portal, demo_workers: Workers, tmp_path: Path) -> None:
    ffprobe = require_tool("ffprobe", reason="checks the streams written")
    clip = make_clip(tmp_path / "audio.mp4", "-c:v", "libx264", "-g", "25", "-bf", "0", "-c:a", "mp3")
    camera = add_camera(demo_portal, str(clip), audio="aac")
    demo_workers.start("w1")
    hls_dir = demo_portal.media_root / "hls" / camera.media_key
    joined = tmp_path / "live.mp4"

    def newest_live() -> Path | None:  # a recording camera's live view is fMP4: its head, then a segment
        segments = sorted(hls_dir.glob("*.m4s"))
        if not segments or not (hls_dir / "init.mp4").exists():
            return None
        joined.write_bytes((hls_dir / "init.mp4").read_bytes() + segments[-1].read_bytes())
        return joined

    segment = wait_for(newest_live, timeout=40, message="no live segment")
    codecs = subprocess.run([ffprobe, "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                             str(segment)], capture_output=True, text=True, check=True).stdout.split()
    assert set(codecs) == {"aac", "h264"}


def test_file_source_refused_outside_demo_mode(portal: Portal, workers: Workers, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "x.mp4", "-map", "0:v", "-c:v", "libx264")
    camera = add_camera(portal, str(clip))
    workers.start("w1")
    status = wait_for(lambda: (s := camera_status(portal, camera.id)) and s.status == "error" and s,
                      timeout=20, message="a file source was not refused")
    assert "demo mode" in (status.error or "")
    assert not (portal.media_root / "hls" / camera.media_key / "index.m3u8").exists()
