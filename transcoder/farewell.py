"""A worker's last word when it cannot say it itself: a small watcher process that tells the portal the worker is
gone (``worker.leaving``, ``docs/worker-api.md`` "Leaving") the moment the worker dies, even by SIGKILL or the OOM
killer, so the other workers take its cameras within one sync instead of when its leases run out.

The worker starts it (:func:`start`) with a pipe on its stdin and keeps the other end open for its whole life; the
kernel closes that end when the worker dies, however it dies. A worker that stops cleanly leaves by itself (its
final sync says ``leaving``) and writes ``DONE`` into the pipe first, so the watcher goes quietly. The watcher
ignores SIGINT and SIGTERM (a Ctrl-C or a service stop reaches the worker, which leaves by itself) and reads its
configuration from the same ``PANTAU_*`` variables as the worker.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from typing import IO, Any

from transcoder import __version__

log = logging.getLogger("pantau.transcoder")
DONE = b"done\n"
RETRY_FOR_S = 30.0  # the portal may be restarting too: keep trying this long


class Watcher:
    """The worker's side: the watcher process and the pipe that keeps it waiting."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def done(self, left: bool) -> None:
        """The worker is stopping: ``left`` (its own last sync said so): the watcher exits without a word;
        otherwise (the portal did not answer that sync) the watcher keeps trying to say it."""
        pipe: IO[bytes] | None = self.proc.stdin
        try:
            if pipe is not None:
                if left:
                    pipe.write(DONE)
                pipe.close()
        except OSError:
            pass
        if left:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start() -> Watcher | None:
    """Start the watcher (None when it cannot be started: the leases then run out as before)."""
    try:
        proc = subprocess.Popen([sys.executable, "-m", "transcoder.farewell"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, close_fds=True, env=os.environ.copy())
    except OSError as exc:
        log.warning("farewell watcher not started: %s (a killed worker's cameras move when its lease runs out)", exc)
        return None
    return Watcher(proc)


def farewell_body(config: Any) -> dict[str, Any]:
    """A sync that says the worker is gone and carries nothing else (its statuses died with it)."""
    return {"worker": {"name": config.name, "version": __version__, "capacity": config.capacity,
                       "media_url": config.media_url, "leaving": True},
            "cameras": [], "segments": [], "deleted_segments": []}


def say(retry_for_s: float = RETRY_FOR_S) -> int:
    """Tell the portal this worker (``PANTAU_*``) is gone; also ``pantau-transcoder --farewell`` (the systemd
    unit's ExecStopPost, which runs however the worker ended). Saying it twice does no harm."""
    from transcoder.client import PortalClient, SyncError
    from transcoder.config import ConfigError, WorkerConfig

    try:
        config = WorkerConfig.from_env()
    except ConfigError as exc:
        log.error("farewell: %s", exc)
        return 2
    client = PortalClient(config.portal_url, config.credential, timeout=min(config.http_timeout_s, 5.0))
    deadline = time.monotonic() + retry_for_s
    while True:
        try:
            answer = client.sync(farewell_body(config))
        except SyncError as exc:
            refused = exc.status is not None and exc.status < 500  # the portal answered and said no
            if refused or time.monotonic() > deadline:
                log.warning("farewell of worker %s not delivered: %s", config.name, exc)
                return 1
            time.sleep(1.0)
            continue
        log.warning("worker %s is gone: the portal released its %s cameras", config.name,
                    answer.get("released", "?"))
        return 0


def main() -> int:
    from contract.redaction import install_log_redaction

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    said = sys.stdin.buffer.read()  # until the worker closes the pipe or dies
    if DONE in said:
        return 0
    install_log_redaction()
    logging.basicConfig(level=os.environ.get("PANTAU_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return say()


if __name__ == "__main__":
    raise SystemExit(main())
