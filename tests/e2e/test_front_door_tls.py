"""The production front door over TLS: nginx rendered in production mode (``nginx/render.py --mode production``)
with a test certificate, in front of gunicorn serving ``wsgi:app`` in production settings.

What it proves: HTTP/2 over TLS 1.2/1.3, gzip for text (not for video), plain http redirected to https, slow
clients cut off (headers, body, a TLS handshake that never comes) while others are served, 429 after a burst
on sign-in, reporting and the public APIs (the project's own page, or JSON under the APIs), the project's own
pages for 413 and 502, and — in this configuration too — each security header once with HSTS, /metrics only
for its network or token (the client address coming through nginx), and the worker API's credential, body
limit and rate limit.

Each test that counts requests speaks from its own loopback address (127.0.0.x), so the per-address limits of
one test never throttle another.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from portal.footage.evidence import generate_key
from tests.conftest import add_camera, issue_credential, make_settings, migrated_app
from tests.e2e.test_nginx_gunicorn import SEGMENT, media_paths, start_gunicorn, stop_gunicorn, write_media
from tests.support.nginx import NginxServer
from tests.support.tls import TlsFiles, make_test_ca
from tests.support.tools import free_port, require_tool

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

METRICS_TOKEN = "metrics-token-for-the-scraper"
HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 2
LIMITS = {"signin_rate": "30r/m", "signin_burst": 5, "report_rate": "6r/m", "report_burst": 3,
          "api_rate": "5r/s", "api_burst": 10}
ONCE = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy",
        "Strict-Transport-Security")


@dataclass
class TlsStack:
    web: NginxServer
    tls: TlsFiles
    gunicorn_url: str
    camera: tuple[int, str]
    credential: str
    tmp: Path

    def client(self, source: str = "127.0.0.1", http2: bool = True, **kwargs: object) -> httpx.Client:
        """An HTTP/2 client trusting the test CA, speaking from ``source`` (its own rate-limit bucket)."""
        context = self.tls.client_context()
        if not http2:
            context.set_alpn_protocols(["http/1.1"])
        transport = httpx.HTTPTransport(http2=http2, verify=context, local_address=source)
        return httpx.Client(base_url=self.web.base_url, transport=transport, timeout=15,
                            follow_redirects=False, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsStack]:
    nginx = require_tool("/usr/sbin/nginx", reason="the front door is nginx")
    tmp = tmp_path_factory.mktemp("tls-front-door")
    tls = make_test_ca(tmp / "tls")
    media_root = tmp / "media"
    database_url = f"sqlite:///{tmp / 'pantau.db'}"
    settings = make_settings(tmp, database_url=database_url, env="production", serve_media=False,
                             public_url="https://127.0.0.1")
    generate_key(settings.evidence_key_path)
    app = migrated_app(settings)
    with app.app_context():
        from portal.models import db

        camera = add_camera(name="Kamera publik", public=True)
        ids = (camera.id, camera.media_key)
        credential = issue_credential("media-1")
        db.session.remove()
        db.engine.dispose()
    write_media(media_root, ids[1])
    env = {
        **os.environ,
        "PANTAU_ENV": "production",
        "PANTAU_DATABASE_URL": database_url,
        "PANTAU_MEDIA_ROOT": str(media_root),
        "PANTAU_INSTANCE_PATH": str(tmp / "instance"),
        "PANTAU_SECRET_KEY": "tls-front-door-test-secret-0123456789abcdef",
        "PANTAU_PUBLIC_URL": "https://127.0.0.1",
        "PANTAU_SERVE_MEDIA": "false",
        "PANTAU_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png",
        "PANTAU_PROXY_COUNT": "1",
        "PANTAU_METRICS_NETWORKS": "127.0.0.2/32",
        "PANTAU_METRICS_TOKEN": METRICS_TOKEN,
        "PYTHONUNBUFFERED": "1",
    }
    proc, gunicorn_url = start_gunicorn(env, tmp / "gunicorn.log")
    try:
        with NginxServer(upstream=gunicorn_url.removeprefix("http://"), media_root=media_root,
                         runtime_dir=tmp / "nginx", nginx=nginx, mode="production",
                         tls_certificate=tls.certificate, tls_key=tls.key,
                         client_header_timeout=f"{HEADER_TIMEOUT_S}s", client_body_timeout=f"{BODY_TIMEOUT_S}s",
                         **LIMITS) as web:
            yield TlsStack(web=web, tls=tls, gunicorn_url=gunicorn_url, camera=ids, credential=credential, tmp=tmp)
    finally:
        stop_gunicorn(proc)


def test_https_speaks_http2_over_tls_1_2_and_1_3(tls_stack: TlsStack) -> None:
    with tls_stack.client("127.0.0.10") as client:
        page = client.get(f"/kamera/{tls_stack.camera[0]}")
    assert page.status_code == 200 and page.http_version == "HTTP/2"
    assert "Kamera publik" in page.text
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = tls_stack.tls.client_context()
        context.minimum_version = context.maximum_version = version
        with socket.create_connection(("127.0.0.1", tls_stack.web.port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            assert conn.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
            assert conn.selected_alpn_protocol() == "h2"
    conf = tls_stack.web.conf_path.read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf and "TLSv1.1" not in conf.replace("TLSv1.1 ", "x")


def test_text_is_gzipped_and_video_is_not(tls_stack: TlsStack) -> None:
    key = tls_stack.camera[1]
    with tls_stack.client("127.0.0.11", headers={"Accept-Encoding": "gzip"}) as client:
        for path in ("/", "/static/css/pantau.css", "/static/vendor/htmx/htmx.min.js"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers.get("Content-Encoding") == "gzip", path
            assert "Accept-Encoding" in response.headers.get("Vary", ""), path
        segment = client.get(media_paths(key)["segment"])
        assert segment.status_code == 200 and segment.content == SEGMENT
        assert "Content-Encoding" not in segment.headers


def test_plain_http_is_redirected_to_https(tls_stack: TlsStack) -> None:
    web = tls_stack.web
    with httpx.Client(timeout=10, follow_redirects=False) as plain:
        for method in ("GET", "POST"):
            moved = plain.request(method, f"{web.http_url}/kamera?q=pantai&page=2")
            assert moved.status_code == 301, method
            assert moved.headers["Location"] == f"https://127.0.0.1:{web.port}/kamera?q=pantai&page=2"
        # certbot's webroot challenge stays on plain http
        challenge = web.runtime_dir / "acme" / ".well-known" / "acme-challenge"
        challenge.mkdir(parents=True, exist_ok=True)
        (challenge / "token-123").write_text("token-123.thumbprint")
        answered = plain.get(f"{web.http_url}/.well-known/acme-challenge/token-123")
        assert answered.status_code == 200 and answered.text == "token-123.thumbprint"


def _closed_by_server(sock: socket.socket | ssl.SSLSocket, deadline_s: float) -> float:
    """Seconds until the server closes ``sock`` (reads EOF or a reset); fails after ``deadline_s``."""
    started = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - started < deadline_s:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            return time.monotonic() - started
        if not data:
            return time.monotonic() - started
        # a 408 answer may come first; keep reading until the connection ends
    raise AssertionError(f"the server kept a slow client for more than {deadline_s} s")


def test_slow_clients_are_cut_off_while_others_are_served(tls_stack: TlsStack) -> None:
    port = tls_stack.web.port
    context = tls_stack.tls.client_context()
    context.set_alpn_protocols(["http/1.1"])
    slow: list[tuple[str, socket.socket | ssl.SSLSocket]] = []
    try:
        for i in range(10):  # headers dribbled: the request line and one header, then nothing
            conn = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                       server_hostname="127.0.0.1")
            conn.sendall(f"GET /?slow={i} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
            slow.append(("headers", conn))
        for _ in range(5):  # a body that never arrives
            conn = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                       server_hostname="127.0.0.1")
            conn.sendall(b"POST /kamera HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n\r\nq=ab")
            slow.append(("body", conn))
        for _ in range(5):  # a TLS handshake that never starts
            slow.append(("handshake", socket.create_connection(("127.0.0.1", port), timeout=10)))

        with tls_stack.client("127.0.0.12") as client:  # everyone else is served meanwhile
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            assert time.monotonic() - started < HEADER_TIMEOUT_S

        slack = 6.0  # a loaded machine
        for what, conn in slow:
            limit = (BODY_TIMEOUT_S if what == "body" else HEADER_TIMEOUT_S) + slack
            _closed_by_server(conn, limit)
    finally:
        for _, conn in slow:
            conn.close()
    # the bodies that never came were answered 408 (then closed), not passed to the portal
    assert tls_stack.web.access_log().count('"POST /kamera HTTP/1.1" 408') >= 5


def _burst(client: httpx.Client, method: str, path: str, n: int, **kwargs: object) -> list[httpx.Response]:
    return [client.request(method, path, **kwargs) for _ in range(n)]  # type: ignore[arg-type]


def test_sign_in_is_rate_limited_with_the_projects_page(tls_stack: TlsStack) -> None:
    with tls_stack.client("127.0.0.20") as client:
        answers = _burst(client, "GET", "/masuk", 20)
    codes = [a.status_code for a in answers]
    assert codes[:5] == [200] * 5, codes  # the burst is answered
    assert codes.count(429) >= 10, codes
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.headers["Content-Type"].startswith("text/html")
    assert "Terlalu banyak permintaan" in limited.text and "Too many requests" in limited.text
    assert "nginx" not in limited.text.lower()
    assert limited.headers["Retry-After"] == "5" and limited.headers["Cache-Control"] == "no-store"
    assert _counts(limited) == dict.fromkeys(ONCE, 1)
    # another address is not affected
    with tls_stack.client("127.0.0.21") as other:
        assert other.get("/masuk").status_code == 200


def test_reports_are_rate_limited_but_reading_is_not(tls_stack: TlsStack) -> None:
    with tls_stack.client("127.0.0.22") as client:
        reads = _burst(client, "GET", "/lapor", 12)
        assert 429 not in [r.status_code for r in reads], "only what is sent counts as a report"
        sent = _burst(client, "POST", "/lapor", 8, data={"description": "x"})
    codes = [r.status_code for r in sent]
    assert 429 not in codes[:3] and codes.count(429) >= 4, codes
    with tls_stack.client("127.0.0.23") as client:
        posted = _burst(client, "POST", "/open311/v2/requests.json", 8, data={"service_code": "x"})
    codes = [r.status_code for r in posted]
    assert codes.count(429) >= 4, codes
    limited = next(r for r in posted if r.status_code == 429)
    assert limited.json()["error"] == "too_many_requests"  # JSON under the API, like the portal's own


def test_public_api_is_rate_limited_in_json(tls_stack: TlsStack) -> None:
    with tls_stack.client("127.0.0.24") as client:
        answers = _burst(client, "GET", "/api/v1/cameras.geojson", 30)
    codes = [a.status_code for a in answers]
    assert codes[:10] == [200] * 10, codes
    assert codes.count(429) >= 10, codes
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.headers["Content-Type"].startswith("application/json")
    assert limited.json() == {"error": "too_many_requests", "message": "Terlalu banyak permintaan"}
    assert limited.headers["X-Content-Type-Options"] == "nosniff"


def _counts(response: httpx.Response) -> dict[str, int]:
    return {name: len(response.headers.get_list(name)) for name in ONCE}


def test_each_security_header_once_with_hsts_over_tls(tls_stack: TlsStack) -> None:
    camera_id, key = tls_stack.camera
    with tls_stack.client("127.0.0.30") as client:
        for path in ("/", f"/kamera/{camera_id}", "/kamera/2147483648", "/static/css/pantau.css"):
            response = client.get(path)
            assert _counts(response) == dict.fromkeys(ONCE, 1), (path, _counts(response))
            assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000"), path
            if not path.startswith("/static/"):
                assert "script-src 'self'" in response.headers["Content-Security-Policy"], path
        playlist = client.get(media_paths(key)["playlist"])
        assert playlist.status_code == 200
        assert len(playlist.headers.get_list("X-Content-Type-Options")) == 1
        assert len(playlist.headers.get_list("Strict-Transport-Security")) == 1
    # (HTTP/1.1: an HTTP/2 client still pushing a refused body waits on flow control instead of reading)
    with tls_stack.client("127.0.0.30", http2=False) as h1:
        too_large = h1.post("/kamera", content=b"x" * (1024 * 1024 + 1))
    assert too_large.status_code == 413
    assert "Terlalu besar" in too_large.text and "nginx" not in too_large.text.lower()
    assert _counts(too_large) == dict.fromkeys(ONCE, 1)


def test_metrics_only_for_its_network_or_token_through_nginx(tls_stack: TlsStack) -> None:
    with tls_stack.client("127.0.0.31") as stranger:
        refused = stranger.get("/metrics")
        assert refused.status_code == 403 and "pantau_cameras" not in refused.text
        # a forged X-Forwarded-For is appended to, not believed
        forged = stranger.get("/metrics", headers={"X-Forwarded-For": "127.0.0.2"})
        assert forged.status_code == 403
        allowed = stranger.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert allowed.status_code == 200 and "pantau_cameras" in allowed.text
    with tls_stack.client("127.0.0.2") as scraper:  # the configured network, as nginx reports the client
        assert scraper.get("/metrics").status_code == 200


def test_worker_api_rules_hold_over_tls(tls_stack: TlsStack) -> None:
    auth = {"Authorization": f"Bearer {tls_stack.credential}"}
    with tls_stack.client("127.0.0.40") as worker:
        ok = worker.get("/api/worker/v1/ping", headers=auth)
        assert ok.status_code == 200 and ok.http_version == "HTTP/2" and ok.json()["worker"] == "media-1"
    with tls_stack.client("127.0.0.40", http2=False) as worker:  # (see the 413 above)
        big = b'{"worker": {"hostname": "' + b"x" * (4 * 1024 * 1024 + 1000) + b'"}}'
        too_large = worker.post("/api/worker/v1/sync", content=big,
                                headers={**auth, "Content-Type": "application/json"})
        assert too_large.status_code == 413 and too_large.json()["error"] == "payload_too_large"
    with tls_stack.client("127.0.0.41") as guesser:
        codes = [guesser.get("/api/worker/v1/ping", headers={"Authorization": f"Bearer guess-{i}"}).status_code
                 for i in range(60)]
    assert codes.count(401) <= 30 and codes.count(429) >= 25, codes


def test_a_portal_that_is_away_gets_the_projects_502(tls_stack: TlsStack, tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    with NginxServer(upstream=closed, media_root=tmp_path / "media", runtime_dir=tmp_path / "nginx",
                     nginx=tls_stack.web.nginx, mode="production", tls_certificate=tls_stack.tls.certificate,
                     tls_key=tls_stack.tls.key) as web:
        transport = httpx.HTTPTransport(http2=True, verify=tls_stack.tls.client_context())
        with httpx.Client(base_url=web.base_url, transport=transport, timeout=15) as client:
            page = client.get("/")
            assert page.status_code == 502 and page.headers["Content-Type"].startswith("text/html")
            assert "Portal sedang tidak dapat dihubungi" in page.text and "nginx" not in page.text.lower()
            assert _counts(page) == dict.fromkeys(ONCE, 1)
            api = client.get("/api/v1/cameras.geojson")
            assert api.status_code == 502 and api.json()["error"] == "bad_gateway"
            worker = client.get("/api/worker/v1/ping")
            assert worker.status_code == 502 and worker.json()["error"] == "bad_gateway"
    conf = (tmp_path / "nginx" / "nginx.conf").read_text()
    for code in (413, 429, 502, 503, 504):
        assert f"error_page {code} /_pantau_errors/{code}.html;" in conf


def test_the_rendered_production_configuration_is_what_nginx_accepts(tls_stack: TlsStack) -> None:
    checked = tls_stack.web.check()
    assert checked.returncode == 0, checked.stderr
    conf = tls_stack.web.conf_path.read_text()
    assert f"listen 127.0.0.1:{tls_stack.web.port} ssl http2;" in conf
    assert not re.search(r"^\s*# \[/?(production|plain)\]\s*$", conf, re.M) and not re.search(r"\$\{[A-Z]", conf)
