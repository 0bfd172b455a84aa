"""Camera compatibility: what Hikvision, Dahua and Uniview cameras send, served by a GStreamer RTSP server with
the files' own timestamps (tests/support/rtsp_cameras.py), run by one real worker. Each kind plays live in
Chromium (or the player says the browser can't decode H.265), records and gets snapshots; cameras that fail
on the network or refuse the password get a status an operator can act on.

One simulator, one portal and one worker serve every case (module fixtures); the clips are encoded once and
cached (tests/support/camera_clips.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portal.models import Camera, RecordingSegment, db
from tests.e2e.conftest import Portal, running_portal, worker_pool
from tests.e2e.test_live import add_camera, camera_status
from tests.support.camera_clips import BY_NAME, KINDS, CameraKind
from tests.support.camera_sim import BrokenCamera, CameraSimulator
from tests.support.tools import require_tool, wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.browser, pytest.mark.slow]
AUTH = {"h264_baseline_aac": "basic", "h264_main_bframes_pcmu_1080p": "digest"}  # the others need no login
BROKEN = ("silent", "describe_only", "wrong_password")


@dataclass
class Fleet:
    portal: Portal
    cameras: dict[str, Camera]
    broken: dict[str, BrokenCamera]
    started: float


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    require_tool("/usr/bin/python3", reason="the RTSP simulator runs on Debian's Python")
    broken = {name: BrokenCamera(name) for name in BROKEN}
    with CameraSimulator(KINDS) as sim, running_portal(tmp_path_factory.mktemp("cameras")) as portal, \
            worker_pool(portal) as pool:
        cameras = {kind.name: add_camera(portal, sim.url(kind.name, AUTH.get(kind.name, "open")), name=kind.name,
                                         audio="aac" if kind.audio else "drop") for kind in KINDS}
        cameras |= {name: add_camera(portal, cam.url(), name=name, recording=False) for name, cam in broken.items()}
        cameras["digest_wrong_password"] = add_camera(
            portal, sim.url("h264_high_gop10_15fps", "digest", password="wrong"), name="digest_wrong_password")
        pool.start("w1")
        yield Fleet(portal, cameras, broken, time.monotonic())
    for cam in broken.values():
        cam.close()


def status_of(fleet: Fleet, name: str, *wanted: str, timeout: float = 45) -> Any:
    camera = fleet.cameras[name]
    return wait_for(lambda: (s := camera_status(fleet.portal, camera.id)) is not None and s.status in wanted and s,
                    timeout=timeout, message=f"{name} never became {'/'.join(wanted)}: "
                    f"{getattr(camera_status(fleet.portal, camera.id), 'error', None)}")


def frame_size(paths: list[Path]) -> tuple[int, int]:
    import av

    with av.open(str(paths[0]) if len(paths) == 1 else _joined(paths)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def _joined(paths: list[Path]) -> str:
    if len(paths) == 1:
        return str(paths[0])
    out = paths[-1].with_suffix(".joined.mp4")
    out.write_bytes(b"".join(p.read_bytes() for p in paths))
    return str(out)


def newest_live(fleet: Fleet, camera: Camera) -> list[Path]:
    """The newest live segment (MPEG-TS), or the init segment and the newest (fMP4: B-frames, H.265)."""
    folder = fleet.portal.media_root / "hls" / camera.media_key
    lines = [x for x in (folder / "index.m3u8").read_text().splitlines() if x and not x.startswith("#")]
    return [folder / lines[-1]] if lines[-1].endswith(".ts") else [folder / "init.mp4", folder / lines[-1]]


def live_codecs(fleet: Fleet, camera: Camera) -> set[str]:
    ffprobe = require_tool("ffprobe", reason="checks the streams written")
    joined = _joined(newest_live(fleet, camera))
    out = subprocess.run([ffprobe, "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", joined],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def plays_in_chromium(browser: Any, fleet: Fleet, camera: Camera, kind: CameraKind, width: int) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{fleet.portal.url}/kamera/{camera.id}")
        page.locator(".player [data-action=play]").first.click()
        hevc_type = 'video/mp4; codecs="hvc1.1.6.L93.B0"'
        if kind.codec == "h265" and not page.evaluate(f"() => MediaSource.isTypeSupported('{hevc_type}')"):
            notice = page.locator(".player-notice-text")
            notice.wait_for(timeout=10_000)
            page.wait_for_function("() => document.querySelector('.player-notice-text').textContent.includes('H.265')",
                                   timeout=10_000)
            return
        video = "document.getElementById('live-video')"
        page.wait_for_function(f"() => {video}.currentTime > 0.5", timeout=30_000)
        first = page.evaluate(f"() => {video}.currentTime")
        page.wait_for_function(f"() => {video}.currentTime > {first + 2} && {video}.videoWidth === {width}",
                               timeout=30_000)
    finally:
        context.close()


@pytest.mark.parametrize("name", [kind.name for kind in KINDS])
def test_camera_kind_plays_records_and_snapshots(fleet: Fleet, browser: Any, name: str) -> None:
    kind, camera = BY_NAME[name], fleet.cameras[name]
    status = status_of(fleet, name, "online")
    assert (status.codec, status.width, status.height) == (kind.browser_codec, kind.width, kind.height)
    # live: a playable segment in the right codec, with AAC where the camera sends audio (G.711 converted)
    expected = {kind.browser_codec, "aac"} if kind.audio else {kind.browser_codec}
    wait_for(lambda: live_codecs(fleet, camera) == expected, timeout=20,
             message=f"live segments of {name} are not {expected}")
    # a camera that records has fMP4 live segments (its recording is built from them), whatever its codec
    assert newest_live(fleet, camera)[-1].suffix == ".m4s"
    width = kind.width
    if kind.change_to is not None:  # wait for the new resolution to reach the live view, then play that
        width = kind.change_to[0]
        wait_for(lambda: frame_size(newest_live(fleet, camera))[0] == width, timeout=60,
                 message="the live view never showed the camera's new resolution")
    plays_in_chromium(browser, fleet, camera, kind, width)
    # snapshot: cut from the live view, 640 pixels wide
    snapshot = fleet.portal.media_root / "snapshots" / f"{camera.media_key}.jpg"
    wait_for(snapshot.exists, timeout=20, message=f"no snapshot of {name}")
    assert frame_size([snapshot])[0] == 640
    # recording: finished segments reported to the portal, on disk, in the camera's codec

    def recorded() -> list[RecordingSegment]:
        with fleet.portal.app.app_context():
            return list(db.session.query(RecordingSegment).filter_by(camera_id=camera.id))

    rows = wait_for(recorded, timeout=30, message=f"no recording of {name} reported")
    path = fleet.portal.media_root / rows[0].path
    assert path.stat().st_size > 0 and frame_size([path])[0] in (kind.width, width)
    if kind.gop_s >= 4:  # a long keyframe interval is not a stall
        assert camera_status(fleet.portal, camera.id).restarts_last_hour == 0


def test_a_port_that_never_answers_is_offline(fleet: Fleet) -> None:
    status = status_of(fleet, "silent", "offline", timeout=60)
    assert status.reason in ("timeout", "no_media") and status.error


def test_a_camera_that_answers_but_sends_nothing_is_offline(fleet: Fleet) -> None:
    status = status_of(fleet, "describe_only", "offline", timeout=60)
    assert status.reason in ("no_media", "timeout", "stalled") and status.error


def test_a_wrong_password_is_auth_failed_and_the_camera_sees_a_handful_of_logins(fleet: Fleet) -> None:
    status = status_of(fleet, "digest_wrong_password", "auth_failed")
    assert status.reason == "auth" and "401" in (status.error or "")
    counted = status_of(fleet, "wrong_password", "auth_failed")
    assert counted.reason == "auth"
    logins = fleet.broken["wrong_password"].logins
    time.sleep(10)  # a minute of probing at the old rate would be 60 logins: none may come
    assert fleet.broken["wrong_password"].logins == logins <= 2, "the worker keeps logging in with a wrong password"
