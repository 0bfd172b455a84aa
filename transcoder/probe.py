"""A cheap reachability check for a camera in backoff: one RTSP DESCRIBE (or TCP connect), no ffmpeg.

A camera that was seen down and answers again is restarted at once instead of waiting out its backoff,
so a camera that comes back streams within seconds while a dead one costs one socket every probe interval.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import ssl
from urllib.parse import unquote, urlsplit, urlunsplit

_AUTH_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]+))')


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


def _authorization(challenge: str, user: str, password: str, uri: str) -> str | None:
    scheme, _, rest = challenge.partition(" ")
    if scheme.lower() == "basic":
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    if scheme.lower() != "digest":
        return None
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _AUTH_PARAM.finditer(rest)}
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()  # noqa: S324 (RTSP Digest is MD5)
    ha2 = hashlib.md5(f"DESCRIBE:{uri}".encode()).hexdigest()  # noqa: S324
    response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()  # noqa: S324
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}"')


def _exchange(sock: socket.socket, request: str) -> bytes:
    sock.sendall(request.encode("latin-1"))
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def rtsp_describe_ok(url: str, timeout: float = 2.0) -> bool:
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return False
    tls = parts.scheme == "rtsps"
    port = parts.port or (322 if tls else 554)
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port:
        netloc += f":{parts.port}"
    uri = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            sock: socket.socket = raw
            if tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE  # a probe only asks "is it there"; ffmpeg does the real session
                sock = context.wrap_socket(raw, server_hostname=host)
            base = f"DESCRIBE {uri} RTSP/1.0\r\nAccept: application/sdp\r\nUser-Agent: pantau-probe\r\n"
            code, headers = _status(_exchange(sock, base + "CSeq: 1\r\n\r\n"))
            if code == 401 and user and "www-authenticate" in headers:
                auth = _authorization(headers["www-authenticate"], user, password, uri)
                if auth is None:
                    return False
                code, _ = _status(_exchange(sock, base + f"CSeq: 2\r\nAuthorization: {auth}\r\n\r\n"))
            return code == 200
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
        return rtsp_describe_ok(url, timeout)
    if scheme in ("http", "https"):
        return tcp_open(url, timeout)
    return os.path.exists(urlsplit(url).path if scheme == "file" else url)
