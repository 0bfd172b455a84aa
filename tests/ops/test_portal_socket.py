"""The portal behind a socket systemd holds (deploy/systemd/pantau-portal.socket): real gunicorn, stopped and
started again while a client keeps asking; every request is answered, none is refused or reset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.support.activation import listening_socket, start_activated
from tests.support.tools import wait_for

APP = '''
import os
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getppid()).encode()]
'''


def test_requests_made_while_the_portal_restarts_wait_instead_of_failing(tmp_path: Path) -> None:
    (tmp_path / "tinyapp.py").write_text(APP)
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    argv = [sys.executable, "-m", "gunicorn", "--chdir", str(tmp_path), "-w", "1", "tinyapp:app"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "gunicorn.log").open("ab")
    first = start_activated(argv, sock, env, stdout=log, stderr=log)
    masters = [first.pid]
    answers: list[tuple[float, int | str, str]] = []  # (seconds it took, status, served by)
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            sent = time.monotonic()
            try:
                answer = requests.get(url, timeout=20)
                answers.append((time.monotonic() - sent, answer.status_code, answer.text))
            except requests.RequestException as exc:
                answers.append((time.monotonic() - sent, type(exc).__name__, ""))

    try:
        wait_for(lambda: requests.get(url, timeout=5).status_code == 200, timeout=30, message="gunicorn never served")
        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        wait_for(lambda: len(answers) >= 20, timeout=20, message="no traffic")
        first.send_signal(signal.SIGTERM)  # a restart: the old one goes, then a new one starts
        first.wait(timeout=30)
        second = start_activated(argv, sock, env, stdout=log, stderr=log)
        masters.append(second.pid)
        wait_for(lambda: any(text == str(second.pid) for _, _, text in answers[-5:]), timeout=30,
                 message="the new gunicorn never answered")
        stop.set()
        thread.join(timeout=30)
    finally:
        stop.set()
        for pid in masters:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in (p for p in [first, locals().get("second")] if isinstance(p, subprocess.Popen)):
            proc.wait(timeout=30)
        sock.close()
        log.close()
    failed = [a for a in answers if a[1] != 200]
    assert failed == [], f"requests refused or reset during the restart: {failed[:5]}"
    served_by = {text for _, _, text in answers}
    assert served_by == {str(masters[0]), str(masters[1])}, served_by  # both gunicorns, on the one socket
    # one was asked while no gunicorn ran: it waited in the socket's queue for the new one (a new gunicorn takes
    # far longer than 0.2 s to start; a plain request here takes milliseconds)
    assert [took for took, _, text in answers if took > 0.2 and text == str(masters[1])], \
        "nothing was asked while no gunicorn ran"
