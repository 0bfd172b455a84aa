"""The production nginx configuration, run for real against a stand-in portal."""

from __future__ import annotations

import gzip
import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support.nginx import ROOT, TEMPLATE, NginxServer, render_nginx_conf
from tests.support.tools import require_tool

pytestmark = pytest.mark.nginx
PLAYLIST = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nseg0.ts\n"


@dataclass
class Upstream:
    """A stdlib stand-in for the portal: media keys "pub" (public) and "staff" (allowed, not public) pass, the
    rest are denied; X-Accel-Redirect for a download."""

    port: int = 0
    hits: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    failing: bool = False  # the portal restarting, or its database down: every access check answers 500

    def auth_hits(self, key: str) -> int:
        return sum(1 for path, _ in self.hits if path == f"/_auth/media/{key}")


@pytest.fixture()
def upstream() -> Iterator[Upstream]:
    state = Upstream()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            state.hits.append((self.path, dict(self.headers)))
            if self.path.startswith("/_auth/media/"):
                key = self.path.rsplit("/", 1)[1]
                if state.failing:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(204 if key in ("pub", "staff") else 403)
                self.send_header("Cache-Control", "no-store")
                if key == "pub":
                    self.send_header("X-Pantau-Cache", "public")
                self.end_headers()
                return
            if self.path == "/footage/7/download":
                self.send_response(200)
                self.send_header("X-Accel-Redirect", "/_protected/exports/case-7.mp4")
                self.send_header("Content-Disposition", 'attachment; filename="case-7.mp4"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"hello" if self.path == "/" else b"{" + b'"x": 1, ' * 400 + b'"y": 2}'
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if self.path == "/" else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    for key in ("pub", "priv", "staff"):
        (root / "hls" / key).mkdir(parents=True)
        (root / "hls" / key / "index.m3u8").write_text(PLAYLIST)
        (root / "hls" / key / "seg0.ts").write_bytes(b"\x47" * 188 * 4)
        (root / "hls" / key / "init.mp4").write_bytes(b"\x00\x00\x00\x18ftypiso5")
        (root / "hls" / key / "seg1.m4s").write_bytes(b"\x00\x00\x00\x08moof")
    (root / "snapshots").mkdir()
    (root / "snapshots" / "pub.jpg").write_bytes(b"\xff\xd8\xff\xe0jpeg")
    (root / "snapshots" / "priv.jpg").write_bytes(b"\xff\xd8\xff\xe0jpeg")
    (root / "recordings" / "pub" / "2024").mkdir(parents=True)
    (root / "recordings" / "pub" / "2024" / "a.mp4").write_bytes(b"secret footage")
    (root / "exports").mkdir()
    (root / "exports" / "case-7.mp4").write_bytes(b"evidence clip")
    return root


@pytest.fixture()
def web(upstream: Upstream, media: Path, tmp_path: Path) -> Iterator[NginxServer]:
    nginx = require_tool("/usr/sbin/nginx", reason="the front door is nginx")
    with NginxServer(upstream=f"127.0.0.1:{upstream.port}", media_root=media, runtime_dir=tmp_path / "nginx",
                     nginx=nginx) as server:
        yield server


def get(web: NginxServer, path: str, **headers: str) -> requests.Response:
    return requests.get(web.url(path), headers=headers, timeout=10, allow_redirects=False)


def test_config_passes_nginx_t(web: NginxServer) -> None:
    checked = web.check()
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_allowed_playlist_comes_from_disk(web: NginxServer, upstream: Upstream) -> None:
    response = get(web, "/media/hls/pub/index.m3u8")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert response.headers["Cache-Control"] == "public, max-age=1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.text == PLAYLIST
    assert not any(path.startswith("/media/") for path, _ in upstream.hits)  # never through Python


def test_denied_camera_gets_403_for_everything(web: NginxServer) -> None:
    for path in ("/media/hls/priv/index.m3u8", "/media/hls/priv/seg0.ts", "/media/hls/priv/init.mp4",
                 "/media/snapshots/priv.jpg"):
        assert get(web, path).status_code == 403, path


def test_segments_snapshots_types_and_caching(web: NginxServer) -> None:
    expected = {
        "/media/hls/pub/seg0.ts": ("video/mp2t", "public, max-age=31536000, immutable"),
        "/media/hls/pub/seg1.m4s": ("video/iso.segment", "public, max-age=31536000, immutable"),
        "/media/hls/pub/init.mp4": ("video/mp4", "public, max-age=1"),  # keeps its name across restarts
        "/media/snapshots/pub.jpg": ("image/jpeg", "public, max-age=2"),
    }
    for path, (mime, cache) in expected.items():
        response = get(web, path)
        assert response.status_code == 200, path
        assert (response.headers["Content-Type"], response.headers["Cache-Control"]) == (mime, cache), path


def test_access_decision_is_cached_per_key_and_session_only(web: NginxServer, upstream: Upstream) -> None:
    for i in range(3):
        get(web, "/media/hls/pub/index.m3u8")
        get(web, "/media/hls/pub/seg0.ts", Cookie=f"unrelated={i}; lang=en", Authorization=f"Bearer x{i}")
        get(web, "/media/hls/priv/index.m3u8", Cookie=f"tracking={i}")
    assert upstream.auth_hits("pub") == 1, "other cookies and headers do not vary the cached decision"
    assert upstream.auth_hits("priv") == 1
    get(web, "/media/hls/pub/index.m3u8", Cookie="lang=id; pantau_session=other-viewer")
    assert upstream.auth_hits("pub") == 2
    auth_headers = [headers for path, headers in upstream.hits if path.startswith("/_auth/")]
    assert auth_headers[-1]["Cookie"] == "pantau_session=other-viewer", "only the session cookie is passed"
    assert "Authorization" not in auth_headers[-1] or not auth_headers[-1]["Authorization"]
    assert auth_headers[-1]["X-Original-URI"] == "/media/hls/pub/index.m3u8"


def test_a_failing_portal_leaves_the_last_access_decision_standing(web: NginxServer, upstream: Upstream) -> None:
    """A portal restart or a database outage must not black out live video: nginx keeps serving what the
    portal last allowed (and keeps refusing what it last refused), and decides nothing new without it."""
    assert get(web, "/media/hls/pub/index.m3u8").status_code == 200
    assert get(web, "/media/hls/priv/index.m3u8").status_code == 403
    upstream.failing = True
    asked = upstream.auth_hits("pub")
    deadline = time.monotonic() + 15
    while upstream.auth_hits("pub") == asked:  # until nginx has asked the failing portal again
        assert time.monotonic() < deadline, "nginx never asked the portal again"
        assert get(web, "/media/hls/pub/index.m3u8").status_code == 200
    for _ in range(3):
        assert get(web, "/media/hls/pub/index.m3u8").status_code == 200
        assert get(web, "/media/hls/priv/index.m3u8").status_code == 403
    assert get(web, "/media/hls/staff/index.m3u8").status_code == 500  # never decided: no answer to stand in
    upstream.failing = False


def test_allowed_but_not_public_media_is_privately_cacheable(web: NginxServer) -> None:
    assert get(web, "/media/hls/staff/index.m3u8").headers["Cache-Control"] == "private, max-age=1"
    assert get(web, "/media/hls/staff/seg0.ts").headers["Cache-Control"] == "private, max-age=31536000, immutable"


def test_recordings_exports_and_odd_media_paths_are_never_served(web: NginxServer) -> None:
    for path in ("/media/recordings/pub/2024/a.mp4", "/media/exports/case-7.mp4", "/media/hls/pub/",
                 "/media/hls/pub/notes.txt", "/media/hls/pub/.index.m3u8", "/media/hls/priv%2Findex.m3u8",
                 "/media/hls/pub/..%2f..%2frecordings%2fpub%2f2024%2fa.mp4", "/_protected/exports/case-7.mp4",
                 "/_auth/media/pub"):
        response = get(web, path)
        assert response.status_code in (400, 403, 404), path  # (nginx decodes %2F: judged as the decoded path)
        assert b"secret footage" not in response.content and b"evidence clip" not in response.content


def test_everything_else_is_proxied_with_forwarded_headers(web: NginxServer, upstream: Upstream) -> None:
    response = get(web, "/")
    assert response.status_code == 200 and response.text == "hello"
    assert "X-Frame-Options" not in response.headers, "the portal sets its own headers; nginx adds none"
    assert "Server" not in response.headers or "nginx/" not in response.headers["Server"]
    _, headers = upstream.hits[-1]
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Host"] == f"127.0.0.1:{web.port}"
    assert headers["Host"] == "127.0.0.1"


def test_x_accel_redirect_download(web: NginxServer) -> None:
    response = get(web, "/footage/7/download")
    assert response.status_code == 200
    assert response.content == b"evidence clip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="case-7.mp4"'
    assert response.headers["Cache-Control"] == "private, no-store"


def test_gzip_for_json_and_static_files_with_cache(web: NginxServer) -> None:
    raw = requests.get(web.url("/api/x"), headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw.raw.read()).startswith(b'{"x": 1')
    css = sorted((ROOT / "static").rglob("*.css"))
    if css:
        path = "/static/" + css[0].relative_to(ROOT / "static").as_posix()
        response = get(web, path)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/css")
        assert response.headers["Cache-Control"].startswith("public, max-age=")


def test_upload_size_limit(web: NginxServer) -> None:
    response = requests.post(web.url("/reports"), data=b"x" * (1024 * 1024 + 1), timeout=30)
    assert response.status_code == 413
    worker = requests.post(web.url("/api/worker/v1/sync"), data=b"x" * (4 * 1024 * 1024 + 1), timeout=30)
    assert worker.status_code == 413 and worker.json() == {"error": "payload_too_large"}


def test_render_refuses_missing_and_unsafe_values() -> None:
    template = TEMPLATE.read_text()
    with pytest.raises(ValueError, match="no value for"):
        render_nginx_conf(template, listen="127.0.0.1:1", upstream="127.0.0.1:2")
    values = {"listen": "127.0.0.1:1", "upstream": "127.0.0.1:2", "media_root": "/m", "static_root": "/s",
              "runtime_dir": "/r"}
    with pytest.raises(ValueError, match="unsafe"):
        render_nginx_conf(template, **{**values, "media_root": "/m; include /etc/passwd"})
    with pytest.raises(ValueError, match="absolute"):
        render_nginx_conf(template, **{**values, "media_root": "media"})
    text = render_nginx_conf(template, **values)
    assert "${" not in text.replace("${host}", "")
    assert "\nuser " not in text
    assert "user www-data;" in render_nginx_conf(template, **values, user="www-data")


def test_render_script_for_the_makefile(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "nginx" / "render.py"), "--listen", "127.0.0.1:8080", "--upstream",
         "127.0.0.1:8000", "--media-root", str(tmp_path / "media"), "--static-root", str(ROOT / "static"),
         "--runtime-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert f"alias {tmp_path}/media/hls/$media_key/$media_file;" in done.stdout
    assert "listen 127.0.0.1:8080;" in done.stdout
