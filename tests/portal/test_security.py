"""Headers, CSP, HSTS, error pages, absolute links, trusted hosts and proxies, machine endpoints, log redaction."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask, abort, request
from flask.testing import FlaskClient
from flask_babel import refresh
from werkzeug.exceptions import TooManyRequests

from portal.auth.policy import PUBLIC, allow
from portal.footage.evidence import generate_key
from portal.models import Camera, db
from tests.conftest import WorkerAuth, add_camera, make_settings, migrated_app

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Permissions-Policy",
                    "Cross-Origin-Opener-Policy")


class InlineFinder(HTMLParser):
    """Inline script, inline style and event-handler attributes: what the CSP refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        if tag == "script" and "src" not in names:
            self._in = "script"
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {k}=" for k in names if k == "style" or k.startswith("on")]

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.found.append("inline <script>: " + data.strip()[:60])

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def inline_parts(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def pages(cam: Camera) -> list[str]:
    return ["/", "/?lang=en", "/kamera", f"/kamera/{cam.id}", f"/embed/{cam.id}", f"/multiview?ids={cam.id}",
            "/multiview", "/kamera/999999", "/kamera?q=%00"]


def test_every_page_has_each_security_header_once_and_no_inline_script_or_style(client: FlaskClient) -> None:
    cam = add_camera(name="Kali Kadia", description='<script>alert(1)</script> style="x"')
    for url in [*pages(cam), "/api/v1/cameras.geojson", f"/kamera/{cam.id}/status.json", "/healthz",
                "/static/js/map.js", "/api/v1/nothing"]:
        response = client.get(url)
        for name in SECURITY_HEADERS:
            assert len(response.headers.getlist(name)) == 1, (url, name)
        csp = response.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, url
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "object-src 'none'" in csp
        assert "Strict-Transport-Security" not in response.headers, "no HSTS outside production"
        if response.mimetype == "text/html":
            assert inline_parts(response.get_data(as_text=True)) == [], url
        if url.startswith("/embed/"):
            assert "X-Frame-Options" not in response.headers and "frame-ancestors *" in csp
        else:
            assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"], url
            assert "frame-ancestors 'self'" in csp
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: http://127.0.0.1:9" in csp  # the tile server of the settings


def test_hsts_and_public_links_in_production(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, env="production", public_url="https://cctv.kendarikota.go.id/",
                             database_url=f"sqlite:///{tmp_path / 'p.db'}")
    generate_key(settings.evidence_key_path)  # production refuses to start without the city's signing key
    app = migrated_app(settings)
    with app.app_context():
        cam = add_camera(name="Kali Kadia")
        client = app.test_client()
        forged = {"Host": "evil.example"}
        page = client.get(f"/kamera/{cam.id}", headers=forged)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "evil.example" not in text
        assert f'value="https://cctv.kendarikota.go.id/kamera/{cam.id}"' in text
        assert f"&lt;iframe src=&#34;https://cctv.kendarikota.go.id/embed/{cam.id}&#34;" in text
        assert f'content="https://cctv.kendarikota.go.id/media/snapshots/{cam.media_key}.jpg"' in text
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert "upgrade-insecure-requests" in page.headers["Content-Security-Policy"]
        embed = client.get(f"/embed/{cam.id}", headers=forged).get_data(as_text=True)
        assert "evil.example" not in embed and f'href="https://cctv.kendarikota.go.id/kamera/{cam.id}"' in embed
        csv = client.get("/api/v1/cameras.csv", headers=forged).get_data(as_text=True)
        assert "evil.example" not in csv and f"https://cctv.kendarikota.go.id/kamera/{cam.id}" in csv
        db.session.remove()
        db.engine.dispose()


def test_trusted_hosts_and_proxies(tmp_path: Path) -> None:
    app = migrated_app(make_settings(tmp_path, trusted_hosts="cctv.kendarikota.go.id, localhost", proxy_count=1,
                                     metrics_networks="127.0.0.2/32"))
    app.add_url_rule("/scheme", "scheme", allow(PUBLIC)(lambda: request.scheme))
    with app.app_context():
        client = app.test_client()
        assert client.get("/healthz", headers={"Host": "cctv.kendarikota.go.id"}).status_code == 200
        refused = client.get("/kamera", headers={"Host": "evil.example"})
        assert refused.status_code == 400 and "evil.example" not in refused.get_data(as_text=True)
        # one trusted proxy: its X-Forwarded-For names the client, X-Forwarded-Proto the scheme
        assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.2"}).status_code == 200
        assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.2, 127.0.0.3"}).status_code == 403
        assert client.get("/metrics").status_code == 403
        assert client.get("/scheme", headers={"X-Forwarded-Proto": "https"}).data == b"https"
        db.session.remove()
        db.engine.dispose()


def test_without_trusted_proxies_forwarded_headers_are_ignored(tmp_path: Path) -> None:
    app = migrated_app(make_settings(tmp_path, metrics_networks="127.0.0.2/32", metrics_token="scrape-me"))
    with app.app_context():
        client = app.test_client()
        assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.2"}).status_code == 403
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200
        db.session.remove()
        db.engine.dispose()


def test_worker_api_only_from_worker_networks(tmp_path: Path) -> None:
    app = migrated_app(make_settings(tmp_path, worker_networks="127.0.0.2/32"))
    with app.app_context():
        auth = WorkerAuth()("w1")
        client = app.test_client()
        refused = client.get("/api/worker/v1/ping", headers=auth)
        assert refused.status_code == 403 and refused.json == {"error": "forbidden"}
        ok = client.get("/api/worker/v1/ping", headers=auth, environ_base={"REMOTE_ADDR": "127.0.0.2"})
        assert ok.status_code == 200
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(("status", "indonesian", "english"), [
    (400, "Permintaan tidak valid", "Bad request"),
    (403, "Tidak diizinkan", "Not allowed"),
    (404, "Tidak ditemukan", "Not found"),
    (405, "Metode tidak diizinkan", "Method not allowed"),
    (413, "Terlalu besar", "Too large"),
    (429, "Terlalu banyak permintaan", "Too many requests"),
    (500, "Terjadi kesalahan", "Something went wrong"),
])
def test_error_pages_are_the_portals_own(app: Flask, status: int, indonesian: str, english: str) -> None:
    def fail() -> str:
        if status == 500:
            db.session.add(Camera(name="half-written", latitude=0, longitude=0, source_url="rtsp://127.0.0.1:9/x"))
            db.session.flush()
            raise RuntimeError("rtsp://admin:s3cret@127.0.0.1/secret traceback text")
        if status == 413:
            request.get_data()
        if status == 429:
            raise TooManyRequests(retry_after=30)
        abort(status)

    app.config["MAX_CONTENT_LENGTH"] = 1024
    for path in ("/boom", "/api/v1/boom"):
        app.add_url_rule(path, path, allow(PUBLIC)(fail), methods=["GET", "POST"] if status != 405 else ["POST"])
    client = app.test_client()
    method = client.post if status == 413 else client.get
    page = method("/boom", data=b"x" * 2048 if status == 413 else None)
    text = page.get_data(as_text=True)
    assert page.status_code == status and page.mimetype == "text/html"
    assert indonesian in text and '<html lang="id">' in text
    assert "Traceback" not in text and "s3cret" not in text and "RuntimeError" not in text
    refresh()  # the test's app context outlives requests; drop its cached catalogue
    english_page = method("/boom?lang=en", data=b"x" * 2048 if status == 413 else None)
    assert english in english_page.get_data(as_text=True)
    as_json = method("/api/v1/boom", data=b"x" * 2048 if status == 413 else None)
    assert as_json.status_code == status and as_json.is_json and as_json.json["message"]
    if status == 405:
        assert set(page.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    if status == 429:
        assert page.headers["Retry-After"] == "30"
    if status == 500:
        assert db.session.query(Camera).filter_by(name="half-written").count() == 0, "rolled back"


def test_hostile_public_inputs_get_4xx_pages(client: FlaskClient) -> None:
    cam = add_camera(name="Kali Kadia")
    assert client.get("/kamera?q=%00").status_code == 400
    long = client.get("/kamera?q=" + "a" * 81)
    assert long.status_code == 400 and "80" in long.get_data(as_text=True)
    assert client.get("/kamera?district=a%01b").status_code == 400
    for url in ("/kamera/2147483648", "/kamera/99999999999999999999", "/kamera/%C2%B2", "/kamera/%D9%A1",
                "/kamera/-1", "/kamera/+1", "/embed/2147483648", "/kamera/2147483648/status.json"):
        response = client.get(url)
        assert response.status_code == 404, url
        if url.endswith(".json"):
            assert response.is_json
        else:
            assert "Tidak ditemukan" in response.get_data(as_text=True), url
    many = client.get("/multiview?ids=" + ",".join(["1"] * 200))
    assert many.status_code == 400
    for ids in ("%C2%B2", "%E2%91%A0", "99999999999999999999", "0", "-1"):
        response = client.get(f"/multiview?ids={ids},{cam.id}")
        assert response.status_code == 200 and response.get_data(as_text=True).count('class="tile"') == 1, ids


def test_log_lines_lose_credentials(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("pantau.test")
    with caplog.at_level(logging.INFO):
        log.info("opening %s", "rtsp://admin:s3cret@127.0.0.1:8554/s?access_token=t0ken&channel=1")
        try:
            raise ValueError("bad url rtsp://admin:s3cret@127.0.0.1/x?sig=abcdef")
        except ValueError:
            log.exception("failed")
    text = caplog.text
    assert "s3cret" not in text and "t0ken" not in text and "abcdef" not in text
    assert "channel=1" in text and "ValueError" in text
    assert re.search(r"rtsp://\*\*\*@127\.0\.0\.1:8554/s\?access_token=\*\*\*", text)
