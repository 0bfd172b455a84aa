"""One camera's supervisor: a state machine driven by ``transition(now)``.

States: ``stopped`` → ``starting`` → ``running``; a process that exits, fails to produce a segment in
time, or stalls (its newest segment older than a few segment durations) goes through ``stopping``
(SIGTERM, SIGKILL after a deadline, never waiting) to ``backoff`` (exponential with jitter) and is started
again, within a restart budget per hour; past the budget it is ``failed`` until the hour frees a slot.

Everything that touches the world is injected: ``now`` (seconds, monotonic), the process factory, the
progress marker (the playlist's mtime in production) and the random source for jitter, so unit tests
replay whole histories without sleeping or starting ffmpeg.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from transcoder.ffmpeg import CameraSpec, SourceRefused
from transcoder.process import Process, ProcessFactory, StderrLog
from transcoder.redact import url_secrets


class State(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    FAILED = "failed"


# Messages from ffmpeg that mean "fix the camera's settings", not "the camera is away".
CONFIG_ERRORS = ("401 Unauthorized", "403 Forbidden", "Invalid data found", "not on whitelist",
                 "Protocol not found", "Unsupported codec", "Option not found", "Invalid argument",
                 "does not contain any stream", "Permission denied")


@dataclass(frozen=True)
class Timing:
    stall_s: float = 6.0
    start_timeout_s: float = 20.0
    stop_timeout_s: float = 5.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    restart_budget_per_hour: int = 60


class Camera:
    def __init__(self, spec: CameraSpec, *, argv: Callable[[CameraSpec, str | None], Sequence[str]],
                 factory: ProcessFactory, env: Mapping[str, str], timing: Timing,
                 progress: Callable[[], int | None], rng: random.Random | None = None,
                 on_exit: Callable[[Camera], None] | None = None) -> None:
        self.spec = spec
        self._argv = argv
        self._factory = factory
        self._env = env
        self.timing = timing
        self._progress = progress
        self._rng = rng or random.Random()
        self._on_exit = on_exit
        self.state = State.STOPPED
        self.want_running = True
        self.proc: Process | None = None
        self.log = StderrLog(url_secrets(spec.source_url) + url_secrets(spec.substream_url or ""))
        self.codec_hint: str | None = None
        self.since = 0.0  # when the current state was entered
        self.started_at = 0.0
        self.last_progress_at: float | None = None
        self._marker: int | None = None
        self.retry_at = 0.0
        self.stop_deadline = 0.0
        self.term_again_at: float | None = None
        self.killed = False
        self.after_stop: State = State.BACKOFF
        self.failures = 0  # consecutive, reset by a running camera
        self.failure: str | None = None  # why the last run ended, for people
        self.failure_kind = "offline"  # or "error": the camera needs fixing, not waiting
        self.restarts: deque[float] = deque()
        self.restarts_total = 0
        self.ever_started = False
        self.probe_saw_down = False
        self.probe_says_up = False

    # -- inputs from the worker --

    def update(self, spec: CameraSpec, now: float, force: bool = False) -> None:
        """A new assignment for this camera: restart it if anything ffmpeg uses changed."""
        self.want_running = True
        if spec == self.spec and not force:
            return
        self.spec = spec
        self.log.secrets = url_secrets(spec.source_url) + url_secrets(spec.substream_url or "")
        if self.state in (State.RUNNING, State.STARTING):
            self._begin_stop(now, State.STARTING, reason=None)
        elif self.state in (State.BACKOFF, State.FAILED):
            self.retry_at = now
            if self.state is State.FAILED:
                self._enter(State.BACKOFF, now)

    def stop(self) -> None:
        self.want_running = False

    def probe_result(self, up: bool) -> None:
        """The reachability probe's answer; a camera seen down and then up is retried at once."""
        if up:
            self.probe_says_up = self.probe_saw_down
        else:
            self.probe_saw_down = True
            self.probe_says_up = False

    # -- the machine --

    def transition(self, now: float) -> State:
        if self.proc is not None:
            self.log.feed(self.proc.read_stderr())
        state = self.state
        if state is State.STOPPED:
            if self.want_running:
                self._start(now)
        elif state is State.STARTING or state is State.RUNNING:
            self._watch(now)
        elif state is State.STOPPING:
            self._watch_stop(now)
        elif state is State.BACKOFF:
            if not self.want_running:
                self._enter(State.STOPPED, now)
            elif now >= self.retry_at or self.probe_says_up:
                if self._budget_left(now):
                    self._start(now)
                else:
                    self.failure = f"more than {self.timing.restart_budget_per_hour} restarts in an hour"
                    self.failure_kind = "error"
                    self._enter(State.FAILED, now)
        elif state is State.FAILED:
            if not self.want_running:
                self._enter(State.STOPPED, now)
            elif self.failure_kind != "refused" and self._budget_left(now):
                self._start(now)
        return self.state

    def _enter(self, state: State, now: float) -> None:
        self.state = state
        self.since = now

    def _budget_left(self, now: float) -> bool:
        while self.restarts and self.restarts[0] <= now - 3600:
            self.restarts.popleft()
        return len(self.restarts) < self.timing.restart_budget_per_hour

    def restarts_last_hour(self, now: float) -> int:
        self._budget_left(now)
        return len(self.restarts)

    def _start(self, now: float) -> None:
        try:
            argv = self._argv(self.spec, self.codec_hint)
        except SourceRefused as exc:
            self.failure = f"source refused: {exc}"
            self.failure_kind = "refused"
            self._enter(State.FAILED, now)
            return
        if self.ever_started:
            self.restarts.append(now)
            self.restarts_total += 1
        self.ever_started = True
        self.killed = False
        self.probe_says_up = False  # consumed; "seen down" lasts until the camera runs again
        self._marker = self._progress()
        self.last_progress_at = None
        try:
            self.proc = self._factory(argv, self._env)
        except OSError as exc:
            self.proc = None
            self._fail(now, f"could not start ffmpeg: {exc.strerror or exc}", kind="error")
            return
        self.started_at = now
        self._enter(State.STARTING, now)

    def _watch(self, now: float) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            self.log.feed(self.proc.read_stderr())
            self._process_gone(now)
            if not self.want_running:
                self._enter(State.STOPPED, now)
                return
            self._fail(now, self._exit_message(code), kind=self._classify())
            return
        if not self.want_running:
            self._begin_stop(now, State.STOPPED, reason=None)
            return
        marker = self._progress()
        if marker is not None and marker != self._marker:
            self._marker = marker
            self.last_progress_at = now
            if self.state is State.STARTING:
                self._enter(State.RUNNING, now)
                self.failures = 0
                self.failure = None
                self.probe_saw_down = False
            if self.log.info.codec == "hevc" and self.codec_hint != "hevc":
                self.codec_hint = "hevc"  # rebuild the live view as fMP4 with hvc1, the form Safari plays
                self._begin_stop(now, State.STARTING, reason=None)
            return
        if self.state is State.STARTING:
            if now - self.started_at > self.timing.start_timeout_s:
                self._begin_stop(now, State.BACKOFF,
                                 reason=f"no segment within {self.timing.start_timeout_s:.0f} s of starting")
        elif self.last_progress_at is not None and now - self.last_progress_at > self.timing.stall_s:
            self._begin_stop(now, State.BACKOFF,
                             reason=f"stalled: no new segment for {now - self.last_progress_at:.0f} s")

    def _begin_stop(self, now: float, then: State, reason: str | None) -> None:
        if self.proc is None:
            self._enter(then if then is not State.STARTING else State.STOPPED, now)
            return
        if reason is not None:
            self.failure = reason
            self.failure_kind = "offline"
        self.after_stop = then
        self.proc.terminate()
        # A stalled ffmpeg has nothing left to write and often sits in a blocking read: don't wait long.
        stalled = reason is not None and reason.startswith("stalled")
        self.stop_deadline = now + (min(2.0, self.timing.stop_timeout_s) if stalled else self.timing.stop_timeout_s)
        # ffmpeg blocked in a read acts on a second SIGTERM at once (and still closes its files); a signal sent
        # twice at the same moment would merge into one, so the second goes on a later turn of the loop.
        self.term_again_at = now + 0.3 if stalled else None
        self.killed = False
        self._enter(State.STOPPING, now)

    def _watch_stop(self, now: float) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            if self.term_again_at is not None and now >= self.term_again_at:
                self.term_again_at = None
                self.proc.terminate()
            if now >= self.stop_deadline and not self.killed:
                self.proc.kill()
                self.killed = True
            return
        self.log.feed(self.proc.read_stderr())
        self._process_gone(now)
        then = self.after_stop if self.want_running else State.STOPPED
        if then is State.BACKOFF:
            self._fail(now, self.failure or "stopped", kind=self.failure_kind)
        elif then is State.STARTING:
            self._start(now)
        else:
            self._enter(State.STOPPED, now)

    def _process_gone(self, now: float) -> None:
        proc, self.proc = self.proc, None
        close = getattr(proc, "close", None)
        if callable(close):
            close()
        if self._on_exit is not None:
            self._on_exit(self)

    def _fail(self, now: float, message: str, kind: str) -> None:
        self.failures += 1
        self.failure = message
        self.failure_kind = kind
        delay = min(self.timing.backoff_max_s, self.timing.backoff_base_s * 2 ** (self.failures - 1))
        self.retry_at = now + delay * self._rng.uniform(0.8, 1.2)
        self._enter(State.BACKOFF, now)

    def _exit_message(self, code: int) -> str:
        if code == 0:
            return "the camera stopped sending (end of stream)"
        detail = self.log.last_error()
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"ffmpeg {how}" + (f": {detail}" if detail else "")

    def _classify(self) -> str:
        text = " ".join(self.log.problems)
        return "error" if any(marker in text for marker in CONFIG_ERRORS) else "offline"

    # -- what the portal sees --

    @property
    def status(self) -> str:
        if self.state is State.RUNNING:
            return "online"
        if self.state is State.FAILED:
            return "error"
        if self.state is State.STARTING and self.failures == 0 and self.failure is None:
            return "starting"
        if self.failure_kind in ("error", "refused") and self.failure:
            return "error"
        return "offline"

    @property
    def error(self) -> str | None:
        return None if self.state is State.RUNNING else self.failure
