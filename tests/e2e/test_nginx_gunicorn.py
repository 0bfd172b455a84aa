"""The production front door for real: nginx (the project's own configuration) in front of gunicorn serving
``wsgi:app``, on a migrated SQLite database, with HLS files and snapshots on disk as a worker would leave them.

What it proves: nginx serves public media straight from disk (the portal has ``SERVE_MEDIA`` off, so a
request that reached Python would be a 404), asks the portal about every playlist, segment and snapshot,
refuses private and unknown cameras even when their files exist, stops serving a camera within about one
auth-cache lifetime after it is made private, passes pages to gunicorn while serving static assets itself, and
lets other sites frame the embeddable player (only that page); each security header once, the auth cache keyed
on the camera and the session only, /metrics and the worker API closed to strangers, body limits that agree
between nginx, gunicorn and Flask, hostile worker bodies answered 400 without killing a gunicorn worker, and
the worker API rate limited.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from contract.limits import MAX_SYNC_BODY_BYTES
from portal.footage.evidence import generate_key
from portal.settings import Settings
from tests.conftest import add_camera, issue_credential, make_settings, migrated_app
from tests.support.nginx import ROOT, NginxServer
from tests.support.tools import free_port, require_tool, wait_for

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

AUTH_CACHE_SECONDS = 1  # nginx/render.py's default, what production runs with
METRICS_TOKEN = "metrics-token-for-the-scraper"
SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy",
                    "Permissions-Policy", "Strict-Transport-Security")
PLAYLIST = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:42\n#EXTINF:2.0,\nindex42.ts\n"
SEGMENT = b"\x47\x40\x00\x10" + bytes(range(184)) * 4 + b"\x47" * 188
UNKNOWN_KEY = "0123456789abcdef"  # well formed, in no database row
MALFORMED_KEY = "Not_A-Key"  # passes nginx's pattern, not the portal's
_SCRIPT = Path(sys.executable).with_name("pantau")  # the operator's CLI, in the same environment
PANTAU = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-c", "from portal.cli import cli; cli()"]


def snapshot_bytes(key: str) -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + key.encode() + b"\xff\xd9"


@dataclass
class Stack:
    web: NginxServer
    gunicorn_url: str
    env: dict[str, str]
    media_root: Path
    cameras: dict[str, tuple[int, str]]  # name -> (id, media key)
    credential: str
    tmp: Path

    def portal_hits(self, fragment: str) -> int:
        """Requests gunicorn answered whose request line contains ``fragment``."""
        log = self.tmp / "gunicorn-access.log"
        return sum(1 for line in log.read_text().splitlines() if fragment in line) if log.exists() else 0

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(self.web.url(path), headers=headers, timeout=10, allow_redirects=False)

    def key(self, name: str) -> str:
        return self.cameras[name][1]

    def id(self, name: str) -> int:
        return self.cameras[name][0]


def media_paths(key: str) -> dict[str, str]:
    return {
        "playlist": f"/media/hls/{key}/index.m3u8",
        "segment": f"/media/hls/{key}/index42.ts",
        "snapshot": f"/media/snapshots/{key}.jpg",
    }


def write_media(root: Path, key: str) -> None:
    """What a transcoder leaves under MEDIA_ROOT for a running camera."""
    hls = root / "hls" / key
    hls.mkdir(parents=True, exist_ok=True)
    (hls / "index.m3u8").write_text(PLAYLIST)
    (hls / "index42.ts").write_bytes(SEGMENT)
    (root / "snapshots").mkdir(parents=True, exist_ok=True)
    (root / "snapshots" / f"{key}.jpg").write_bytes(snapshot_bytes(key))


def start_gunicorn(env: dict[str, str], log: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "-b", f"127.0.0.1:{port}", "-w", "2",
             "--graceful-timeout", "5", "--access-logfile", str(log.with_name("gunicorn-access.log"))],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        return requests.get(url + "/healthz", timeout=2).status_code == 200

    try:
        wait_for(healthy, timeout=30, interval=0.2, message=f"gunicorn on {url} did not answer /healthz")
    except BaseException:
        stop_gunicorn(proc)
        raise
    return proc, url


def stop_gunicorn(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx = require_tool("/usr/sbin/nginx", reason="the front door is nginx")
    tmp = tmp_path_factory.mktemp("front-door")
    media_root = tmp / "media"
    database_url = f"sqlite:///{tmp / 'pantau.db'}"

    # migrate and seed through the app factory, as an operator's `pantau db upgrade` would
    settings = make_settings(tmp, database_url=database_url, env="production", serve_media=False,
                             public_url="https://cctv.kendarikota.go.id")
    generate_key(settings.evidence_key_path)  # production refuses to start without the city's signing key
    app = migrated_app(settings)
    cameras: dict[str, tuple[int, str]] = {}
    with app.app_context():
        from portal.models import db

        for name, public in (("public", True), ("private", False), ("flip", True), ("switch", True)):
            camera = add_camera(name=f"Kamera {name}", public=public)
            cameras[name] = (camera.id, camera.media_key)
        credential = issue_credential("media-1")
        db.session.remove()
        db.engine.dispose()
    for _, key in cameras.values():
        write_media(media_root, key)
    for key in (UNKNOWN_KEY, MALFORMED_KEY):  # files on disk must not be enough
        write_media(media_root, key)

    env = {
        **os.environ,
        "PANTAU_ENV": "production",
        "PANTAU_DATABASE_URL": database_url,
        "PANTAU_MEDIA_ROOT": str(media_root),
        "PANTAU_INSTANCE_PATH": str(tmp / "instance"),
        "PANTAU_SECRET_KEY": "front-door-test-secret",
        "PANTAU_PUBLIC_URL": "https://cctv.kendarikota.go.id",
        "PANTAU_SERVE_MEDIA": "false",  # nginx serves media; the portal must not be what answers
        "PANTAU_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png",
        "PANTAU_PROXY_COUNT": "1",  # nginx
        "PANTAU_METRICS_NETWORKS": "127.0.0.2/32",  # not where the tests come from (127.0.0.1)
        "PANTAU_METRICS_TOKEN": METRICS_TOKEN,
        "PYTHONUNBUFFERED": "1",
    }
    proc, gunicorn_url = start_gunicorn(env, tmp / "gunicorn.log")
    try:
        with NginxServer(upstream=gunicorn_url.removeprefix("http://"), media_root=media_root,
                         runtime_dir=tmp / "nginx", nginx=nginx,
                         auth_cache_seconds=AUTH_CACHE_SECONDS) as web:
            yield Stack(web=web, gunicorn_url=gunicorn_url, env=env, media_root=media_root, cameras=cameras,
                        credential=credential, tmp=tmp)
    finally:
        stop_gunicorn(proc)


def test_public_camera_media_comes_from_disk_through_nginx(stack: Stack) -> None:
    key = stack.key("public")
    paths = media_paths(key)

    playlist = stack.get(paths["playlist"])
    assert playlist.status_code == 200, playlist.text
    assert playlist.text == PLAYLIST
    assert playlist.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert playlist.headers["Cache-Control"].endswith(", max-age=1")  # nginx's location, not Flask's no-cache
    assert playlist.headers["Cache-Control"].startswith("public"), "a CDN may keep a public camera's playlist"

    segment = stack.get(paths["segment"])
    assert segment.status_code == 200
    assert segment.content == SEGMENT
    assert segment.headers["Content-Type"] == "video/mp2t"
    assert segment.headers["Cache-Control"] == "public, max-age=31536000, immutable"

    snapshot = stack.get(paths["snapshot"])
    assert snapshot.status_code == 200
    assert snapshot.content == snapshot_bytes(key)
    assert snapshot.headers["Content-Type"] == "image/jpeg"

    # the portal itself does not serve media in production: only nginx could have answered
    assert requests.get(stack.gunicorn_url + paths["playlist"], timeout=10).status_code == 404


def test_private_camera_media_is_refused(stack: Stack) -> None:
    key = stack.key("private")
    for what, path in media_paths(key).items():
        assert (stack.media_root / path.removeprefix("/media/")).is_file()  # the file is there...
        response = stack.get(path)
        assert response.status_code in (403, 404), f"{what}: {response.status_code}"  # ...and still refused
        assert response.content != SEGMENT and not response.content.startswith(b"#EXTM3U")


def test_unknown_keys_are_refused(stack: Stack) -> None:
    for key in (UNKNOWN_KEY, MALFORMED_KEY):
        for what, path in media_paths(key).items():
            response = stack.get(path)
            assert response.status_code in (403, 404), f"{key} {what}: {response.status_code}"
    for path in ("/media/hls/../snapshots/x.jpg", f"/media/hls/{stack.key('public')}/../../../etc/passwd",
                 f"/media/recordings/{stack.key('public')}/a.mp4", f"/_auth/media/{stack.key('public')}"):
        assert stack.get(path).status_code in (400, 403, 404), path


def test_making_a_camera_private_stops_its_media_within_the_auth_cache_lifetime(stack: Stack) -> None:
    key = stack.key("flip")
    paths = media_paths(key)
    for path in paths.values():  # served, and the allow answer is now in nginx's auth cache
        assert stack.get(path).status_code == 200, path

    changed = subprocess.run(
        [*PANTAU, "cameras", "set", str(stack.id("flip")), "--private"],
        cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=60,
    )
    assert changed.returncode == 0, changed.stderr
    assert '"public": false' in changed.stdout

    def refused() -> bool:
        return all(stack.get(path).status_code in (403, 404) for path in paths.values())

    # one cache lifetime, plus slack for a loaded machine; polled, never slept through
    wait_for(refused, timeout=AUTH_CACHE_SECONDS + 10, interval=0.25,
             message=f"nginx kept serving camera {key} after it was made private")


def test_pages_come_from_gunicorn_and_static_assets_from_nginx(stack: Stack) -> None:
    home = stack.get("/")
    assert home.status_code == 200
    assert home.headers["Content-Type"].startswith("text/html")
    assets = sorted(set(re.findall(r'(?:href|src)="(/static/[^"?#]+)', home.text)))
    vendor = [a for a in assets if a.startswith("/static/vendor/")]
    assert vendor, f"the map page links no vendored assets: {assets}"
    for asset in assets:
        response = stack.get(asset)
        assert response.status_code == 200, asset
        assert response.content == (ROOT / asset.removeprefix("/")).read_bytes(), asset
        # nginx's static locations set these; Flask's static view would not say a month or a day
        expected = "max-age=2592000" if asset in vendor else "max-age=86400"
        assert response.headers["Cache-Control"] == f"public, {expected}", asset

    page = stack.get(f"/kamera/{stack.id('public')}")
    assert page.status_code == 200
    assert "Kamera public" in page.text
    # the player's URLs are the ones nginx serves
    src = re.search(r'data-src="([^"]+)"', page.text)
    snapshot = re.search(r'data-snapshot="([^"]+)"', page.text)
    assert src and snapshot
    assert stack.get(src.group(1)).text == PLAYLIST
    assert stack.get(snapshot.group(1)).content == snapshot_bytes(stack.key("public"))

    assert stack.get(f"/kamera/{stack.id('private')}").status_code == 404


def test_only_the_embeddable_player_may_be_framed_by_other_sites(stack: Stack) -> None:
    embed = stack.get(f"/embed/{stack.id('public')}")
    assert embed.status_code == 200
    assert "X-Frame-Options" not in embed.headers  # the portal leaves it off; nginx must not put it back
    for path in ("/", f"/kamera/{stack.id('public')}"):
        framed = stack.get(path).headers.get("X-Frame-Options", "")
        assert framed and {v.strip() for v in framed.split(",")} == {"SAMEORIGIN"}, path


def header_counts(response: requests.Response) -> dict[str, int]:
    raw = response.raw.headers  # urllib3 keeps repeated headers apart
    return {name: len(raw.getlist(name)) for name in SECURITY_HEADERS}


def test_each_security_header_once_through_nginx(stack: Stack) -> None:
    key = stack.key("public")
    for path in ("/", f"/kamera/{stack.id('public')}", "/kamera/2147483648", "/api/v1/cameras.geojson"):
        response = stack.get(path)
        counts = header_counts(response)
        assert counts == dict.fromkeys(SECURITY_HEADERS, 1), (path, counts)  # production over https: HSTS too
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], path
    embed = stack.get(f"/embed/{stack.id('public')}")
    assert header_counts(embed)["X-Frame-Options"] == 0
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    for path in ("/static/css/pantau.css", "/static/vendor/htmx/htmx.min.js"):  # nginx's own
        counts = header_counts(stack.get(path))
        assert all(counts[name] == 1 for name in ("X-Content-Type-Options", "X-Frame-Options",
                                                  "Referrer-Policy", "Content-Security-Policy")), (path, counts)
    for path in (media_paths(key)["playlist"], media_paths(stack.key("private"))["playlist"],
                 "/media/recordings/x.mp4"):
        assert header_counts(stack.get(path))["X-Content-Type-Options"] == 1, path


def test_auth_cache_is_keyed_on_the_camera_and_the_session_only(stack: Stack) -> None:
    key = stack.key("public")
    path = media_paths(key)["playlist"]
    before = stack.portal_hits(f"/_auth/media/{key}")
    for i in range(20):  # an attacker varying every other cookie and header
        response = stack.get(path, Cookie=f"junk{i}={i}; lang=en", Authorization=f"Bearer {i}",
                             **{"X-Whatever": str(i)})
        assert response.status_code == 200
    after = stack.portal_hits(f"/_auth/media/{key}")
    assert after - before <= 2, "one portal question per cache lifetime"
    stack.get(path, Cookie="pantau_session=someone-else")
    wait_for(lambda: stack.portal_hits(f"/_auth/media/{key}") > after, timeout=5,
             message="a new session is a new question to the portal")


def test_metrics_and_worker_api_are_not_for_everyone(stack: Stack) -> None:
    refused = stack.get("/metrics")
    assert refused.status_code == 403 and "pantau_cameras" not in refused.text
    allowed = stack.get("/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
    assert allowed.status_code == 200 and 'pantau_cameras{status="unknown"}' in allowed.text
    auth = {"Authorization": f"Bearer {stack.credential}"}
    ok = requests.get(stack.web.url("/api/worker/v1/ping"), headers=auth, timeout=10)
    assert ok.status_code == 200 and ok.json()["worker"] == "media-1"


def test_body_limits_agree_between_nginx_gunicorn_and_flask(stack: Stack) -> None:
    assert Settings().max_body_bytes == 1024 * 1024 and MAX_SYNC_BODY_BYTES == 4 * 1024 * 1024
    conf = stack.web.conf_path.read_text()
    assert "client_max_body_size 1m;" in conf and "client_max_body_size 4m;" in conf
    auth = {"Authorization": f"Bearer {stack.credential}", "Content-Type": "application/json"}
    sync = stack.web.url("/api/worker/v1/sync")

    def body(size: int) -> bytes:
        return b'{"worker": {"hostname": "' + b"x" * (size - 40) + b'"}}'

    under = requests.post(sync, data=body(MAX_SYNC_BODY_BYTES - 1000), headers=auth, timeout=30)
    assert under.status_code == 400 and "worker.hostname" in under.json()["detail"], "reached Flask's bounds"
    over = requests.post(sync, data=body(MAX_SYNC_BODY_BYTES + 1000), headers=auth, timeout=30)
    assert over.status_code == 413 and over.json()["error"] == "payload_too_large"
    page = requests.post(stack.web.url("/kamera"), data=b"x" * (1024 * 1024 + 1), timeout=30)
    assert page.status_code == 413
    # Flask says the same behind its own door (a request that reached gunicorn directly)
    direct = requests.post(stack.gunicorn_url + "/api/worker/v1/sync", data=body(MAX_SYNC_BODY_BYTES + 1000),
                           headers=auth, timeout=30)
    assert direct.status_code == 413 and direct.json()["error"] == "payload_too_large"
    long_line = stack.get("/kamera?q=" + "a" * 7000)
    assert long_line.status_code == 400 and "Traceback" not in long_line.text


def test_hostile_worker_requests_through_nginx_never_kill_a_gunicorn_worker(stack: Stack) -> None:
    auth = {"Authorization": f"Bearer {stack.credential}", "Content-Type": "application/json"}
    sync = stack.web.url("/api/worker/v1/sync")
    camera = stack.id("public")
    bodies = [
        '{"worker": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"worker": {"name": "w\\ud800"}}',
        '{"worker": {"capacity": 2147483648}}',
        '{"worker": {"disk_free_bytes": 9223372036854775808}}',
        json.dumps({"worker": {}, "cameras": [{"id": camera, "status": "error", "error": "rtsp://a:b@" * 1000}]}),
        json.dumps({"worker": {}, "cameras": [{"id": camera, "status": "online",
                                               "last_segment_at": "0001-01-01T00:00:00+01:00"}]}),
        '{"worker": {"health": {"x": NaN}}}',
    ]
    for text in bodies:
        response = requests.post(sync, data=text.encode(), headers=auth, timeout=30)
        assert response.status_code == 400, (text[:60], response.status_code, response.text[:200])
    assert requests.post(sync, json={"worker": {}}, headers=auth, timeout=30).status_code == 200
    log = (stack.tmp / "gunicorn.log").read_text()
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log


def test_worker_api_is_rate_limited(stack: Stack) -> None:
    """Wrong credentials once drew about 1,400 answers a second; now the burst is answered, then 429."""
    url = stack.web.url("/api/worker/v1/ping")
    with requests.Session() as session:
        codes = [session.get(url, headers={"Authorization": f"Bearer guess-{i}"}, timeout=10).status_code
                 for i in range(60)]
    assert codes.count(401) <= 30 and codes.count(429) >= 25, codes
    limited = requests.get(url, headers={"Authorization": "Bearer guess"}, timeout=10)
    if limited.status_code == 429:
        assert limited.json() == {"error": "too_many_requests"}


class Browserless:
    """A person's session through nginx without a browser: carries the pantau_session cookie by hand (it is
    Secure in production, which a plain HTTP client would not send back over plain HTTP to loopback)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.cookie = ""

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), **({"Cookie": f"pantau_session={self.cookie}"} if self.cookie else {})}
        response = requests.request(method, self.stack.web.url(path), headers=headers, timeout=10,
                                    allow_redirects=False, **kwargs)
        if "pantau_session" in response.cookies:
            self.cookie = response.cookies["pantau_session"]
            assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
        return response


def test_the_admins_switch_reaches_nginx_and_cdn_cacheable_media_within_2_s(stack: Stack) -> None:
    """Production settings: an admin signs in with a password and a TOTP code, switches a camera private in the
    console (the CSRF token in the header, as htmx sends it) and public again; nginx follows within its 1 s auth
    cache; a CDN obeying the playlist's max-age=1 would too."""
    import pyotp

    from portal import create_app
    from portal.models import db
    from portal.settings import Settings
    from tests.conftest import STAFF_PASSWORD, make_user

    secret = pyotp.random_base32()
    app = create_app(Settings.from_env(stack.env))
    with app.app_context():
        make_user("admin", username="diskominfo", totp_secret=secret,
                  totp_enabled_at=dt.datetime.now(dt.UTC))
        db.engine.dispose()
    me = Browserless(stack)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', me.send("GET", "/masuk").text)
    assert token
    step = me.send("POST", "/masuk", data={"csrf_token": token.group(1), "username": "diskominfo",
                                          "password": STAFF_PASSWORD})
    assert step.status_code == 302 and step.headers["Location"] == "/masuk/kode"  # production: a second factor
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', me.send("GET", "/masuk/kode").text)
    assert token
    done = me.send("POST", "/masuk/kode", data={"csrf_token": token.group(1), "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    console = me.send("GET", "/admin/kamera")
    assert console.status_code == 200 and "Content-Security-Policy" in console.headers
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', console.text)
    assert meta and "s3cret" not in console.text

    key, camera_id = stack.key("switch"), stack.id("switch")
    paths = media_paths(key)
    playlist = stack.get(paths["playlist"])
    assert playlist.status_code == 200 and playlist.headers["Cache-Control"] == "public, max-age=1"

    def switch(public: bool) -> float:
        answer = me.send("POST", "/admin/kamera/publik", headers={"X-CSRFToken": meta.group(1), "HX-Request": "true"},
                         data={"ids": str(camera_id), "public": "1" if public else "0", "reason": "uji nginx"})
        assert answer.status_code == 200, answer.text[:300]
        return time.monotonic()  # the switch is committed: from here only nginx's 1 s auth cache may delay it

    started = switch(False)
    wait_for(lambda: all(stack.get(p).status_code == 403 for p in paths.values()), timeout=10, interval=0.05,
             message="nginx kept serving a camera made private")
    cutoff = time.monotonic() - started
    refused = stack.get(paths["playlist"])
    assert "public" not in refused.headers.get("Cache-Control", "")  # a refusal is never cached for everyone
    # nginx's cache (1 s) plus slack for a loaded machine: a longer cache (a misconfiguration) fails here; the
    # end-to-end figure against its goal (click to cut-off, p95) is bench/toggle's private_cutoff_s_p95
    assert cutoff + 1 <= 3.0, f"nginx {cutoff:.2f} s after the switch + a CDN's max-age 1 s"
    assert stack.get(f"/kamera/{camera_id}").status_code == 404
    assert f"/kamera/{camera_id}" not in stack.get("/api/v1/cameras.geojson").text

    started = switch(True)
    wait_for(lambda: all(stack.get(p).status_code == 200 for p in paths.values()), timeout=10, interval=0.05,
             message="nginx did not serve a camera made public again")
    assert time.monotonic() - started <= 3.0
    assert stack.get(f"/kamera/{camera_id}").status_code == 200
    # without the session, the console is closed; the switch without a CSRF token is refused
    assert stack.get("/admin/kamera").status_code == 302
    assert me.send("POST", "/admin/kamera/publik", data={"ids": str(camera_id), "public": "0",
                                                         "reason": "x"}).status_code == 400


def test_report_photos_limits_agree_between_nginx_and_flask(stack: Stack) -> None:
    """/lapor takes 3 photos of 10 MiB (31 MiB with the fields): a 50 MB "photo" gets nginx's clear page, a
    report under the limit reaches the portal's own checks (here: a session without its CSRF token)."""
    settings = Settings()
    assert settings.report_max_photos * settings.report_photo_max_bytes + 1024 * 1024 == 31 * 1024 * 1024
    assert "client_max_body_size 31m;" in stack.web.conf_path.read_text()
    url = stack.web.url("/lapor")
    huge = requests.post(url, files={"photos": ("big.jpg", b"\xff\xd8\xff" + b"\0" * (50 * 1024 * 1024))},
                         data={"category": "fire"}, timeout=60)
    assert huge.status_code == 413 and "Foto terlalu besar" in huge.text and "10 MB" in huge.text
    under = requests.post(url, files={"photos": ("ok.jpg", b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024))},
                          data={"category": "fire"}, headers={"Accept": "application/json"}, timeout=60)
    assert under.status_code == 400 and under.json()["field"] == "form", "reached the portal's form"
