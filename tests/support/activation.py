"""Socket activation as systemd does it (deploy/systemd/pantau-portal.socket): the listening socket belongs to the
caller, not to the server, so it stays open while the server restarts and connections made meanwhile wait in its
queue. The server gets it as fd 3 with ``LISTEN_FDS=1`` and ``LISTEN_PID`` set to its own pid (gunicorn checks
both, then binds nothing itself)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any

SD_LISTEN_FDS_START = 3


def listening_socket(host: str = "127.0.0.1", port: int = 0, backlog: int = 1024) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def start_activated(argv: Sequence[str], sock: socket.socket, env: Mapping[str, str],
                    stdout: IO[Any] | int | None = None, stderr: IO[Any] | int | None = None,
                    cwd: str | os.PathLike[str] | None = None) -> subprocess.Popen[bytes]:
    """Run ``argv`` with ``sock`` handed over the systemd way."""
    fd = sock.fileno()

    def preexec() -> None:  # in the child, before exec: the socket as fd 3, inheritable
        os.dup2(fd, SD_LISTEN_FDS_START)

    # sh sets LISTEN_PID to its own pid, which exec keeps for the server
    wrapped = ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh", *argv]
    return subprocess.Popen(wrapped, env={k: v for k, v in env.items() if not k.startswith("LISTEN_")},
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=cwd,
                            pass_fds=(SD_LISTEN_FDS_START,), preexec_fn=preexec)  # noqa: PLW1509
