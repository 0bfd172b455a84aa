"""Real child processes: stderr read without blocking and redacted, no orphan when the parent is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.tools import wait_for
from transcoder.process import FFmpegProcess, StderrLog

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def autogroup_nice(pid: str) -> str | None:
    """The nice value of a process's scheduling group; None where the kernel has no autogroup (the file is
    absent, or present but empty when booted with noautogroup, as on some CI machines)."""
    try:
        words = Path(f"/proc/{pid}/autogroup").read_text().split()
    except OSError:
        return None
    return words[-1] if len(words) == 3 and words[1] == "nice" else None


def test_stderr_is_read_without_blocking_and_credentials_removed() -> None:
    script = ("import sys,time; sys.stderr.write('[error] rtsp://admin:pw@127.0.0.1:9/x refused\\n'); "
              "sys.stderr.flush(); time.sleep(30)")
    proc = FFmpegProcess([sys.executable, "-c", script], os.environ)
    try:
        proc.read_stderr()  # never blocks, even before the child wrote anything
        log = StderrLog(secrets=("pw",))
        wait_for(lambda: log.feed(proc.read_stderr()) or log.lines, timeout=10, message="no stderr")
        assert log.tail() == ["[error] rtsp://***@127.0.0.1:9/x refused"]
        assert os.getsid(proc.pid) == proc.pid, "ffmpeg runs in its own session"
        if autogroup_nice("self") is not None:  # its own scheduling group, lighter than the worker's
            assert autogroup_nice(str(proc.pid)) == "10"
            assert autogroup_nice("self") == "0"
    finally:
        proc.kill()
        wait_for(lambda: proc.poll() is not None, timeout=5, message="not reaped")
    assert proc.poll() == -signal.SIGKILL


def test_children_die_with_a_sigkilled_parent() -> None:
    parent_code = (
        "import os, sys, time\n"
        "from transcoder.process import FFmpegProcess\n"
        "p = FFmpegProcess(['sleep', '300'], os.environ)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    wait_for(lambda: not alive(child), timeout=10, message="the child outlived its SIGKILLed parent")


def test_stream_info_is_parsed_from_the_input_section() -> None:
    log = StderrLog()
    log.feed([
        "[info] Input #0, rtsp, from 'rtsp://127.0.0.1:9/x':",
        "[info]   Stream #0:0: Video: h264 (High), yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr",
        "[info] Output #0, hls, to 'index.m3u8':",
        "[info]   Stream #0:0: Video: mjpeg, yuvj420p, 640x360, 0.20 fps",
        "[hls @ 0x1] [info] Opening 'x.ts' for writing",
    ])
    assert (log.info.codec, log.info.width, log.info.height, log.info.fps) == ("h264", 1280, 720, 25.0)
    assert not any("Opening" in line for line in log.tail()), "per-segment noise stays out of the tail"


def test_input_bytes_counts_what_the_process_has_read() -> None:
    """What the stall check asks of a real process: the bytes it has read so far, growing as it reads."""
    script = "import time\nwith open('/dev/zero', 'rb') as f: f.read(300000)\ntime.sleep(60)"
    proc = FFmpegProcess([sys.executable, "-c", script], os.environ)
    try:
        wait_for(lambda: (proc.input_bytes() or 0) >= 300000, 10, message="rchar never reached what it read")
    finally:
        proc.kill()
        wait_for(lambda: proc.poll() is not None, 10)
        proc.close()
    assert proc.input_bytes() is None, "a process that is gone has read nothing more"
