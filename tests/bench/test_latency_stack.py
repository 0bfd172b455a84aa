"""The latency benchmark measures what a viewer meets: its browser goes through the project's nginx, on signed media
links, to a real worker's playlist (not to the portal serving files itself)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from bench.latency.stack import Stack, StackConfig


def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.status, response.read(), dict(response.headers)


def test_the_latency_stack_serves_the_camera_page_and_its_video_through_nginx_on_signed_links() -> None:
    with Stack(StackConfig(cameras=1)) as stack:
        stack.wait_ready()
        assert stack.view_url != stack.url and stack.view_url.startswith("http://127.0.0.1:")
        [camera_id], [key] = stack.camera_ids, stack.media_keys
        status, body, _headers = fetch(f"{stack.view_url}/kamera/{camera_id}")
        assert status == 200
        src = re.search(rb'data-src="([^"]+)"', body)
        assert src and re.fullmatch(rb"/media/s/[0-9a-f]{8}/[0-9]{10}/[A-Za-z0-9_-]{22}/hls/" + key.encode()
                                    + rb"/index\.m3u8", src.group(1)), src
        status, playlist, headers = fetch(stack.view_url + src.group(1).decode())
        assert status == 200 and playlist.startswith(b"#EXTM3U") and b"#EXTINF" in playlist
        assert "nginx" in headers.get("Server", "")
        segment = next(line for line in playlist.decode().splitlines() if line and not line.startswith("#"))
        base = (stack.view_url + src.group(1).decode()).rsplit("/", 1)[0]
        status, data, _headers = fetch(f"{base}/{segment}")
        assert status == 200 and len(data) > 1000
        # the portal no longer serves media itself: only nginx does, as in production
        try:
            code = fetch(f"{stack.url}/media/hls/{key}/index.m3u8")[0]
        except urllib.error.HTTPError as exc:
            code = exc.code
        assert code == 404
