"""The light simulated cameras (tests/support/rtsp_light.py) against real ffmpeg/ffprobe and the worker's argv."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rtsp_light import LightRtspSimulator, LightRtspSimulatorError, cpu_seconds
from tests.support.tools import require_tool, wait_for
from tests.support_tests.test_rtsp import Reader, ffprobe
from transcoder.ffmpeg import CameraSpec, MediaPaths, OutputSettings, build_argv, ffmpeg_env
from transcoder.snapshots import jpeg_from_segment, take_snapshot

pytestmark = pytest.mark.rtsp


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    return {
        "ffmpeg": require_tool("ffmpeg", reason="reads the simulated cameras"),
        "ffprobe": require_tool("ffprobe", reason="probes the simulated cameras"),
    }


@pytest.fixture(scope="module")
def sim(tools: dict[str, str]) -> Iterator[LightRtspSimulator]:
    with LightRtspSimulator(cameras=4) as simulator:
        yield simulator


def read_argv(ffmpeg: str, url: str, seconds: float | None = None) -> list[str]:
    limit = ["-t", str(seconds)] if seconds is not None else []
    return [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-timeout", "5000000", "-i", url,
            *limit, "-c", "copy", "-f", "framemd5", "-"]


def frame_lines(framemd5: str) -> list[list[str]]:
    return [[field.strip() for field in line.split(",")] for line in framemd5.splitlines() if line.startswith("0,")]


def test_mounts_serve_720p_h264(sim: LightRtspSimulator, tools: dict[str, str]) -> None:
    assert sim.urls() == [f"rtsp://127.0.0.1:{sim.port}/cam{i}" for i in range(1, 5)]
    done = ffprobe(tools, sim.url(1))
    assert done.returncode == 0, done.stderr
    stream = json.loads(done.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720)
    num, den = (int(x) for x in stream["r_frame_rate"].split("/"))
    assert 24 <= num / den <= 26, stream["r_frame_rate"]


def test_stream_runs_at_real_time(sim: LightRtspSimulator, tools: dict[str, str]) -> None:
    started = time.monotonic()
    done = subprocess.run(read_argv(tools["ffmpeg"], sim.url(2), 5), capture_output=True, text=True, timeout=30)
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # -loglevel error: no errors at all
    frames = frame_lines(done.stdout)
    assert 100 <= len(frames) <= 150, len(frames)
    assert 4.5 <= wall <= 10, f"5 s of video took {wall:.1f} s: not real time"
    # ffmpeg's RTSP demuxer leaves the first packet unstamped (the muxer makes it 0), with any server
    dts = [int(frame[1]) for frame in frames[1:]]
    steps = {b - a for a, b in zip(dts, dts[1:], strict=False)}
    assert steps == {3600}, steps  # 90 kHz / 25 fps, no jumps


def test_two_clients_on_one_mount(sim: LightRtspSimulator, tools: dict[str, str]) -> None:
    readers = [subprocess.Popen(read_argv(tools["ffmpeg"], sim.url(3), 3), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outputs = [proc.communicate(timeout=30) for proc in readers]
    finally:
        for proc in readers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (out, err) in zip(readers, outputs, strict=True):
        assert proc.returncode == 0, err
        assert 65 <= len(frame_lines(out)) <= 85


def test_unknown_mount_fails(sim: LightRtspSimulator, tools: dict[str, str]) -> None:
    missing = subprocess.run(read_argv(tools["ffmpeg"], sim.url("cam99"), 1), capture_output=True, text=True,
                             timeout=30)
    assert missing.returncode != 0 and "404" in missing.stderr


def test_stopped_camera_cuts_readers_off_and_comes_back(sim: LightRtspSimulator, tools: dict[str, str]) -> None:
    reader = Reader(tools["ffmpeg"], sim.url(4))
    try:
        wait_for(lambda: reader.frames >= 25, timeout=15, message="reader got no frames")
        assert sim.list_cameras()["cam4"] == (True, 1)
        sim.stop_camera(4)
        wait_for(lambda: reader.proc.poll() is not None, timeout=15, message="reader still running after stop")
        gone = ffprobe(tools, sim.url(4))
        assert gone.returncode != 0 and "404" in gone.stderr
        assert sim.list_cameras()["cam4"] == (False, 0)
    finally:
        reader.close()
    sim.start_camera(4)
    again = Reader(tools["ffmpeg"], sim.url(4))
    try:
        wait_for(lambda: again.frames >= 25, timeout=15, message="camera did not come back")
    finally:
        again.close()
    with pytest.raises(LightRtspSimulatorError, match="no camera"):
        sim.stop_camera("cam99")


def test_worker_argv_writes_hls_and_a_snapshot_is_cut_from_it(sim: LightRtspSimulator, tools: dict[str, str],
                                                                tmp_path: Path) -> None:
    spec = CameraSpec(id=7, key="lightcam", source_url=sim.url(1), recording=True)
    paths = MediaPaths(tmp_path, spec.key, spec.id)
    paths.make_dirs()
    argv = build_argv(tools["ffmpeg"], spec, OutputSettings(), tmp_path)
    log = tmp_path / "ffmpeg.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                env=ffmpeg_env())
    try:
        def ready() -> bool:
            segments = [*paths.hls_dir.glob("*.ts"), *paths.hls_dir.glob("*.m4s")]  # fMP4 when it records
            return paths.playlist.is_file() and len(segments) >= 2

        wait_for(ready, timeout=30, message=f"no HLS from the worker's ffmpeg\n{log.read_text()[-3000:]}")
        assert proc.poll() is None, log.read_text()[-3000:]
        assert take_snapshot(paths, jpeg_from_segment)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert paths.snapshot.read_bytes()[:2] == b"\xff\xd8"  # JPEG
    assert "#EXTINF" in paths.playlist.read_text()
    errors = [line for line in log.read_text().splitlines() if "[error]" in line or "[fatal]" in line]
    assert errors == []


def test_close_leaves_no_process(tools: dict[str, str]) -> None:
    sim = LightRtspSimulator(cameras=1).start()
    pid = sim.pid
    assert cpu_seconds(pid) >= 0
    sim.close()
    sim.close()  # idempotent
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
