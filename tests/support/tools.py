"""Small helpers every integration test needs: find a system tool, wait for a condition, pick a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

SYSTEM_PYTHON = "/usr/bin/python3"


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def missing(reason: str) -> None:
    """Skip on a developer's machine; fail under ``CI=true`` (a missing tool is never a silent skip there)."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: a missing tool is a failure)", pytrace=False)
    pytest.skip(reason)


def require_tool(name_or_path: str, *, reason: str) -> str:
    """Return the absolute path of a program (a name on PATH or a path), or skip/fail the test without it."""
    if os.sep in name_or_path:
        path = Path(name_or_path)
        found = str(path) if path.is_file() and os.access(path, os.X_OK) else None
    else:
        found = shutil.which(name_or_path)
    if found is None:
        missing(f"{name_or_path} not found: {reason}")
        raise AssertionError("unreachable")  # pragma: no cover - skip/fail raise
    return found


def require_gst_rtsp_server(*, reason: str = "the simulated cameras need GStreamer's RTSP server") -> str:
    """Debian's Python with ``gi``, GstRtspServer and the plugins the simulator uses; returns that Python."""
    python = require_tool(SYSTEM_PYTHON, reason=reason)
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "missing = [e for e in ('appsrc', 'h264parse', 'rtph264pay') if Gst.ElementFactory.find(e) is None];"
        "print(' '.join(missing))"
    )
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        missing(f"{python} cannot probe GStreamer ({exc}): {reason}")
        raise AssertionError("unreachable") from exc  # pragma: no cover
    if done.returncode != 0:
        missing(f"{python} has no gi/GstRtspServer ({done.stderr.strip().splitlines()[-1:]}): {reason}")
    elif done.stdout.strip():
        missing(f"GStreamer elements missing: {done.stdout.strip()}: {reason}")
    return python


def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.1,
             message: str = "condition not met") -> T:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` seconds pass.

    Exceptions from the predicate count as "not yet"; the last one is chained to the AssertionError raised on
    timeout, so a test failure says what was last seen.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_error = None
        except Exception as exc:  # noqa: BLE001 - retried, then reported
            last_error = exc
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = f" (last error: {last_error!r})" if last_error is not None else ""
            raise AssertionError(f"{message} [waited {timeout:g} s]{detail}") from last_error
        time.sleep(min(interval, remaining))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def signal_group(pid: int, signum: int) -> None:
    """Signal a whole process group (a server started with ``start_new_session``); gone is fine."""
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
