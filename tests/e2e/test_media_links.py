"""Signed media links (portal/media/links.py) through real nginx and gunicorn.

A public camera's player gets a signed playlist URL from its page and status feed; nginx checks the link itself
(secure_link) and serves the segments with no request to the portal; an expired link, one for another camera, a
tampered one, one under an unknown key id or a secret nginx does not hold are refused; a secret being rotated
out is still accepted. The signed playlist costs the portal nothing either: nginx serves it while the public
marker (hls/<key>/.public) is there, which the real worker (python -m transcoder, syncing with the portal) keeps
from each sync reply; a camera switched to private stops serving its signed playlist within one sync (goal 5 s,
bench/toggle), and a link held from before expires within 3 x PANTAU_MEDIA_LINK_SECONDS. The secret reaches no
page, header or log. A media node's configuration checks the same links and serves no playlist its own worker
does not mark.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from contract.media import PUBLIC_MARKER
from contract.worker_api import SYNC_INTERVAL_S
from portal.media import links
from tests.conftest import add_camera, issue_credential, make_settings, migrated_app
from tests.e2e.test_nginx_gunicorn import (
    PANTAU,
    PLAYLIST,
    SEGMENT,
    start_gunicorn,
    stop_gunicorn,
    write_media,
)
from tests.support.nginx import ROOT, NginxServer
from tests.support.tools import require_tool, wait_for

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

SECRET = "media-link-secret-for-the-tests-0123456789"
OLD_SECRET = "an-older-media-link-secret-being-rotated-out"
STRANGER = "a-secret-this-nginx-has-never-heard-of-000000"
STEP_S = 5  # PANTAU_MEDIA_LINK_SECONDS, the least allowed: links last 10 to 15 s
AUTH_CACHE_SECONDS = 1
CUT_OFF_GOAL_S = 5  # bench/toggle: a camera made private stops playing within 5 s (p95)


@dataclass
class Stack:
    web: NginxServer
    node: NginxServer
    env: dict[str, str]
    cameras: dict[str, tuple[int, str]]
    tmp: Path
    media_root: Path

    def get(self, path: str, web: NginxServer | None = None) -> requests.Response:
        return requests.get((web or self.web).url(path), timeout=10, allow_redirects=False)

    def portal_hits(self, fragment: str) -> int:
        log = self.tmp / "gunicorn-access.log"
        return sum(1 for line in log.read_text().splitlines() if fragment in line) if log.exists() else 0


def signed(key: str, file: str, *, secret: str = SECRET, expires: int | None = None, sig_key: str | None = None
           ) -> str:
    expires = expires or links.expiry(STEP_S)
    sig = links.signature(secret, sig_key or key, expires)
    return f"/media/s/{links.key_id(secret)}/{expires}/{sig}/hls/{key}/{file}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx = require_tool("/usr/sbin/nginx", reason="signed media links are checked by nginx")
    tmp = tmp_path_factory.mktemp("media-links")
    media_root = tmp / "media"
    database_url = f"sqlite:///{tmp / 'pantau.db'}"
    app = migrated_app(make_settings(tmp, database_url=database_url, serve_media=False))
    cameras: dict[str, tuple[int, str]] = {}
    with app.app_context():
        from portal.models import db

        for name, public in (("one", True), ("other", True), ("flip", True), ("private", False)):
            camera = add_camera(name=f"Kamera {name}", public=public)
            cameras[name] = (camera.id, camera.media_key)
        credential = issue_credential("links-worker")
        db.session.remove()
        db.engine.dispose()
    node_root = tmp / "node-media"  # a media node's own disk: its worker runs none of these cameras
    for _, key in cameras.values():
        write_media(media_root, key)
        write_media(node_root, key)
    env = {**os.environ, "PANTAU_ENV": "test", "PANTAU_DATABASE_URL": database_url,
           "PANTAU_MEDIA_ROOT": str(media_root), "PANTAU_INSTANCE_PATH": str(tmp / "instance"),
           "PANTAU_SECRET_KEY": "media-links-test-secret-key", "PANTAU_SERVE_MEDIA": "false",
           "PANTAU_PROXY_COUNT": "1", "PANTAU_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png",
           "PANTAU_MEDIA_LINK_SECRET": SECRET, "PANTAU_MEDIA_LINK_SECONDS": str(STEP_S), "PYTHONUNBUFFERED": "1"}
    proc, gunicorn_url = start_gunicorn(env, tmp / "gunicorn.log")
    upstream = gunicorn_url.removeprefix("http://")
    # the real worker: its cameras are off (closed ports), but it syncs and keeps the public markers
    worker_log = (tmp / "worker.log").open("ab")
    worker_env = {**os.environ, "PANTAU_PORTAL_URL": gunicorn_url, "PANTAU_WORKER_CREDENTIAL": credential,
                  "PANTAU_MEDIA_ROOT": str(media_root), "PANTAU_WORKER_NAME": "links-worker",
                  "PANTAU_WORKER_METRICS": "off", "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "transcoder"], cwd=ROOT, stdout=worker_log,
                              stderr=subprocess.STDOUT, env=worker_env)
    try:
        marked = [media_root / "hls" / cameras[name][1] / PUBLIC_MARKER for name in ("one", "other", "flip")]
        wait_for(lambda: all(m.is_file() for m in marked), timeout=60, interval=0.1,
                 message="the worker never marked the public cameras")
        assert not (media_root / "hls" / cameras["private"][1] / PUBLIC_MARKER).exists()
        with NginxServer(upstream=upstream, media_root=media_root, runtime_dir=tmp / "nginx", nginx=nginx,
                         auth_cache_seconds=AUTH_CACHE_SECONDS, media_link_secrets=[SECRET, OLD_SECRET]) as web, \
             NginxServer(upstream=upstream, media_root=node_root, runtime_dir=tmp / "node", nginx=nginx,
                         template=ROOT / "nginx" / "media-node.conf.template",
                         media_node_url="http://127.0.0.1:9/node", portal_host="localhost",
                         media_link_secrets=[SECRET]) as node:
            yield Stack(web=web, node=node, env=env, cameras=cameras, tmp=tmp, media_root=media_root)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker_log.close()
        stop_gunicorn(proc)


def test_a_public_cameras_player_gets_a_signed_link_and_its_segments_cost_the_portal_nothing(stack: Stack) -> None:
    camera_id, key = stack.cameras["one"]
    page = stack.get(f"/kamera/{camera_id}")
    assert page.status_code == 200
    src = re.search(r'data-src="([^"]+)"', page.text)
    assert src and re.fullmatch(rf"/media/s/[0-9a-f]{{8}}/[0-9]{{10}}/[A-Za-z0-9_-]{{22}}/hls/{key}/index\.m3u8",
                                src.group(1)), src
    status = stack.get(f"/kamera/{camera_id}/status.json").json()
    assert links.unsigned(status["hls_url"]) == f"/media/hls/{key}/index.m3u8"
    expires = int(status["hls_url"].split("/")[4])
    assert 2 * STEP_S <= expires - time.time() <= 3 * STEP_S + 1
    # the open list keeps plain, long-lived URLs
    assert f"/media/hls/{key}/index.m3u8" in stack.get("/api/v1/cameras.geojson").text

    playlist = stack.get(status["hls_url"])
    assert playlist.status_code == 200 and playlist.text == PLAYLIST
    assert playlist.headers["Cache-Control"] == "public, max-age=1"
    segment_url = status["hls_url"].rsplit("/", 1)[0] + "/index42.ts"  # relative segment URLs keep the link
    before = stack.portal_hits("/_auth/media/")
    for _ in range(5):
        segment = stack.get(segment_url)
        assert segment.status_code == 200 and segment.content == SEGMENT
        time.sleep(AUTH_CACHE_SECONDS / 2)  # past the former auth cache: each playlist would have asked again
        assert stack.get(status["hls_url"]).status_code == 200
    assert segment.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert stack.portal_hits("/_auth/media/") == before, "a signed segment or playlist must not cost an access check"
    # the plain URL still asks the portal
    assert stack.get(f"/media/hls/{key}/index.m3u8").status_code == 200
    wait_for(lambda: stack.portal_hits("/_auth/media/") > before, timeout=5, interval=0.05,
             message="the plain playlist did not ask the portal")

    for text in (page.text, str(status), str(dict(playlist.headers)), str(dict(segment.headers))):
        assert SECRET not in text
    logs = [stack.tmp / "gunicorn.log", stack.tmp / "gunicorn-access.log", stack.tmp / "nginx" / "access.log",
            stack.tmp / "nginx" / "error.log"]
    for log in logs:
        if log.exists():
            assert SECRET not in log.read_text(errors="replace"), log


def test_expired_foreign_tampered_and_unknown_links_are_refused(stack: Stack) -> None:
    key, other = stack.cameras["one"][1], stack.cameras["other"][1]
    assert stack.get(signed(key, "index42.ts")).status_code == 200
    assert stack.get(signed(key, "index.m3u8")).status_code == 200
    expired = int(time.time()) - 1
    for file in ("index42.ts", "index.m3u8"):
        assert stack.get(signed(key, file, expires=expired)).status_code == 410, "expired"
        assert stack.get(signed(other, file, sig_key=key)).status_code == 403, "another camera's link"
        assert stack.get(signed(key, file, secret=STRANGER)).status_code == 403, "a secret nginx does not hold"
        good = signed(key, file)
        parts = good.split("/")
        tampered_sig = "/".join(parts[:5] + [("A" if parts[5][0] != "A" else "B") + parts[5][1:]] + parts[6:])
        assert stack.get(tampered_sig).status_code == 403, "tampered signature"
        later = "/".join(parts[:4] + [str(int(parts[4]) + 3600)] + parts[5:])
        assert stack.get(later).status_code == 403, "a later expiry under the same signature"
        unknown_kid = "/".join(parts[:3] + ["00000000"] + parts[4:])
        assert stack.get(unknown_kid).status_code == 403, "an unknown key id"
    # rotation: a secret still listed in nginx (the previous one) is accepted
    assert stack.get(signed(key, "index42.ts", secret=OLD_SECRET)).status_code == 200
    # a private camera gets no signed link, and a forged one does not open its playlist (no marker)
    private_id, private_key = stack.cameras["private"]
    assert stack.get(f"/kamera/{private_id}/status.json").status_code == 404
    assert stack.get(signed(private_key, "index.m3u8")).status_code == 403
    # the marker itself is never served, signed or not
    assert stack.get(signed(key, PUBLIC_MARKER)).status_code == 404
    assert stack.get(f"/media/hls/{key}/{PUBLIC_MARKER}").status_code == 404


def test_the_signed_playlist_follows_each_switch_within_one_sync(stack: Stack) -> None:
    """Private and back, three times: each switch reaches nginx through the real worker's marker within one sync."""
    camera_id, key = stack.cameras["flip"]
    took: list[float] = []
    for _ in range(3):
        for flag, status in (("--private", 403), ("--public", 200)):
            changed = subprocess.run([*PANTAU, "cameras", "set", str(camera_id), flag], cwd=ROOT, env=stack.env,
                                     capture_output=True, text=True, timeout=60)
            assert changed.returncode == 0, changed.stderr
            switched = time.monotonic()
            # a fresh link each time (a held one expires within 15 s here)
            wait_for(lambda status=status: stack.get(signed(key, "index.m3u8")).status_code == status,
                     timeout=CUT_OFF_GOAL_S + 10,
                     interval=0.05, message=f"the signed playlist never answered {status} after {flag}")
            took.append(time.monotonic() - switched)
    print("signed playlist after each switch (s): " + ", ".join(f"{t:.2f}" for t in took))
    assert max(took) <= min(CUT_OFF_GOAL_S, SYNC_INTERVAL_S + 2), took


def test_a_camera_switched_to_private_stops_within_the_bound(stack: Stack) -> None:
    camera_id, key = stack.cameras["flip"]
    held = stack.get(f"/kamera/{camera_id}/status.json").json()["hls_url"]
    segment = held.rsplit("/", 1)[0] + "/index42.ts"
    assert stack.get(held).status_code == 200 and stack.get(segment).status_code == 200
    expires = int(held.split("/")[4])

    changed = subprocess.run([*PANTAU, "cameras", "set", str(camera_id), "--private"], cwd=ROOT, env=stack.env,
                             capture_output=True, text=True, timeout=60)
    assert changed.returncode == 0, changed.stderr
    switched = time.monotonic()
    # the playlist (what a player needs to go on) is refused once the worker's next sync removed the marker:
    # one sync interval (2 s) plus its round trip, inside the toggle goal
    wait_for(lambda: stack.get(held).status_code == 403, timeout=CUT_OFF_GOAL_S + 10, interval=0.05,
             message="nginx kept serving a signed playlist of a camera made private")
    cut_off = time.monotonic() - switched
    print(f"signed playlist refused {cut_off:.2f} s after the switch to private")
    assert cut_off <= min(CUT_OFF_GOAL_S, SYNC_INTERVAL_S + 2), f"cut-off {cut_off:.2f} s"
    assert not (stack.media_root / "hls" / key / PUBLIC_MARKER).exists()
    assert stack.get(f"/media/hls/{key}/index.m3u8").status_code in (403, 404)
    assert stack.get(f"/kamera/{camera_id}/status.json").status_code == 404  # no renewal
    # a segment under the held link (a name known from before): served at most until the link expires
    assert expires - time.time() <= 3 * STEP_S + 1
    wait_for(lambda: stack.get(segment).status_code == 410, timeout=3 * STEP_S + 5, interval=0.25,
             message="a held link outlived its expiry")
    assert time.time() >= expires - 1


def test_a_media_node_checks_the_same_links(stack: Stack) -> None:
    key, other = stack.cameras["one"][1], stack.cameras["other"][1]
    segment = stack.get(signed(key, "index42.ts"), web=stack.node)
    assert segment.status_code == 200 and segment.content == SEGMENT
    assert segment.headers["Access-Control-Allow-Origin"] == "*"
    refused = stack.get(signed(other, "index42.ts", sig_key=key), web=stack.node)
    assert refused.status_code == 403
    expired = stack.get(signed(key, "index42.ts", expires=int(time.time()) - 1), web=stack.node)
    assert expired.status_code == 410
    assert expired.headers.get("Access-Control-Allow-Origin") == "*", "a player on the portal's origin reads it"
    # the node does not run this camera (its worker keeps no marker): its playlist is not live here, signed or not
    assert stack.get(signed(key, "index.m3u8"), web=stack.node).status_code == 404
    assert stack.get(f"/media/hls/{key}/index.m3u8", web=stack.node).status_code == 404
    # the rotated-out secret is not listed on this node
    assert stack.get(signed(key, "index42.ts", secret=OLD_SECRET), web=stack.node).status_code == 403
