"""Browser fixtures: the portal as a real HTTP server on a migrated SQLite database, driven by Debian's Chromium.

Without /usr/bin/chromium (or Playwright) the browser tests skip on a laptop and fail under CI=true.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from portal.models import Camera, CameraStatus, db
from tests.conftest import add_camera, make_settings, migrated_app

FFMPEG = os.environ.get("PANTAU_FFMPEG", "/usr/bin/ffmpeg")
PHONE = {"width": 390, "height": 844}


def missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true")
    pytest.skip(f"{what} is not available")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    app: Flask
    url: str
    server: BaseWSGIServer

    def camera(self, status: str | None = "online", seen_ago_s: float = 0, **fields: Any) -> Camera:
        """A camera (public by default) with a status row as a worker would have reported it."""
        with self.app.app_context():
            camera = add_camera(**fields)
            if status is not None:
                at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seen_ago_s)
                db.session.add(CameraStatus(camera_id=camera.id, status=status, state="running", updated_at=at,
                                            last_online_at=at if status == "online" else at - dt.timedelta(hours=1)))
                db.session.commit()
            db.session.refresh(camera)
            db.session.expunge(camera)
            return camera

    def update(self, camera_id: int, **fields: Any) -> None:
        with self.app.app_context():
            camera = db.session.get(Camera, camera_id)
            for key, value in fields.items():
                setattr(camera, key, value)
            db.session.commit()

    def install_media(self, camera: Camera, media: Path, *, live: bool = True) -> None:
        """Copy the test clip's playlist and segments (and snapshot) where this camera's media are served from."""
        root = self.app.config["PANTAU"].media_path
        target = root / "hls" / camera.media_key
        target.mkdir(parents=True, exist_ok=True)
        for segment in media.glob("*.ts"):
            shutil.copy(segment, target / segment.name)
        playlist = (media / "index.m3u8").read_text()
        if live:  # a live playlist has no end: the player keeps asking for it
            playlist = playlist.replace("#EXT-X-ENDLIST\n", "")
        (target / "index.m3u8").write_text(playlist)
        (root / "snapshots").mkdir(parents=True, exist_ok=True)
        shutil.copy(media / "snapshot.jpg", root / "snapshots" / f"{camera.media_key}.jpg")


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start a portal (settings overridable) on a free port; stopped after the test."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        values: dict[str, Any] = {"lease_seconds": 3600}
        values.update(overrides)
        app = migrated_app(make_settings(tmp_path / f"portal{len(started)}", **values))
        server = make_server("127.0.0.1", free_port(), app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        live = LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}", server=server)
        started.append(live)
        return live

    yield start
    for live in started:
        live.server.shutdown()
        with live.app.app_context():
            db.engine.dispose()


@pytest.fixture()
def live_server(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve()


def watch_csp(page: Any) -> list[str]:
    """Chromium reports every Content-Security-Policy refusal on the console: collect them (across pages)."""
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    return refused


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    refused = watch_csp(page)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused something: {refused[:3]}"


@pytest.fixture()
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    refused = watch_csp(page)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused something: {refused[:3]}"


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 s H.264 test clip as 1 s HLS segments, plus a snapshot JPEG, made once by ffmpeg."""
    if not Path(FFMPEG).exists():
        missing(f"ffmpeg ({FFMPEG})")
    out = tmp_path_factory.mktemp("media")
    quiet = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*quiet, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-t", "12", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-g", "10", "-bf", "0", "-f", "hls", "-hls_time", "1",
                    "-hls_list_size", "0", "-hls_segment_filename", str(out / "seg_%03d.ts"),
                    str(out / "index.m3u8")], check=True, timeout=60)
    subprocess.run([*quiet, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=1", "-frames:v", "1",
                    str(out / "snapshot.jpg")], check=True, timeout=60)
    return out
