"""ffmpeg processes: started in their own session, killed with the worker, read without blocking.

Every ffmpeg gets ``PR_SET_PDEATHSIG`` = SIGKILL, so when the worker dies (even by SIGKILL) the kernel
kills its ffmpegs: no orphans. Children are reaped as soon as they exit: no zombies. Stderr is read
through non-blocking pipes polled by the worker's loop, so no thread per camera is needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import signal
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from transcoder.redact import redact

PR_SET_PDEATHSIG = 1
_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (?P<codec>\w+).*?, (?P<w>\d{2,5})x(?P<h>\d{2,5})"
                     r"(?:.*?, (?P<fps>[\d.]+) (?:fps|tbr))?")
_LEVEL = re.compile(r"^(?:\[[^\]]*\] )*\[(?P<level>debug|verbose|info|warning|error|fatal|panic)\] ")


class Process(Protocol):
    """What the camera state machine needs of a running ffmpeg (a fake one in unit tests)."""

    pid: int

    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def read_stderr(self) -> list[str]: ...

    def input_bytes(self) -> int | None:
        """Bytes the process has read so far (None when unknown): a slow ffmpeg still reads, a frozen camera not."""
        ...


ProcessFactory = Callable[[Sequence[str], Mapping[str, str]], Process]


@dataclass
class StreamInfo:
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None


class StderrLog:
    """The last lines of one ffmpeg's stderr, credentials removed, plus what it said about the input."""

    def __init__(self, secrets: tuple[str, ...] = (), keep: int = 20) -> None:
        self.secrets = secrets
        self.lines: deque[str] = deque(maxlen=keep)
        self.problems: deque[str] = deque(maxlen=keep)
        self.info = StreamInfo()
        self._inputs_done = False

    def feed(self, lines: list[str]) -> None:
        for raw in lines:
            line = redact(raw.rstrip(), self.secrets)
            if not line:
                continue
            level_match = _LEVEL.match(line)
            level = level_match.group("level") if level_match else "info"
            if "Output #" in line or "Stream mapping" in line:
                self._inputs_done = True
            if not self._inputs_done and self.info.codec is None:
                stream = _STREAM.search(line)
                if stream:
                    self.info = StreamInfo(codec=stream.group("codec"), width=int(stream.group("w")),
                                           height=int(stream.group("h")),
                                           fps=float(stream.group("fps")) if stream.group("fps") else None)
            if ("Opening '" in line and level == "info") or "deprecated pixel format" in line:
                continue  # one line per segment: noise in a tail meant for people
            self.lines.append(line[:500])
            if level in ("warning", "error", "fatal", "panic"):
                self.problems.append(line[:500])

    def tail(self, n: int = 10) -> list[str]:
        return list(self.lines)[-n:]

    def last_error(self) -> str | None:
        for line in reversed(self.problems):
            if "[error]" in line or "[fatal]" in line or "[panic]" in line:
                return line
        return self.problems[-1] if self.problems else None


# Each ffmpeg has its own session, and so (with the kernel's autogroup scheduling, on by default) its own
# scheduling group, weighed like the worker's whole process: on a machine short of CPU, 300 ffmpegs would leave the
# worker one 301st of it, and the worker, which records from the live segments, cuts snapshots and notices stalls,
# would fall behind them. ffmpeg's group is made lighter (nice 10: a tenth of the worker's weight); an unprivileged
# process may do that to its own group.
FFMPEG_AUTOGROUP_NICE = b"10"


def _set_parent_death_signal(parent: int) -> Callable[[], None]:
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None

    def preexec() -> None:  # runs in the child between fork and exec: no Python-level locks here
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the worker died before prctl took effect
            os._exit(1)
        try:  # the new session's scheduling group (see FFMPEG_AUTOGROUP_NICE); absent without autogroup
            fd = os.open("/proc/self/autogroup", os.O_WRONLY)
            try:
                os.write(fd, FFMPEG_AUTOGROUP_NICE)
            finally:
                os.close(fd)
        except OSError:
            pass

    return preexec


class FFmpegProcess:
    """A real ffmpeg: own session (a Ctrl-C at the terminal reaches the worker, not ffmpeg), pdeathsig."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self._proc = subprocess.Popen(
            list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True, close_fds=True,
            preexec_fn=_set_parent_death_signal(os.getpid()),  # noqa: PLW1509
        )
        self.pid = self._proc.pid
        assert self._proc.stderr is not None
        self._fd = self._proc.stderr.fileno()
        os.set_blocking(self._fd, False)
        self._partial = b""

    def fileno(self) -> int:
        return self._fd

    def poll(self) -> int | None:
        return self._proc.poll()

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self._proc.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def input_bytes(self) -> int | None:
        try:
            with open(f"/proc/{self.pid}/io", "rb") as fh:
                for line in fh:
                    if line.startswith(b"rchar:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None

    def read_stderr(self) -> list[str]:
        chunks = []
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < 65536:
                break
        if not chunks:
            return []
        data = self._partial + b"".join(chunks)
        parts = re.split(rb"[\r\n]", data)
        self._partial = parts.pop()[-4096:]
        return [p.decode("utf-8", "replace") for p in parts if p]

    def close(self) -> None:
        if self._proc.stderr is not None:
            self._proc.stderr.close()


def start_ffmpeg(argv: Sequence[str], env: Mapping[str, str]) -> Process:
    return FFmpegProcess(argv, env)
