"""A cheap reachability check for a camera in backoff: one RTSP DESCRIBE (or TCP connect), no ffmpeg.

A camera that was seen down and answers again is restarted at once instead of waiting out its backoff,
so a camera that comes back streams within seconds while a dead one costs one socket every probe interval.

The probe never logs in: DESCRIBE goes without credentials, and ``200`` or ``401`` (the camera is there and
asks who we are) both mean "up". A camera whose password was changed so never sees a failed login from the
probe (real cameras lock the account after about five), only from ffmpeg, which waits minutes between tries.
"""

from __future__ import annotations

import os
import socket
import ssl
from urllib.parse import urlsplit, urlunsplit


def _status(response: bytes) -> tuple[int, dict[str, str]]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1", "replace").split("\r\n")
    parts = head[0].split(" ", 2) if head else []
    try:
        code = int(parts[1])
    except (IndexError, ValueError):
        return 0, {}
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return code, headers


def _exchange(sock: socket.socket, request: str) -> bytes:
    sock.sendall(request.encode("latin-1"))
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


UP_CODES = (200, 401)  # there, and serving (or asking who we are: the probe doesn't say)


def rtsp_answers(url: str, timeout: float = 2.0) -> bool:
    """Does the camera answer DESCRIBE for this stream (without credentials) with 200 or 401?"""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return False
    tls = parts.scheme == "rtsps"
    port = parts.port or (322 if tls else 554)
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port:
        netloc += f":{parts.port}"
    uri = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))  # no userinfo, ever
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            sock: socket.socket = raw
            if tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE  # a probe only asks "is it there"; ffmpeg does the real session
                sock = context.wrap_socket(raw, server_hostname=host)
            request = (f"DESCRIBE {uri} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n"
                       "User-Agent: pantau-probe\r\n\r\n")
            code, _ = _status(_exchange(sock, request))
            return code in UP_CODES
    except (OSError, ssl.SSLError):
        return False


def tcp_open(url: str, timeout: float = 2.0) -> bool:
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def reachable(url: str, timeout: float = 2.0) -> bool:
    """Is the camera there? RTSP: DESCRIBE answers 200; HTTP: the port accepts; file: it exists."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else "file"
    if scheme in ("rtsp", "rtsps"):
        return rtsp_answers(url, timeout)
    if scheme in ("http", "https"):
        return tcp_open(url, timeout)
    return os.path.exists(urlsplit(url).path if scheme == "file" else url)
