"""The live player in a real browser: data saving, the live timeout, offline cameras, keyboard use, and
a camera made private stopping within 5 s (by the status poll, and by the HLS 403 alone)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser
PLAYING = "() => document.getElementById('live-video').currentTime > 0"


def test_snapshot_only_until_play_is_pressed(live_server: LiveServer, page: Any, media: Path) -> None:
    camera = live_server.camera(name="Tugu MTQ")
    live_server.install_media(camera, media)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    page.wait_for_load_state("networkidle")
    video = page.locator("#live-video")
    expect(video).to_have_attribute("poster", f"/media/snapshots/{camera.media_key}.jpg")
    assert not [u for u in requests if "/media/hls/" in u or "hls.min.js" in u], requests
    with page.expect_request(f"**/media/hls/{camera.media_key}/index.m3u8"):
        page.get_by_role("button", name="Tonton langsung").click()
    page.wait_for_function(PLAYING)
    expect(page.locator(".player-live")).to_have_text("Memutar langsung")


def test_live_view_pauses_after_the_timeout_and_continues(serve: Any, page: Any, media: Path) -> None:
    live_server = serve(live_timeout_s=3)
    camera = live_server.camera(name="Pasar Sentral")
    live_server.install_media(camera, media)
    page.goto(f"{live_server.url}/kamera/{camera.id}?lang=en")
    page.get_by_role("button", name="Watch live").click()
    page.wait_for_function(PLAYING)
    player = page.locator(".player")
    expect(player).to_have_attribute("data-state", "paused", timeout=8_000)
    expect(page.locator(".player-notice-text")).to_contain_text("paused to save your data")
    resume = page.get_by_role("button", name="Continue watching")
    expect(resume).to_be_focused()
    assert page.evaluate("window.PantauPlayer") is None  # hls.js destroyed: no more downloads
    resume.press("Enter")
    expect(player).to_have_attribute("data-state", "playing")


def test_offline_camera_says_when_it_was_last_seen(live_server: LiveServer, page: Any) -> None:
    camera = live_server.camera(name="Jembatan Teluk", status="online", seen_ago_s=7200)
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    notice = page.locator(".player-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Kamera ini sedang tidak aktif.")
    expect(notice).to_contain_text("Terakhir terlihat")
    expect(page.get_by_role("button", name="Tonton langsung")).to_be_hidden()
    expect(page.locator(".player")).to_have_attribute("data-state", "offline")


def test_player_works_from_the_keyboard(live_server: LiveServer, page: Any, media: Path) -> None:
    camera = live_server.camera(name="Balai Kota")
    live_server.install_media(camera, media)
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    play = page.get_by_role("button", name="Tonton langsung: Balai Kota")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.action === 'play'"):
            break
    expect(play).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.wait_for_function(PLAYING)
    expect(page.locator("#live-video")).to_be_focused()


def _stops_within(page: Any, live_server: LiveServer, camera_id: int, limit_s: float) -> float:
    hls_requests: list[float] = []
    page.on("request", lambda r: hls_requests.append(time.monotonic()) if "/media/hls/" in r.url else None)
    made_private = time.monotonic()
    live_server.update(camera_id, public=False)
    page.wait_for_function("() => document.querySelector('.player').dataset.state === 'gone'", timeout=limit_s * 1000)
    took = time.monotonic() - made_private
    assert page.evaluate("window.PantauPlayer") is None
    assert page.evaluate("document.getElementById('live-video').getAttribute('poster')") is None
    expect(page.locator(".player-notice-text")).to_contain_text("tidak lagi publik")
    stopped = time.monotonic()
    page.wait_for_timeout(2500)  # nothing may be asked of the HLS URL after the stop
    assert not [t for t in hls_requests if t > stopped + 0.2]
    return took


def test_camera_made_private_stops_within_5_s_by_status_poll(live_server: LiveServer, page: Any,
                                                                media: Path) -> None:
    camera = live_server.camera(name="Pantai Nambo")
    live_server.install_media(camera, media)
    # The HLS files come straight from disk, as a CDN might still serve them: only the status poll can stop it.
    page.route(f"**/media/hls/{camera.media_key}/*",
               lambda route: route.fulfill(path=str(media / route.request.url.rsplit("/", 1)[1])))
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    page.get_by_role("button", name="Tonton langsung").click()
    page.wait_for_function(PLAYING)
    assert _stops_within(page, live_server, camera.id, 5.0) < 5.0


def test_camera_made_private_stops_on_hls_403_alone(live_server: LiveServer, page: Any, media: Path) -> None:
    camera = live_server.camera(name="Kali Kadia")
    live_server.install_media(camera, media)
    # The status endpoint keeps saying "online": only the server's 403 on the playlist can stop the player.
    online = {"id": camera.id, "status": "online", "status_label": "Aktif", "playable": True,
              "last_online_at": None, "last_seen": ""}
    page.route("**/status.json", lambda route: route.fulfill(status=200, json=online))
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    page.get_by_role("button", name="Tonton langsung").click()
    page.wait_for_function(PLAYING)
    assert _stops_within(page, live_server, camera.id, 5.0) < 5.0


def test_pausing_stops_downloading_and_play_resumes_live(live_server: LiveServer, page: Any, media: Path) -> None:
    camera = live_server.camera(name="Simpang Lima")
    live_server.install_media(camera, media)
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    page.get_by_role("button", name="Tonton langsung").click()
    page.wait_for_function(PLAYING)
    player = page.locator(".player")
    expect(player).to_have_attribute("data-state", "playing")
    page.evaluate("document.getElementById('live-video').pause()")
    expect(player).to_have_attribute("data-state", "held")
    hls_requests: list[str] = []
    page.on("request", lambda r: hls_requests.append(r.url) if "/media/hls/" in r.url else None)
    page.wait_for_timeout(2500)  # a paused live view asks for nothing more
    assert hls_requests == []
    page.evaluate("document.getElementById('live-video').play()")
    expect(player).to_have_attribute("data-state", "playing")
    assert hls_requests and hls_requests[0].endswith("/index.m3u8")


def hevc_camera(live_server: LiveServer, media: Path) -> Any:
    """A public camera whose worker reported H.265, with playable media installed."""
    camera = live_server.camera(name="Pelabuhan")
    live_server.install_media(camera, media)
    with live_server.app.app_context():
        from portal.models import CameraStatus, db

        db.session.get(CameraStatus, camera.id).codec = "hevc"
        db.session.commit()
    return camera


def test_hevc_camera_says_so_in_a_browser_without_hevc(live_server: LiveServer, page: Any, media: Path) -> None:
    camera = hevc_camera(live_server, media)
    # This browser, like many phones' Chrome without a hardware decoder, cannot decode HEVC.
    page.add_init_script("""(() => {
        const real = MediaSource.isTypeSupported.bind(MediaSource);
        MediaSource.isTypeSupported = (t) => !/hvc1|hev1/.test(t) && real(t);
        HTMLMediaElement.prototype.canPlayType = function (t) { return /hvc1|hev1/.test(t) ? "" : "maybe"; };
    })()""")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    page.get_by_role("button", name="Tonton langsung").click()
    expect(page.locator(".player")).to_have_attribute("data-state", "error")
    expect(page.locator(".player-notice-text")).to_contain_text("H.265")
    assert not [u for u in requests if "/media/hls/" in u], "no video is fetched that cannot be shown"


def test_hevc_camera_plays_where_the_browser_can(live_server: LiveServer, page: Any, media: Path) -> None:
    camera = hevc_camera(live_server, media)
    page.add_init_script("""(() => {
        const real = MediaSource.isTypeSupported.bind(MediaSource);
        MediaSource.isTypeSupported = (t) => /hvc1/.test(t) || real(t);
    })()""")
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    with page.expect_request(f"**/media/hls/{camera.media_key}/index.m3u8"):
        page.get_by_role("button", name="Tonton langsung").click()


def test_a_refused_playlist_makes_the_player_ask_where_the_camera_runs_now(live_server: LiveServer, page: Any,
                                                                          media: Path) -> None:
    """A 404 for the live playlist (the camera moved to another node, or its worker died) is not left to the next
    status poll (2.5 s away): the player asks the status feed at once."""
    camera = live_server.camera(name="Pelabuhan Kendari")
    live_server.install_media(camera, media)
    state: dict[str, Any] = {"armed": False, "refuse": False, "refused_at": None, "asked_after": None}

    def hls(route: Any) -> None:
        name = route.request.url.rsplit("/", 1)[1].split("?", 1)[0]
        if name == "index.m3u8" and state["refuse"]:
            if state["refused_at"] is None:
                state["refused_at"] = time.monotonic()
            route.fulfill(status=404, body="not here")
            return
        route.fulfill(path=str(media / name))

    def status(route: Any) -> None:
        if state["refused_at"] is not None and state["asked_after"] is None:
            state["asked_after"] = time.monotonic() - state["refused_at"]
        route.continue_()
        if state["armed"] and not state["refuse"]:
            state["refuse"] = True  # just after a regular poll: the next one is 2.5 s away

    page.route(f"**/media/hls/{camera.media_key}/*", hls)
    page.route("**/status.json", status)
    page.goto(f"{live_server.url}/kamera/{camera.id}")
    page.get_by_role("button", name="Tonton langsung").click()
    page.wait_for_function(PLAYING)
    state["armed"] = True
    deadline = time.monotonic() + 15
    while state["asked_after"] is None and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets the route handlers run
    assert state["refused_at"] is not None, "the playlist was never asked for again"
    assert state["asked_after"] is not None and state["asked_after"] < 1.2, state
