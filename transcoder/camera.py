"""One camera's supervisor: a state machine driven by ``transition(now)``.

States: ``stopped`` → ``starting`` → ``running``; a process that exits, fails to produce a segment in
time, or stalls goes through ``stopping`` (SIGTERM, SIGKILL after a deadline, never waiting) to ``backoff``
(exponential with jitter) and is started again, within a restart budget per hour; past the budget it is
``failed`` until the hour frees a slot.

- Stalls follow the camera: the deadline is ``stall_segments`` times the longest of the last few intervals
  between new live segments (which the camera's keyframe interval sets), at least ``stall_min_s``. A 10 s-GOP
  camera gets 30 s; a 1 s-GOP camera 4 s. Past the deadline, an ffmpeg that is still reading its input (rchar
  in /proc/<pid>/io grew within the last second or ``stall_s / 4``) is slow, not stalled (a CPU spike on a busy
  machine): it gets up to ``stall_grace_factor`` times the deadline. A frozen camera sends nothing, so it is
  still caught at the deadline.
- Why a run ended is a reason code from ``contract.status`` (``unreachable``, ``timeout``, ``no_media``,
  ``stalled``, ``auth``, ``codec``, ...), which decides the status an operator sees.
- A camera that is away costs probes, not restarts: while the reachability probe says it is down, the
  scheduled retry waits; the first probe that finds it back restarts it at once.
- Wrong credentials or a codec the portal can't serve need a person: the camera waits minutes (growing) before
  it logs in again, and the probe never logs in, so a camera sees a handful of failed logins an hour.

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

from contract.status import SERVABLE_VIDEO_CODECS, status_for
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


# What ffmpeg's messages say about why a run ended (checked in this order).
MESSAGES = (
    ("auth", ("401 Unauthorized", "403 Forbidden")),
    ("source_refused", ("not on whitelist", "Protocol not found")),
    ("unreachable", ("Connection refused", "No route to host", "Network is unreachable", "Host is unreachable",
                     "Name or service not known", "Temporary failure in name resolution", "Connection reset")),
    ("timeout", ("timed out", "Connection timeout", "Operation timed out")),
    ("codec", ("Unsupported codec", "not currently supported in container", "Could not find tag for codec")),
)
# Reasons that need a person (new credentials, another codec): wait long, don't hammer the camera.
NEEDS_A_PERSON = ("auth", "codec")
OFFLINE_REASONS = ("unreachable", "timeout", "no_media", "stalled", "ended")
# MPEG-TS refuses the stream (B-frames: the first packets come without a decoding time): fragmented MP4 takes it.
NEEDS_FMP4 = ("first pts and dts value must be set",)
# The brief input probe did not find what the muxers need: probe with ffmpeg's defaults next time.
NEEDS_FULL_PROBE = ("Could not find codec parameters", "unspecified size", "dimensions not set",
                    "Could not write header")


def classify(problems: str, codec: str | None, code: int) -> str:
    """The reason code for a run that ended with exit ``code`` and these error lines."""
    for reason, markers in MESSAGES:
        if any(marker in problems for marker in markers):
            return reason
    if codec is not None and codec not in SERVABLE_VIDEO_CODECS:
        return "codec"
    if "does not contain any stream" in problems or "matches no streams" in problems:
        return "no_media" if codec is None else "no_video"
    if codec is None:
        return "no_media"  # it never described a video stream: answered, but sent nothing usable
    return "ended" if code == 0 else "ffmpeg"


@dataclass(frozen=True)
class Timing:
    stall_s: float = 4.0  # the least stall deadline (stall_min_s)
    stall_grace_factor: float = 3.0  # how much longer an ffmpeg that still reads its input may go without a segment
    start_timeout_s: float = 20.0
    stop_timeout_s: float = 5.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    restart_budget_per_hour: int = 60
    stall_segments: float = 3.0
    person_backoff_base_s: float = 180.0  # wrong password, unservable codec: 3, 6, 12, 24, 30 minutes
    person_backoff_max_s: float = 1800.0
    no_media_backoff_max_s: float = 300.0


class Camera:
    def __init__(self, spec: CameraSpec, *, argv: Callable[[CameraSpec, frozenset[str]], Sequence[str]],
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
        self.hints: frozenset[str] = frozenset()  # learnt from earlier runs: hevc, full_probe
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
        self.reason: str | None = None  # contract.status reason code for the last failure
        self.person_failures = 0  # consecutive failures that need a person (auth, codec)
        self.restarts: deque[float] = deque()
        self.restarts_total = 0
        self.ever_started = False
        self.probe_saw_down = False
        self.probe_says_up = False
        self.probe_down = False  # the last probe found the camera away
        self.intervals: deque[float] = deque(maxlen=8)  # seconds between the last new live segments
        self.first_segment_s: float | None = None  # start to first segment of the current run
        self.run_segments = 0  # new live segments in the current run
        self._input_mark: tuple[int, float] | None = None  # (bytes read, when they last grew) while a segment is late

    # -- inputs from the worker --

    def update(self, spec: CameraSpec, now: float, force: bool = False) -> None:
        """A new assignment for this camera: restart it if anything ffmpeg uses changed."""
        self.want_running = True
        if spec == self.spec and not force:
            return
        self.person_failures = 0  # new credentials or settings: worth a try at once
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
        self.probe_down = not up
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
            elif self._retry_due(now):
                if self._budget_left(now):
                    self._start(now)
                else:
                    self.failure = f"more than {self.timing.restart_budget_per_hour} restarts in an hour"
                    self.reason = "restart_budget"
                    self._enter(State.FAILED, now)
        elif state is State.FAILED:
            if not self.want_running:
                self._enter(State.STOPPED, now)
            elif self.reason != "source_refused" and self._budget_left(now):
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
            argv = self._argv(self.spec, self.hints)
        except SourceRefused as exc:
            self.failure = f"source refused: {exc}"
            self.reason = "source_refused"
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
        self._input_mark = None
        self.first_segment_s = None
        self.run_segments = 0
        try:
            self.proc = self._factory(argv, self._env)
        except OSError as exc:
            self.proc = None
            self._fail(now, f"could not start ffmpeg: {exc.strerror or exc}", reason="ffmpeg")
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
            if self._learn(now):
                return
            self._fail(now, self._exit_message(code), reason=self._classify(code))
            return
        if not self.want_running:
            self._begin_stop(now, State.STOPPED, reason=None)
            return
        marker = self._progress()
        if marker is not None and marker != self._marker:
            self._marker = marker
            if self.last_progress_at is not None:
                self.intervals.append(now - self.last_progress_at)
            else:
                self.first_segment_s = now - self.started_at
            self.last_progress_at = now
            self._input_mark = None
            self.run_segments += 1
            if self.state is State.STARTING:
                self._enter(State.RUNNING, now)
                self.failures = 0
                self.person_failures = 0
                self.failure = None
                self.reason = None
                self.probe_saw_down = False
                self.probe_down = False
            codec = self.log.info.codec
            if codec is not None and codec not in SERVABLE_VIDEO_CODECS:
                self._begin_stop(now, State.BACKOFF, reason=f"the camera sends {codec} video, which the portal "
                                 "cannot serve (H.264 or H.265 needed)", code="codec")
                return
            if codec == "hevc" and "hevc" not in self.hints:
                self.hints |= {"hevc"}  # rebuild the live view tagged hvc1, the form Safari plays
                self._begin_stop(now, State.STARTING, reason=None)
            return
        if self.state is State.STARTING:
            if now - self.started_at > self.start_deadline:
                self._begin_stop(now, State.BACKOFF,
                                 reason=f"no segment within {self.start_deadline:.0f} s of starting",
                                 code="no_media" if self.log.info.codec is None else "stalled")
        elif self.last_progress_at is not None and self._stalled(now):
            self._begin_stop(now, State.BACKOFF,
                             reason=f"stalled: no new segment for {now - self.last_progress_at:.0f} s "
                             f"(deadline {self.stall_deadline:.0f} s)", code="stalled")

    def _stalled(self, now: float) -> bool:
        """No new segment past the deadline, and ffmpeg not reading either (or far past the deadline)."""
        assert self.last_progress_at is not None
        late = now - self.last_progress_at
        if late > self.timing.stall_s / 2 and self.proc is not None:
            read = getattr(self.proc, "input_bytes", lambda: None)()
            if read is not None:
                if self._input_mark is None or read > self._input_mark[0]:
                    self._input_mark = (read, now)
        if late <= self.stall_deadline:
            return False
        if self._input_mark is None or late > self.stall_deadline * self.timing.stall_grace_factor:
            return True
        return now - self._input_mark[1] > max(1.0, self.timing.stall_s / 4)

    @property
    def start_deadline(self) -> float:
        """How long a start may take to give its first segment: ``start_timeout_s`` for a camera not yet seen
        running; for one whose segment interval is known, a few of those intervals (9 s for a 1 s GOP), so a run
        that connected but gets nothing (a camera just back from a freeze) is retried soon, not after 20 s."""
        if not self.intervals:
            return self.timing.start_timeout_s
        known = max(2 * self.timing.stall_s, 3 * self.timing.stall_segments * max(self.intervals))
        return min(self.timing.start_timeout_s, known)

    @property
    def stall_deadline(self) -> float:
        """How long without a new live segment counts as stalled: a few of the camera's own segment intervals."""
        observed = max(self.intervals) if self.intervals else self.first_segment_s
        if observed is None:
            return self.timing.start_timeout_s
        return max(self.timing.stall_s, self.timing.stall_segments * observed)

    def _learn(self, now: float) -> bool:
        """A run that failed for a reason a hint fixes: start again at once with it (not a failure)."""
        problems = " ".join(self.log.problems)
        for hint, markers in (("fmp4", NEEDS_FMP4), ("full_probe", NEEDS_FULL_PROBE)):
            if hint not in self.hints and any(m in problems for m in markers):
                self.hints |= {hint}
                self.log.problems.clear()
                self._start(now)
                if self.restarts and self.restarts[-1] == now:
                    self.restarts.pop()  # a change of layout, not a failure: it doesn't spend the restart budget
                return True
        return False

    def _begin_stop(self, now: float, then: State, reason: str | None, code: str = "stalled") -> None:
        if self.proc is None:
            self._enter(then if then is not State.STARTING else State.STOPPED, now)
            return
        if reason is not None:
            self.failure = reason
            self.reason = code
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
            self._fail(now, self.failure or "stopped", reason=self.reason or "ffmpeg")
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

    def _fail(self, now: float, message: str, reason: str) -> None:
        self.failures += 1
        self.failure = message
        self.reason = reason
        t = self.timing
        if reason in NEEDS_A_PERSON:
            self.person_failures += 1
            delay = min(t.person_backoff_max_s, t.person_backoff_base_s * 2 ** (self.person_failures - 1))
        else:
            cap = t.no_media_backoff_max_s if reason == "no_media" else t.backoff_max_s
            delay = min(max(cap, t.backoff_base_s), t.backoff_base_s * 2 ** (self.failures - 1))
        self.retry_at = now + delay * self._rng.uniform(0.8, 1.2)
        self._enter(State.BACKOFF, now)

    def _retry_due(self, now: float) -> bool:
        """Start again now? A camera that needs a person waits out its (long) delay; one that is away waits
        for the probe to find it back (the scheduled retry is skipped while the probe says it is down)."""
        if self.reason in NEEDS_A_PERSON:
            return now >= self.retry_at
        if self.probe_says_up:
            return True
        return now >= self.retry_at and not self.probe_down

    def _exit_message(self, code: int) -> str:
        if code == 0:
            return "the camera stopped sending (end of stream)"
        detail = self.log.last_error()
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"ffmpeg {how}" + (f": {detail}" if detail else "")

    def _classify(self, code: int) -> str:
        return classify(" ".join(self.log.problems), self.log.info.codec, code)

    # -- what the portal sees --

    @property
    def status(self) -> str:
        if self.state is State.RUNNING:
            return "online"
        if self.state is State.STARTING and self.failures == 0 and self.failure is None:
            return "starting"
        if self.reason is None:
            return "error" if self.state is State.FAILED else "offline"
        return status_for(self.reason)

    @property
    def error(self) -> str | None:
        return None if self.state is State.RUNNING else self.failure
