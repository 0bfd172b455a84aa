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
        assert reachable(sim.url(1))
        assert not reachable(sim.url(1, credentials=False)), "without credentials DESCRIBE is refused"
        assert not reachable(sim.url(1).replace("s3cr", "wrong"))
        sim.stop_camera(1)
        assert not reachable(sim.url(1))
        sim.start_camera(1)
        assert reachable(sim.url(1))
        assert not reachable(sim.url(1).replace("/cam1", "/nope"))


def test_probe_of_closed_ports_and_files(tmp_path: Path) -> None:
    port = free_port()
    assert not reachable(f"rtsp://127.0.0.1:{port}/x", timeout=1)
    assert not reachable(f"http://127.0.0.1:{port}/x", timeout=1)
    clip = tmp_path / "clip.mp4"
    assert not reachable(str(clip))
    clip.write_bytes(b"x")
    assert reachable(str(clip))
