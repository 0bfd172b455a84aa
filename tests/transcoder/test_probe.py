"""The reachability probe against the real GStreamer RTSP server: up, gone, back, with Digest and Basic."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.rtsp import RtspSimulator
from tests.support.tools import free_port, require_tool
from transcoder.probe import reachable

pytestmark = pytest.mark.rtsp


@pytest.mark.parametrize("method", ["digest", "basic"])
def test_probe_follows_a_camera_that_goes_and_returns(method: str) -> None:
    require_tool("/usr/bin/python3", reason="the RTSP simulator runs on Debian's Python")
    with RtspSimulator(cameras=1, auth="admin:s3cr=t pw", auth_method=method) as sim:
        # The probe never logs in: a camera asking who we are (401) is there, whatever the password.
        assert reachable(sim.url(1)) and reachable(sim.url(1, credentials=False))
        assert reachable(sim.url(1).replace("s3cr", "wrong"))
        sim.stop_camera(1)
        sim.start_camera(1)
        assert reachable(sim.url(1))
    assert not reachable(sim.url(1)), "a camera that is gone does not answer"


def test_probe_sends_no_credentials_and_counts_401_as_there() -> None:
    """A stand-in camera records what the probe sends: one DESCRIBE without Authorization, whatever the URL."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    seen: list[bytes] = []
    answers = [b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n",
               b"RTSP/1.0 404 Not Found\r\nCSeq: 1\r\n\r\n"]

    def serve() -> None:
        for answer in answers:
            conn, _ = server.accept()
            with conn:
                seen.append(conn.recv(4096))
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert reachable(f"rtsp://admin:hunter22@127.0.0.1:{port}/live", timeout=2)
    assert not reachable(f"rtsp://admin:hunter22@127.0.0.1:{port}/live", timeout=2), "404: no such stream"
    thread.join(5)
    server.close()
    assert len(seen) == 2 and all(b"Authorization" not in r and b"hunter22" not in r and b"admin" not in r
                                  for r in seen)
    assert seen[0].startswith(f"DESCRIBE rtsp://127.0.0.1:{port}/live RTSP/1.0".encode())


def test_probe_of_closed_ports_and_files(tmp_path: Path) -> None:
    port = free_port()
    assert not reachable(f"rtsp://127.0.0.1:{port}/x", timeout=1)
    assert not reachable(f"http://127.0.0.1:{port}/x", timeout=1)
    clip = tmp_path / "clip.mp4"
    assert not reachable(str(clip))
    clip.write_bytes(b"x")
    assert reachable(str(clip))
