"""``pantau demo`` (what ``make demo`` runs): seeds Kendari, streams, and Ctrl-C leaves no ffmpeg."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import ffmpeg_children
from tests.e2e.test_live import fetch, media_sequence
from tests.support.tools import free_port, wait_for

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_demo_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    port = free_port()
    var = tmp_path / "demo"
    pantau = str(Path(sys.executable).parent / "pantau")
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([pantau, "demo", "--port", str(port), "--var", str(var)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: fetch(base + "/healthz")[0] == 200, timeout=120,
                 message="the demo portal did not come up")
        assert f"Pantau is running: {base}/" in (tmp_path / "demo.log").read_text()
        # the jobs process (dispatch delivery, escalation, the footage turn) runs beside the portal
        wait_for(lambda: any(_cmdline(pid)[-1:] == [b"jobs"] for pid in demo_processes(var)), timeout=30,
                 message="the demo did not start `pantau jobs`")
        with urllib.request.urlopen(base + "/api/v1/cameras.geojson", timeout=10) as response:
            features = json.load(response)["features"]
        names = {f["properties"]["name"] for f in features}
        assert {"Tugu MTQ Square", "Kendari Beach", "Kali Kadia", "Pantai Nambo", "Jembatan Teluk Kendari",
                "Balai Kota Kendari"} == names
        hls = base + features[0]["properties"]["hls_url"]
        wait_for(lambda: fetch(hls)[0] == 200, timeout=60, message="demo camera has no live playlist")
        first = media_sequence(fetch(hls)[1])
        wait_for(lambda: media_sequence(fetch(hls)[1]) > first, timeout=30, message="demo playlist not growing")
        wait_for(lambda: len(ffmpeg_children(var / "media")) == 6, timeout=30, message="six ffmpeg expected")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    wait_for(lambda: not ffmpeg_children(var / "media"), timeout=5, message="ffmpeg left after Ctrl-C")
    wait_for(lambda: not demo_processes(var), timeout=5,
             message="a process of the demo (portal, worker, jobs) left after Ctrl-C")
    assert proc.returncode == 0, (tmp_path / "demo.log").read_text()[-2000:]
    assert "Pantau stopped." in (tmp_path / "demo.log").read_text()


def demo_processes(var: Path) -> list[int]:
    """Pids of live processes started for this demo (they carry its instance path in their environment)."""
    marker = f"PANTAU_INSTANCE_PATH={var}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> list[bytes]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except OSError:
        return []
