"""The simulated cameras against real ffmpeg/ffprobe: streams, a camera vanishing and returning, credentials."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator

import pytest

from tests.support.rtsp import RtspSimulator
from tests.support.tools import require_gst_rtsp_server, require_tool, wait_for

pytestmark = pytest.mark.rtsp


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    return {
        "ffmpeg": require_tool("ffmpeg", reason="reads the simulated cameras"),
        "ffprobe": require_tool("ffprobe", reason="probes the simulated cameras"),
        "python": require_gst_rtsp_server(),
    }


@pytest.fixture()
def sim(tools: dict[str, str]) -> Iterator[RtspSimulator]:
    with RtspSimulator(cameras=3) as simulator:
        yield simulator


def ffprobe(tools: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tools["ffprobe"], "-v", "error", "-rtsp_transport", "tcp", "-timeout", "5000000", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,width,height,r_frame_rate", "-of", "json", url],
        capture_output=True, text=True, timeout=30,
    )


def video_stream(tools: dict[str, str], url: str) -> dict[str, object]:
    done = ffprobe(tools, url)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["streams"][0]  # type: ignore[no-any-return]


class Reader:
    """A long-running ``ffmpeg -c copy`` on one camera, counting the frames it receives."""

    def __init__(self, ffmpeg: str, url: str) -> None:
        self.frames = 0
        self.proc = subprocess.Popen(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-timeout", "5000000", "-i", url,
             "-c", "copy", "-f", "framemd5", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        threading.Thread(target=self._count, daemon=True).start()

    def _count(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("0,"):
                self.frames += 1

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def test_three_cameras_serve_720p_h264(sim: RtspSimulator, tools: dict[str, str]) -> None:
    for index in (1, 2, 3):
        stream = video_stream(tools, sim.url(index))
        assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720)
        num, den = (int(x) for x in stream["r_frame_rate"].split("/"))
        assert 24 <= num / den <= 26, stream["r_frame_rate"]  # ffprobe guesses it from arrival times


def test_stream_runs_at_real_time(sim: RtspSimulator, tools: dict[str, str]) -> None:
    done = subprocess.run(
        [tools["ffmpeg"], "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", sim.url(2),
         "-t", "3", "-c", "copy", "-f", "framemd5", "-"],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    frames = [line for line in done.stdout.splitlines() if line.startswith("0,")]
    assert 70 <= len(frames) <= 80  # 3 s at 25 fps


def test_stopped_camera_cuts_readers_off_and_comes_back(sim: RtspSimulator, tools: dict[str, str]) -> None:
    reader = Reader(tools["ffmpeg"], sim.url(1))
    try:
        wait_for(lambda: reader.frames >= 25, timeout=15, message="reader got no frames")
        sim.stop_camera("cam1")
        wait_for(lambda: reader.proc.poll() is not None, timeout=10, message="reader still running after stop")
        gone = ffprobe(tools, sim.url(1))
        assert gone.returncode != 0 and "404" in gone.stderr
        assert video_stream(tools, sim.url(2))["codec_name"] == "h264"  # the others are untouched
        assert sim.list_cameras()["cam1"] == (False, 0)
    finally:
        reader.close()

    sim.start_camera(1)
    again = Reader(tools["ffmpeg"], sim.url(1))
    try:
        wait_for(lambda: again.frames >= 50, timeout=15, message="camera did not come back")
    finally:
        again.close()


def test_added_camera_and_unknown_names(sim: RtspSimulator, tools: dict[str, str]) -> None:
    url = sim.add_camera("gerbang-utara")
    assert url.endswith("/gerbang-utara")
    assert video_stream(tools, url)["codec_name"] == "h264"
    missing = ffprobe(tools, sim.url("cam9"))
    assert missing.returncode != 0 and "404" in missing.stderr
    with pytest.raises(RuntimeError, match="no camera"):
        sim.stop_camera("cam9")


@pytest.mark.parametrize("method", ["digest", "basic"])
def test_credentials_are_required(tools: dict[str, str], method: str) -> None:
    with RtspSimulator(cameras=1, auth=("operator", "rahasia/12@#"), auth_method=method) as sim:
        assert sim.url(1).startswith("rtsp://operator:rahasia%2F12%40%23@127.0.0.1:")
        anonymous = ffprobe(tools, sim.url(1, credentials=False))
        assert anonymous.returncode != 0 and "401" in anonymous.stderr
        wrong = ffprobe(tools, sim.url(1).replace("rahasia", "salah"))
        assert wrong.returncode != 0 and "401" in wrong.stderr
        assert video_stream(tools, sim.url(1))["codec_name"] == "h264"


def test_close_leaves_no_process(tools: dict[str, str]) -> None:
    sim = RtspSimulator(cameras=1).start()
    pid = sim.pid
    sim.close()
    sim.close()  # idempotent
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
