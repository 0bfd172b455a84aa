"""Twenty simulated cameras read at once: how fast they all come up, and what the simulator costs.

Run with ``-s`` to see the numbers (also recorded as junit properties).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from tests.support.rtsp import RtspSimulator
from tests.support.tools import require_gst_rtsp_server, require_tool, wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]
CAMERAS = 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (all threads), from /proc/<pid>/stat."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def test_twenty_cameras_come_up_together_cheaply(record_property: Callable[[str, object], None]) -> None:
    ffmpeg = require_tool("ffmpeg", reason="reads the simulated cameras")
    require_gst_rtsp_server()
    with RtspSimulator(cameras=CAMERAS) as sim:
        started = time.monotonic()
        first_frame: dict[int, float] = {}
        readers = []

        def watch(index: int, proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("0,") and index not in first_frame:
                    first_frame[index] = time.monotonic() - started

        try:
            for index in range(1, CAMERAS + 1):
                proc = subprocess.Popen(
                    [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-timeout", "5000000",
                     "-i", sim.url(index), "-t", "30", "-c", "copy", "-f", "framemd5", "-"],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                )
                readers.append(proc)
                threading.Thread(target=watch, args=(index, proc), daemon=True).start()
            wait_for(lambda: len(first_frame) == CAMERAS, timeout=30,
                     message=f"only {len(first_frame)} of {CAMERAS} cameras delivered a frame")
            all_up = max(first_frame.values())

            before, t0 = cpu_seconds(sim.pid), time.monotonic()
            time.sleep(10)  # a measurement window, not a wait for a condition
            cpu = (cpu_seconds(sim.pid) - before) / (time.monotonic() - t0) * 100
            assert all(proc.poll() is None for proc in readers), "a reader stopped during the measurement"
        finally:
            for proc in readers:
                proc.kill()
                proc.wait()

    record_property("all_cameras_up_s", round(all_up, 2))
    record_property("simulator_cpu_percent_of_one_core", round(cpu, 1))
    print(f"\n{CAMERAS} cameras: all delivering after {all_up:.2f} s "
          f"(first {min(first_frame.values()):.2f} s); simulator CPU {cpu:.1f} % of one core")
    assert all_up < 20
    assert cpu < 60
