"""Media on many nodes, for real: each worker's folder served by its own nginx (nginx/media-node.conf.template),
PostgreSQL, real workers and ffmpeg reading simulated RTSP cameras, and Chromium playing through a move and an
outage. Also: the cache headers a CDN relies on, and a node refusing the stale folder of a camera that moved."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.media import passes
from portal.models import Camera, CameraLease, Worker, db
from tests.conftest import WorkerAuth
from tests.e2e.conftest import Portal, running_portal, worker_pool
from tests.e2e.test_live import add_camera, media_sequence
from tests.support.nginx import NGINX, ROOT, NginxServer
from tests.support.tools import free_port, require_tool, wait_for

MEDIA_NODE_TEMPLATE = ROOT / "nginx" / "media-node.conf.template"
pytestmark = [pytest.mark.nginx, pytest.mark.slow]


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
    except OSError:
        return 0, {}, b""


class Node:
    """One media node: a folder and the project's media-node nginx serving it under its own address."""

    def __init__(self, media_root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.media_root = media_root
        media_root.mkdir(parents=True, exist_ok=True)

    def serve(self, portal: Portal, **settings: object) -> NginxServer:
        upstream = portal.url.removeprefix("http://")
        return NginxServer(upstream=upstream, media_root=self.media_root, port=self.port,
                           template=MEDIA_NODE_TEMPLATE, media_node_url=self.url, **settings)

    def playlist(self, camera: Camera) -> str:
        return f"{self.url}/media/hls/{camera.media_key}/index.m3u8"


@pytest.fixture()
def nodes(tmp_path: Path, pg_url: str) -> Iterator[tuple[Portal, Node, Node]]:
    require_tool("nginx", reason="media nodes are the project's nginx")
    roots = tmp_path / "media"  # the portal's media root: the worker pool's ffmpeg check looks under it
    a, b = Node(roots / "node-a"), Node(roots / "node-b")
    with running_portal(tmp_path, database_url=pg_url, media_origins=f"{a.url},{b.url}") as portal, \
            a.serve(portal), b.serve(portal):
        yield portal, a, b


def write_live_media(root: Path, key: str, sequence: int) -> None:
    hls = root / "hls" / key
    hls.mkdir(parents=True, exist_ok=True)
    (hls / f"{sequence}.m4s").write_bytes(b"\0" * 1000)
    (hls / "init.mp4").write_bytes(b"\0" * 100)
    (hls / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n"
        f"#EXT-X-MEDIA-SEQUENCE:{sequence}\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1.0,\n{sequence}.m4s\n")
    (root / "snapshots").mkdir(parents=True, exist_ok=True)
    (root / "snapshots" / f"{key}.jpg").write_bytes(b"\xff\xd8\xff\xd9")


def status_json(portal: Portal, camera: Camera) -> dict[str, Any]:
    code, _, body = get(f"{portal.url}/kamera/{camera.id}/status.json")
    assert code == 200
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.mark.postgres
def test_nodes_serve_their_own_cameras_with_cdn_headers_and_refuse_stale_folders(nodes) -> None:  # type: ignore[no-untyped-def]
    portal, a, b = nodes
    camera = add_camera(portal, "rtsp://127.0.0.1:9/x")
    private = add_camera(portal, "rtsp://127.0.0.1:9/y", public=False, name="Private")
    for cam in (camera, private):
        write_live_media(a.media_root, cam.media_key, 1700000000)
        write_live_media(b.media_root, cam.media_key, 1700000100)  # b has an old folder of it too
    auth = WorkerAuth()
    web = portal.app.test_client()
    with portal.app.app_context():
        def sync(name: str, url: str, cams: list[Camera]) -> None:
            body = {"worker": {"name": name, "media_url": url},
                    "cameras": [{"id": c.id, "state": "running", "status": "online"} for c in cams]}
            assert web.post("/api/worker/v1/sync", json=body, headers=auth(name)).status_code == 200
        sync("a", a.url, [])
        sync("a", a.url, [camera, private])
        sync("b", b.url, [])
        assert {lease.worker.name for lease in db.session.query(CameraLease)} == {"a"}

    key = camera.media_key
    assert status_json(portal, camera)["hls_url"] == a.playlist(camera)
    code, headers, body = get(a.playlist(camera))
    assert code == 200 and b"1700000000.m4s" in body
    assert headers["cache-control"] == "public, max-age=1"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["content-type"] == "application/vnd.apple.mpegurl"
    code, headers, _ = get(f"{a.url}/media/hls/{key}/1700000000.m4s")
    assert code == 200 and headers["cache-control"] == "public, max-age=31536000, immutable"
    code, headers, _ = get(f"{a.url}/media/hls/{key}/init.mp4")  # same name after a restart: short-lived
    assert code == 200 and headers["cache-control"] == "public, max-age=1"
    code, headers, _ = get(f"{a.url}/media/snapshots/{key}.jpg")
    assert code == 200 and headers["cache-control"] == "public, max-age=2"
    # b does not run it: its old folder is not served
    code, headers, _ = get(b.playlist(camera))
    assert code == 404 and headers["cache-control"] == "no-store" and headers["access-control-allow-origin"] == "*"
    # private: refused without a staff session or a media pass; with the pass a staff member's wall gets, served
    # as "private" (the viewer's browser may keep it, a CDN may not)
    assert get(a.playlist(private))[0] == 403
    with portal.app.test_request_context():
        media_pass = passes.issue(private.media_key)
    signed = f"{a.url}/media/{media_pass}hls/{private.media_key}"
    code, headers, body = get(f"{signed}/index.m3u8")
    assert code == 200 and b"1700000000.m4s" in body and headers["cache-control"] == "private, max-age=1"
    code, headers, _ = get(f"{signed}/1700000000.m4s")  # the playlist's relative URL keeps the pass
    assert code == 200 and headers["cache-control"] == "private, max-age=31536000, immutable"
    assert get(f"{a.url}/media/{media_pass}snapshots/{private.media_key}.jpg")[0] == 200
    forged = media_pass[:-2] + ("A/" if media_pass[-2] != "A" else "B/")
    assert get(f"{a.url}/media/{forged}hls/{private.media_key}/index.m3u8")[0] == 403
    assert get(f"{a.url}/media/{media_pass}hls/{key}/index.m3u8")[0] == 200  # public anyway
    assert get(f"{b.url}/media/{media_pass}hls/{private.media_key}/index.m3u8")[0] == 404  # not b's
    # nothing else on a node: recordings, exports, listings, the portal's own pages
    for path in ("/media/recordings/1/20260101/000000.mp4", "/media/exports/x.mp4", f"/media/hls/{key}/",
                 "/", "/_auth/media/" + key, "/api/worker/v1/sync"):
        assert get(a.url + path)[0] == 404, path

    # the camera moves to b (a's lease ran out): within b's next sync every viewer is sent to b, and a's folder,
    # still on a's disk, stops being served as live
    with portal.app.app_context():
        db.session.query(CameraLease).filter_by(camera_id=camera.id).delete()
        db.session.commit()
        sync("b", b.url, [])
        assert db.session.get(CameraLease, camera.id).worker.name == "b"
    assert status_json(portal, camera)["hls_url"] == b.playlist(camera)
    assert (a.media_root / "hls" / key / "index.m3u8").exists()
    wait_for(lambda: get(a.playlist(camera))[0] == 404, timeout=3, message="a kept serving a camera it lost")
    code, headers, body = get(b.playlist(camera))
    assert code == 200 and b"1700000100.m4s" in body and headers["cache-control"] == "public, max-age=1"

    # the portal goes down: the node keeps serving what it was allowed to serve (and refusing the rest)
    portal.server.shutdown()
    portal.server.server_close()
    assert get(f"{portal.url}/healthz")[0] == 0
    until = time.monotonic() + 3 * 1 + 1  # several lifetimes of the 1 s access cache
    while time.monotonic() < until:
        assert get(b.playlist(camera))[0] == 200
        assert get(a.playlist(camera))[0] == 404
        time.sleep(0.25)


@pytest.mark.postgres
@pytest.mark.rtsp
def test_a_worker_that_joins_takes_its_share_without_a_gap_for_viewers(nodes, rtsp) -> None:  # type: ignore[no-untyped-def]
    """Rebalancing is make-before-break between media nodes: a viewer following the status feed finds a live,
    advancing playlist all through the move of a camera from a to b; then a stops it."""
    from tests.e2e.test_failover import ffmpeg_keys

    portal, a, b = nodes
    sim = rtsp(cameras=2)
    cams = [add_camera(portal, sim.url(i), name=f"Warm {i}") for i in (1, 2)]
    with worker_pool(portal) as pool:
        pool.start("a", PANTAU_MEDIA_ROOT=str(a.media_root), PANTAU_MEDIA_URL=a.url)
        for cam in cams:
            wait_for(lambda c=cam: get(a.playlist(c))[0] == 200, timeout=40, message="not live on node a")
        pool.start("b", PANTAU_MEDIA_ROOT=str(b.media_root), PANTAU_MEDIA_URL=b.url)

        def holders() -> dict[int, str]:
            with portal.app.app_context():
                return {lease.camera_id: lease.worker.name for lease in db.session.query(CameraLease)}

        refused: list[tuple[float, int, str]] = []
        newest: dict[int, tuple[str, float]] = {}  # camera -> (newest segment, when it changed)
        frozen: list[tuple[int, float]] = []
        began = time.monotonic()
        deadline = began + 60
        while time.monotonic() < deadline:  # a viewer of each camera: its status, then its playlist
            for cam in cams:
                url = status_json(portal, cam)["hls_url"]
                code, _, body = get(portal.url + url if url.startswith("/") else url)
                now = time.monotonic()
                if code != 200:
                    refused.append((round(now - began, 1), code, url))
                    continue
                last = [line for line in body.decode().splitlines() if line and not line.startswith("#")][-1]
                if newest.get(cam.id, ("", 0.0))[0] != last:
                    newest[cam.id] = (last, now)
                elif now - newest[cam.id][1] > 4:
                    frozen.append((cam.id, round(now - began, 1)))
            if sorted(holders().values()) == ["a", "b"] and sorted(ffmpeg_keys(portal.media_root)) == sorted(
                    c.media_key for c in cams):
                break  # moved, and a stopped it: each camera runs once again
            time.sleep(0.2)
        assert sorted(holders().values()) == ["a", "b"], f"not balanced within 60 s: {holders()}"
        assert not refused, f"a viewer was sent to a playlist that was not there: {refused[:5]}"
        assert not frozen, f"a viewer's playlist stopped advancing: {frozen[:5]}"
        moved = next(c for c in cams if holders()[c.id] == "b")
        assert status_json(portal, moved)["hls_url"] == b.playlist(moved)
        wait_for(lambda: get(a.playlist(moved))[0] == 404, timeout=10, message="a kept serving the moved camera")


# -- the whole path in Chromium: real workers, ffmpeg, RTSP --


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused media from a node: {refused[:3]}"


def record_states(page: Any) -> None:
    """Keep every change of the player's data-state in window.pantauStates (for assertions and failures)."""
    page.evaluate("""() => { const p = document.querySelector('.player'); window.pantauStates = [];
        new MutationObserver(() => window.pantauStates.push(p.dataset.state))
          .observe(p, {attributes: true, attributeFilter: ['data-state']}); }""")


def states(page: Any) -> list[str]:
    return list(page.evaluate("() => window.pantauStates"))


def video_time(page: Any) -> float:
    return float(page.evaluate("() => document.getElementById('live-video').currentTime"))


def wait_playing(page: Any, timeout_s: float) -> None:
    """The player says it plays live and the picture moves (currentTime advances by 1.5 s)."""
    page.wait_for_function("() => document.querySelector('.player').dataset.state === 'playing'",
                           timeout=timeout_s * 1000)
    start = video_time(page)
    page.wait_for_function(f"() => document.getElementById('live-video').currentTime > {start + 1.5}",
                           timeout=timeout_s * 1000)


@pytest.mark.postgres
@pytest.mark.rtsp
@pytest.mark.browser
def test_open_player_follows_a_camera_to_another_node_and_rides_through_the_outage(nodes, rtsp, page) -> None:  # type: ignore[no-untyped-def]
    portal, a, b = nodes
    sim = rtsp(cameras=1)
    camera = add_camera(portal, sim.url(1))
    with worker_pool(portal) as pool:
        first = pool.start("a", PANTAU_MEDIA_ROOT=str(a.media_root), PANTAU_MEDIA_URL=a.url)
        wait_for(lambda: get(a.playlist(camera))[0] == 200, timeout=40, message="no playlist on node a")
        pool.start("b", PANTAU_MEDIA_ROOT=str(b.media_root), PANTAU_MEDIA_URL=b.url)
        wait_for(lambda: status_json(portal, camera)["status"] == "online", timeout=20, message="not online")

        page.goto(f"{portal.url}/kamera/{camera.id}")
        page.evaluate("() => { window.pantauSamePage = true; }")  # gone if the page reloads
        assert page.get_attribute(".player", "data-src") == a.playlist(camera)
        record_states(page)
        page.locator(".player [data-action=play]").click()
        wait_playing(page, 30)

        first.send_signal(signal.SIGKILL)  # node a's worker dies: its ffmpeg with it, its playlist freezes
        killed = time.monotonic()
        # the status still says online (a's lease has not run out): the frozen playlist alone tells the player
        page.wait_for_function("() => document.querySelector('.player').dataset.state === 'reconnecting'",
                               timeout=10_000)
        noticed = time.monotonic() - killed
        assert noticed <= 10, f"a frozen picture stayed labelled live for {noticed:.1f} s"
        assert page.is_visible(".player-notice") and page.inner_text(".player-notice-text") == "Menyambung ulang…"

        # b takes the lease when a's runs out: from that sync on, viewers are sent to b
        def holder() -> str | None:
            with portal.app.app_context():
                lease = db.session.get(CameraLease, camera.id)
                return lease.worker.name if lease is not None else None

        wait_for(lambda: holder() == "b", timeout=30, message="b never took the camera")
        assert status_json(portal, camera)["hls_url"] == b.playlist(camera)
        # and the open player loads b's playlist by itself
        page.wait_for_function(f"() => document.querySelector('.player').dataset.src === {b.playlist(camera)!r}",
                               timeout=40_000)
        wait_playing(page, 40)
        resumed = time.monotonic() - killed
        assert page.evaluate("() => window.pantauSamePage") is True
        assert "offline" not in states(page)[states(page).index("reconnecting"):], states(page)
        print(f"reconnecting shown {noticed:.1f} s after the kill; playing from node b after {resumed:.1f} s")
        with portal.app.app_context():
            assert db.session.get(CameraLease, camera.id).worker.name == "b"
        assert (a.media_root / "hls" / camera.media_key / "index.m3u8").exists()  # stale, on a's disk
        assert get(a.playlist(camera))[0] == 404  # and not served as live
        assert media_sequence(get(b.playlist(camera))[2]) > 0


@pytest.mark.rtsp
@pytest.mark.browser
def test_player_says_reconnecting_when_the_camera_stops_and_resumes_by_itself(tmp_path: Path, rtsp, page) -> None:  # type: ignore[no-untyped-def]
    # one machine, the embedded default: SQLite, no media address, the portal's own /media
    with running_portal(tmp_path) as portal, worker_pool(portal) as pool:
        sim = rtsp(cameras=1)
        camera = add_camera(portal, sim.url(1))
        pool.start("solo")
        wait_for(lambda: get(f"{portal.url}/media/hls/{camera.media_key}/index.m3u8")[0] == 200, timeout=40,
                 message="no live playlist")
        with portal.app.app_context():
            assert db.session.query(Worker).one().media_url is None
        page.goto(f"{portal.url}/kamera/{camera.id}")
        assert page.get_attribute(".player", "data-src") == f"/media/hls/{camera.media_key}/index.m3u8"
        record_states(page)
        page.locator(".player [data-action=play]").click()
        wait_playing(page, 30)

        for _ in range(2):  # twice: the second outage as well as the first
            sim.stop_camera(sim.name(1))
            stopped = time.monotonic()
            try:
                page.wait_for_function("() => document.querySelector('.player').dataset.state === 'reconnecting'",
                                       timeout=10_000)
            except Exception:
                raise AssertionError(f"states: {states(page)}") from None
            print(f"reconnecting shown {time.monotonic() - stopped:.1f} s after the camera stopped")
            assert time.monotonic() - stopped <= 10
            assert page.inner_text(".player-notice-text") == "Menyambung ulang…"
            frozen = video_time(page)
            sim.start_camera(sim.name(1))
            wait_playing(page, 45)  # no click: it resumes by itself
            assert video_time(page) > frozen
            assert page.is_hidden(".player-notice")


def test_one_machine_keeps_its_media_on_the_portal(tmp_path: Path) -> None:
    """No node configured anywhere: the sync carries no address and viewers use /media as before."""
    with running_portal(tmp_path) as portal:
        camera = add_camera(portal, "rtsp://127.0.0.1:9/x")
        with portal.app.app_context():
            auth = WorkerAuth()
            web = portal.app.test_client()
            body = {"worker": {"name": "solo", "media_url": ""}}
            assert web.post("/api/worker/v1/sync", json=body, headers=auth("solo")).status_code == 200
            assert db.session.query(Worker).one().media_url is None
            assert db.session.get(CameraLease, camera.id) is not None
        assert status_json(portal, camera)["hls_url"] == f"/media/hls/{camera.media_key}/index.m3u8"


def test_render_makes_a_media_node_configuration_nginx_accepts(tmp_path: Path) -> None:
    require_tool("nginx", reason="nginx -t checks the rendered configuration")
    runtime, media = tmp_path / "nginx", tmp_path / "media"
    media.mkdir()
    base = [sys.executable, str(ROOT / "nginx" / "render.py"), "--listen", "127.0.0.1:18081", "--upstream",
            "127.0.0.1:8000", "--media-root", str(media), "--runtime-dir", str(runtime)]
    out = runtime / "nginx.conf"
    done = subprocess.run([*base, "--media-node-url", "http://127.0.0.1:18081/", "--portal-host", "cctv.local",
                           "-o", str(out)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    conf = out.read_text()
    assert 'proxy_set_header X-Pantau-Media-Node "http://127.0.0.1:18081";' in conf
    assert 'proxy_set_header Host "cctv.local";' in conf and "${" not in conf
    assert "static" not in conf and "/_protected/" not in conf  # media only: no portal, no downloads
    check = subprocess.run([NGINX, "-t", "-c", str(out), "-p", str(runtime), "-e", str(runtime / "error.log")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    for bad in ("media1.example.go.id", "http://127.0.0.1/a b", "http://127.0.0.1/;evil", "javascript:alert(1)"):
        refused = subprocess.run([*base, "--media-node-url", bad], capture_output=True, text=True, timeout=30)
        assert refused.returncode == 2 and "MEDIA_NODE_URL" in refused.stderr, bad
    assert subprocess.run(base, capture_output=True, timeout=30).returncode == 2  # front door needs --static-root


LINK_SECRET = "browser-test-media-link-secret-0123456789"


@pytest.mark.rtsp
@pytest.mark.browser
def test_open_player_renews_its_signed_link_without_a_reload(tmp_path: Path, rtsp, page) -> None:  # type: ignore[no-untyped-def]
    """A public camera on a node, played from a signed media link that lasts 10 to 15 s: the player picks up the
    renewed links from its status feed and keeps playing, the same hls.js, across several expiries."""
    import re

    require_tool("nginx", reason="media nodes are the project's nginx")
    node = Node(tmp_path / "media" / "node-a")
    with running_portal(tmp_path, media_origins=node.url, media_link_secret=LINK_SECRET,
                        media_link_seconds=5) as portal, node.serve(portal, media_link_secrets=[LINK_SECRET]) as web:
        sim = rtsp(cameras=1)
        camera = add_camera(portal, sim.url(1))
        with worker_pool(portal) as pool:
            pool.start("a", PANTAU_MEDIA_ROOT=str(node.media_root), PANTAU_MEDIA_URL=node.url)
            wait_for(lambda: get(node.playlist(camera))[0] == 200, timeout=40, message="no playlist on the node")
            wait_for(lambda: status_json(portal, camera)["status"] == "online", timeout=20, message="not online")
            page.goto(f"{portal.url}/kamera/{camera.id}")
            page.evaluate("() => { window.pantauSamePage = true; }")  # gone if the page reloads
            src = page.get_attribute(".player", "data-src")
            assert src and src.startswith(f"{node.url}/media/s/"), src
            record_states(page)
            page.locator(".player [data-action=play]").click()
            wait_playing(page, 30)
            page.evaluate("() => { window.pantauFirstHls = window.PantauPlayer; }")
            log = web.runtime_dir / "access.log"
            pattern = re.compile(rf'"GET /media/s/[0-9a-f]{{8}}/([0-9]{{10}})/[^ ]+/hls/{camera.media_key}/[^ ]+ '
                                 r'HTTP/1.1" (\d+)')

            def expiries() -> set[str]:
                return {m.group(1) for m in pattern.finditer(log.read_text(errors="replace"))}

            first = int(min(expiries()))
            # played past the first link's expiry, under at least three links
            wait_for(lambda: len(expiries()) >= 3 and time.time() > first + 2, timeout=60, interval=0.5,
                     message="the player never moved to a renewed link")
            wait_playing(page, 10)
            assert page.evaluate("() => window.pantauSamePage") is True
            assert page.evaluate("() => window.PantauPlayer === window.pantauFirstHls"), "hls.js was reloaded"
            assert "reconnecting" not in states(page), states(page)
            statuses = [m.group(2) for m in pattern.finditer(log.read_text(errors="replace"))]
            # never an expired (410) or refused link; 304: the player's playlist revalidations (EdgeLoader)
            assert "200" in statuses and set(statuses) <= {"200", "304"}, statuses
