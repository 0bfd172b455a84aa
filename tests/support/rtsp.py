"""Simulated RTSP cameras for tests: runs ``rtsp_server.py`` under Debian's Python and talks to it.

    with RtspSimulator(cameras=3) as sim:          # starts, waits for READY
        url = sim.url(1)                           # rtsp://127.0.0.1:<port>/cam1
        sim.stop_camera("cam1")                    # clients are cut off, new ones get 404
        sim.start_camera("cam1")                   # back again

With ``auth="user:secret"`` every mount needs those credentials (digest by default, ``auth_method="basic"``
too); ``url()`` includes them unless ``credentials=False``. For open and protected cameras at once, run two
simulators.
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from tests.support.clip import make_test_clip
from tests.support.tools import SYSTEM_PYTHON, signal_group

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
ROOT = Path(__file__).resolve().parents[2]
_live: set[RtspSimulator] = set()


class RtspSimulatorError(RuntimeError):
    pass


class RtspSimulator:
    error: type[RtspSimulatorError] = RtspSimulatorError
    log_prefix = "rtsp-sim-"

    def __init__(self, cameras: int = 6, port: int = 0, clip: Path | str | None = None,
                 auth: str | tuple[str, str] | None = None, *, names: Sequence[str] = (),
                 auth_method: str = "digest", fps: int = 25, host: str = "127.0.0.1",
                 python: str = SYSTEM_PYTHON) -> None:
        self.cameras = cameras
        self.names = list(names)
        self.requested_port = port
        self.clip = Path(clip) if clip is not None else None
        if isinstance(auth, str):
            user, sep, password = auth.partition(":")
            if not sep:
                raise ValueError("auth must be 'user:password'")
            auth = (user, password)
        self.auth = auth
        self.auth_method = auth_method
        self.fps = fps
        self.host = host
        self.python = python
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._command_lock = threading.Lock()
        self._log = tempfile.NamedTemporaryFile(prefix=self.log_prefix, suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)

    # -- lifecycle --

    def _server_command(self) -> tuple[list[str], dict[str, str]]:
        """The server's argv and environment (Debian's Python with GStreamer; a venv Python can't import gi)."""
        clip = self.clip or make_test_clip(fps=self.fps)
        argv = [self.python, "-u", str(SERVER_SCRIPT), "--clip", str(clip), "--fps", str(self.fps),
                "--port", str(self.requested_port), "--address", self.host, "--cameras", str(self.cameras)]
        if self.names:
            argv += ["--names", ",".join(self.names)]
        if self.auth is not None:
            argv += ["--auth", ":".join(self.auth), "--auth-method", self.auth_method]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        return argv, env

    def start(self, timeout: float = 30.0) -> RtspSimulator:
        if self.proc is not None:
            raise self.error("already started")
        argv, env = self._server_command()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, bufsize=1, start_new_session=True, env=env, cwd=ROOT)
        _live.add(self)
        threading.Thread(target=self._read_stdout, args=(self.proc,), name="rtsp-sim-stdout", daemon=True).start()
        try:
            line = self._next_line(timeout, "READY")
        except self.error:
            self.close(timeout=1.0)
            raise
        if not line.startswith("READY "):
            tail = self.log_tail()
            self.close()
            raise self.error(f"simulator did not start: {line!r}\n{tail}")
        self.port = int(line.split()[1])
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop the server and its whole process group; idempotent."""
        proc, self.proc = self.proc, None
        _live.discard(self)
        if proc is not None:
            try:
                if proc.poll() is None and proc.stdin is not None:
                    proc.stdin.write("quit\n")
                    proc.stdin.flush()
                    proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
            signal_group(proc.pid, signal.SIGKILL)  # anything the server may have left in its group
            if proc.stdout is not None:
                proc.stdout.close()
        if not self._log.closed:
            self._log.close()
            if not os.environ.get("PANTAU_KEEP_LOGS"):
                self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> RtspSimulator:
        return self.start() if self.proc is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:  # last resort; close() is the contract
        if getattr(self, "proc", None) is not None:
            try:
                self.close(timeout=1.0)
            except Exception:  # noqa: BLE001, S110 - interpreter shutdown; atexit has the same job
                pass

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise self.error("not running")
        return self.proc.pid

    # -- cameras --

    def name(self, index_or_name: int | str) -> str:
        """``1`` -> ``"cam1"``; a name is returned as is."""
        return f"cam{index_or_name}" if isinstance(index_or_name, int) else index_or_name

    def url(self, index_or_name: int | str, *, credentials: bool = True) -> str:
        userinfo = ""
        if credentials and self.auth is not None:
            userinfo = f"{quote(self.auth[0], safe='')}:{quote(self.auth[1], safe='')}@"
        return f"rtsp://{userinfo}{self.host}:{self.port}/{self.name(index_or_name)}"

    def urls(self) -> list[str]:
        return [self.url(i) for i in range(1, self.cameras + 1)] + [self.url(n) for n in self.names]

    def stop_camera(self, index_or_name: int | str) -> None:
        self.command(f"stop {self.name(index_or_name)}")

    def start_camera(self, index_or_name: int | str) -> None:
        self.command(f"start {self.name(index_or_name)}")

    def add_camera(self, name: str) -> str:
        self.command(f"add {name}")
        return self.url(name)

    def list_cameras(self) -> dict[str, tuple[bool, int]]:
        """name -> (running, number of prepared medias, i.e. whether some client is reading it)."""
        answer = self.command("list")
        result = {}
        for item in answer.split()[2:]:
            name, _, state = item.partition("=")
            on, _, medias = state.partition(":")
            result[name] = (on == "on", int(medias))
        return result

    def command(self, line: str, timeout: float = 10.0) -> str:
        """Send one control command and return its ``OK ...`` answer (``RtspSimulatorError`` on ``ERR``)."""
        with self._command_lock:
            proc = self.proc
            if proc is None or proc.stdin is None or proc.poll() is not None:
                raise self.error(f"simulator is not running\n{self.log_tail()}")
            proc.stdin.write(line.strip() + "\n")
            proc.stdin.flush()
            answer = self._next_line(timeout, line)
        if not answer.startswith("OK"):
            raise self.error(f"{line!r} -> {answer!r}")
        return answer

    # -- plumbing --

    def _read_stdout(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                self._lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        self._lines.put(None)

    def _next_line(self, timeout: float, waiting_for: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                message = f"no answer to {waiting_for!r} within {timeout:g} s\n{self.log_tail()}"
                raise self.error(message) from None
            if line is None:
                raise self.error(f"simulator exited while waiting for {waiting_for!r}\n{self.log_tail()}")
            if line.startswith(("READY", "OK", "ERR")):
                return line

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@atexit.register
def _close_all() -> None:
    for sim in list(_live):
        sim.close(timeout=1.0)
