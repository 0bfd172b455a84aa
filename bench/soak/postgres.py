"""A PostgreSQL instance of the soak's own: ``initdb`` in a temporary folder, on a free loopback port.

The shared server on 127.0.0.1:5432 serves every engineer's tests; restarting it would break theirs, so the soak
restarts only this one. The server runs as the ``postgres`` system user when the bench runs as root (``initdb``
refuses root), trusts loopback connections, and is stopped and removed by :meth:`PrivatePostgres.close`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.tools import free_port, port_open

BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class PostgresError(RuntimeError):
    pass


def find_bin() -> Path | None:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    for folder in BINARIES:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


class PrivatePostgres:
    def __init__(self, *, port: int = 0, database: str = "pantau_soak") -> None:
        found = find_bin()
        if found is None:
            raise PostgresError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = found
        self.port = port or free_port()
        self.database = database
        self.dir = Path(tempfile.mkdtemp(prefix="pantau-soak-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.dir,
                              stdin=subprocess.DEVNULL)

    def _checked(self, *argv: str, timeout: float = 60) -> None:
        done = self._run(*argv, timeout=timeout)
        if done.returncode != 0:
            raise PostgresError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}\n{self.log_tail()}")

    def start(self) -> PrivatePostgres:
        self._checked("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--no-sync", timeout=120)
        self.up()
        self._checked("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database)
        return self

    def up(self, timeout: float = 30) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
                   "-c synchronous_commit=off -c max_connections=100 -c shared_buffers=32MB")
        self._checked("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t",
                      str(int(timeout)), "start", timeout=timeout + 10)
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port, timeout=0.2):
            if time.monotonic() > deadline:
                raise PostgresError(f"PostgreSQL did not listen on {self.port}\n{self.log_tail()}")
            time.sleep(0.1)

    def down(self, mode: str = "fast", timeout: float = 30) -> None:
        """Stop the server (``fast``: connections are terminated, as a service restart does)."""
        self._checked("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(int(timeout)), "stop",
                      timeout=timeout + 10)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def close(self) -> None:
        try:
            if self.data.exists() and self.running():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
