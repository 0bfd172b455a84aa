"""Tests, benchmarks and the demo send traffic to loopback (127.0.0.0/8, ::1) and nowhere else.

``guard()`` (installed by ``tests/conftest.py`` for the whole session) makes every Python socket refuse to
connect or resolve outside loopback, before a packet leaves: a test whose camera URL points at 10.x (or a
name such as ``cam.local``) fails with ``LeftLoopback`` instead of dialling it. ``is_loopback_url`` is the
same rule for URLs (used to check camera sources as tests create them, and the URLs written in test code).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_original = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
             "getaddrinfo": socket.getaddrinfo}


class LeftLoopback(AssertionError):
    """A test tried to reach an address outside 127.0.0.0/8 and ::1."""


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").split("%", 1)[0]
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def is_loopback_url(url: str) -> bool:
    """A network URL whose host is loopback; local file paths (demo sources) count as loopback too."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return True
    try:
        return is_loopback_host(parts.hostname)
    except ValueError:
        return False


def check_address(address: Any) -> None:
    if isinstance(address, str | bytes):  # AF_UNIX
        return
    host = address[0] if isinstance(address, tuple) and address else None
    if not isinstance(host, str) or not is_loopback_host(host):
        raise LeftLoopback(f"tests stay on loopback: refused to connect to {address!r}")


def _connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        check_address(address)
    return _original["connect"](self, address)  # type: ignore[no-any-return]


def _connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        check_address(address)
    return _original["connect_ex"](self, address)  # type: ignore[no-any-return]


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not is_loopback_host(name):
        raise LeftLoopback(f"tests stay on loopback: refused to resolve {name!r}")
    return _original["getaddrinfo"](host, *args, **kwargs)


def guard() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo


def guarded() -> bool:
    return socket.socket.connect is _connect and socket.getaddrinfo is _getaddrinfo
