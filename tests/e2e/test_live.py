"""One camera from RTSP to a browser: a real worker reads a simulated camera into live HLS."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from portal.models import Camera, CameraStatus, RecordingSegment, db
from tests.e2e.conftest import Portal, Workers
from tests.support.tools import wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def media_sequence(playlist: bytes) -> int:
    match = re.search(rb"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist)
    return int(match.group(1)) if match else -1


def add_camera(portal: Portal, url: str, **fields: Any) -> Camera:
    with portal.app.app_context():
        values: dict[str, Any] = {"name": "Kamera Uji", "latitude": -3.97, "longitude": 122.51, "source_url": url,
                                  "public": True, "enabled": True, "recording": True}
        values.update(fields)
        camera = Camera(**values)
        db.session.add(camera)
        db.session.commit()
        db.session.refresh(camera)
        db.session.expunge(camera)
        return camera


def camera_status(portal: Portal, camera_id: int) -> CameraStatus | None:
    with portal.app.app_context():
        row = db.session.get(CameraStatus, camera_id)
        if row is not None:
            db.session.expunge(row)
        return row


def playlist_url(portal: Portal, camera: Camera) -> str:
    return f"{portal.url}/media/hls/{camera.media_key}/index.m3u8"


def test_worker_turns_rtsp_into_a_growing_live_playlist(portal: Portal, workers: Workers, rtsp) -> None:  # type: ignore[no-untyped-def]
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1))
    private = add_camera(portal, sim.url(1), name="Rahasia", public=False, recording=False)
    workers.start("w1")
    url = playlist_url(portal, camera)
    wait_for(lambda: fetch(url)[0] == 200, timeout=30, message="no live playlist within 30 s")
    first = media_sequence(fetch(url)[1])
    wait_for(lambda: media_sequence(fetch(url)[1]) >= first + 3, timeout=20, message="the playlist stopped growing")
    body = fetch(url)[1]
    assert b"#EXT-X-PROGRAM-DATE-TIME" in body
    segment = re.findall(rb"^([^#\s][^\s]*)$", body, re.M)[-1].decode()
    status, data = fetch(f"{portal.url}/media/hls/{camera.media_key}/{segment}")
    assert status == 200 and len(data) > 10_000
    # Status reaches the portal through the sync call.
    wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.status == "online",
             timeout=15, message="camera never reported online")
    s = camera_status(portal, camera.id)
    assert s is not None and s.codec == "h264" and (s.width, s.height) == (1280, 720)
    # The private camera runs too, but its HLS is refused to the public.
    priv_dir = portal.media_root / "hls" / private.media_key
    wait_for(lambda: (priv_dir / "index.m3u8").exists(), timeout=30, message="private camera not running")
    assert fetch(playlist_url(portal, private))[0] == 403
    # Finished recording segments are indexed.
    def indexed() -> int:
        with portal.app.app_context():
            return db.session.query(RecordingSegment).filter_by(camera_id=camera.id).count()
    wait_for(lambda: indexed() >= 1, timeout=30, message="no recording segment indexed")


def test_disabled_camera_is_stopped(portal: Portal, workers: Workers, rtsp) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import ffmpeg_children

    sim = rtsp(cameras=2)
    a = add_camera(portal, sim.url(1), name="A")
    add_camera(portal, sim.url(2), name="B")
    workers.start("w1")
    wait_for(lambda: len(ffmpeg_children(portal.media_root)) == 2, timeout=30, message="two ffmpeg expected")
    with portal.app.app_context():
        db.session.get(Camera, a.id).enabled = False
        db.session.commit()
    wait_for(lambda: len(ffmpeg_children(portal.media_root)) == 1, timeout=15,
             message="the disabled camera's ffmpeg was not stopped")


def test_cli_lists_status_json(portal: Portal, workers: Workers, rtsp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from portal.cli import cli

    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1))
    workers.start("w1")
    wait_for(lambda: (s := camera_status(portal, camera.id)) is not None and s.status == "online",
             timeout=30, message="camera never reported online")
    settings = portal.app.config["PANTAU"]
    env = {"PANTAU_INSTANCE_PATH": settings.instance_path, "PANTAU_DATABASE_URL": settings.database_url,
           "PANTAU_ENV": "test"}
    out = CliRunner().invoke(cli, ["cameras", "list"], env=env, catch_exceptions=False).output
    rows = json.loads(out)
    assert rows[0]["status"] == "online" and rows[0]["worker"] == "w1" and rows[0]["codec"] == "h264"
    assert rows[0]["fps"] and rows[0]["last_segment_at"]
