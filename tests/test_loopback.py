"""Loopback only: every camera URL and every address a test, a benchmark or the demo hands to a worker or a
probe stays in 127.0.0.0/8 (a camera that is off is a closed port on 127.0.0.1)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from portal.demo import DEMO_CAMERAS
from portal.models import Camera, db
from tests.support import loopback

ROOT = Path(__file__).resolve().parents[1]
# Camera and stream URLs written in code: rtsp, rtsps, http(s) and raw tcp/udp, with a literal host.
URL = re.compile(r"\b(?P<scheme>rtsps?|https?|tcp|udp|rtmp|srt)://(?:[^/@\s\"'{}]*@)?"
                 r"(?P<host>\[[0-9a-fA-F:]+\]|[^/:?#\s\"'{}]+)?")
# Addresses that are not URLs: a dotted IPv4 literal anywhere in the code.
IPV4 = re.compile(r"(?<![\w.])(?P<ip>(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3})(?![\w.])")
# Public addresses that appear only as configuration values (the portal's own public name in production
# settings), never dialled: a link is made from them, no request goes to them.
# Also names that identify a specification or an XML namespace in a document, never dialled.
CONFIG_ONLY = {"cctv.kendarikota.go.id", "x.id", "evil.example", "wiki.open311.org", "www.w3.org"}


def _sources() -> list[Path]:
    """Test and benchmark code and the demo; not this file, whose far addresses are the ones the guard refuses."""
    files = [*ROOT.joinpath("tests").rglob("*.py"), *ROOT.joinpath("bench").rglob("*.py"), ROOT / "portal/demo.py"]
    return sorted(p for p in files if "__pycache__" not in p.parts and p != Path(__file__).resolve())


def test_every_url_and_address_in_tests_benchmarks_and_the_demo_is_loopback() -> None:
    outside: list[str] = []
    for path in _sources():
        text = path.read_text()
        for number, line in enumerate(text.splitlines(), 1):
            for match in URL.finditer(line):
                host = (match.group("host") or "").replace("\\", "")  # (a URL written as a regular expression)
                if not host or host in CONFIG_ONLY or host.lower().endswith(".example"):
                    continue  # no host (a text fragment) or a configuration value
                if not loopback.is_loopback_host(host):
                    outside.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
            for match in IPV4.finditer(line):
                ip = match.group("ip")
                if not loopback.is_loopback_host(ip) and ip not in ("0.0.0.0",):  # noqa: S104 (a bind-any literal)
                    outside.append(f"{path.relative_to(ROOT)}:{number}: {ip}")
    assert not outside, "tests, benchmarks and the demo stay on 127.0.0.0/8:\n" + "\n".join(outside)


def test_the_demo_cameras_are_local_files() -> None:
    assert all("source_url" not in spec for spec in DEMO_CAMERAS)  # demo.seed gives each the local clip


def test_sockets_refuse_to_leave_loopback() -> None:
    assert loopback.guarded(), "tests/conftest.py installs the guard for the whole session"
    for address in (("10.0.0.5", 554), ("192.168.1.10", 80), ("8.8.8.8", 53), ("::ffff:10.0.0.1", 1, 0, 0)):
        with pytest.raises(loopback.LeftLoopback):
            loopback.check_address(address)
    loopback.check_address(("127.0.0.1", 9))
    loopback.check_address(("127.8.9.10", 9))
    loopback.check_address(("::1", 9, 0, 0))
    with pytest.raises(loopback.LeftLoopback):
        socket.getaddrinfo("cam.local", 554)  # refused before any name lookup
    with pytest.raises(loopback.LeftLoopback):
        socket.getaddrinfo("10.1.2.3", 554)  # (a numeric lookup sends nothing; the guard refuses it anyway)


def test_a_test_camera_outside_loopback_is_refused(app: object) -> None:
    for url in ("rtsp://admin:pw@10.9.8.7/s1", "rtsp://cam.local/s1", "http://192.168.1.64/video"):
        db.session.add(Camera(name="Far", latitude=0, longitude=0, source_url=url))
        with pytest.raises(loopback.LeftLoopback):
            db.session.flush()
        db.session.rollback()
    db.session.add(Camera(name="Near", latitude=0, longitude=0, source_url="rtsp://127.0.0.1:9/s1"))
    db.session.flush()
    db.session.rollback()
