"""Run the production nginx configuration unprivileged on a free loopback port.

    with NginxServer(upstream="127.0.0.1:8000", media_root=tmp / "media") as web:
        requests.get(web.url("/media/hls/<key>/index.m3u8"))

The configuration is ``nginx/pantau.conf.template`` rendered by ``nginx/render.py`` (one renderer for the
Makefile and the tests); pid, logs, temp files and the auth cache live in a runtime folder (a temporary one
unless given). ``mode="production"`` (with ``tls_certificate=`` and ``tls_key=``) serves https with HTTP/2 on
``port`` and redirects plain http from ``http_port`` (both free loopback ports unless given).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import ModuleType, TracebackType

from tests.support.tools import free_port, port_open, signal_group

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "nginx" / "pantau.conf.template"
NGINX = "/usr/sbin/nginx"


def _load_renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pantau_nginx_render", ROOT / "nginx" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_renderer = _load_renderer()
_live: set[NginxServer] = set()


def render_nginx_conf(template_text: str, mode: str = "plain", **values: object) -> str:
    """Fill ``${UPPER_CASE}`` placeholders (see ``nginx/render.py``); raises ValueError on a missing value."""
    return str(_renderer.render_nginx_conf(template_text, mode=mode, **values))


class NginxError(RuntimeError):
    pass


class NginxServer:
    def __init__(self, *, upstream: str, media_root: Path | str, static_root: Path | str = ROOT / "static",
                 runtime_dir: Path | str | None = None, host: str = "127.0.0.1", port: int = 0,
                 nginx: str = NGINX, template: Path = TEMPLATE, mode: str = "plain", http_port: int = 0,
                 **settings: object) -> None:
        self.upstream = upstream
        self.media_root = Path(media_root).resolve()
        self.static_root = Path(static_root).resolve()
        self._own_runtime = runtime_dir is None
        self.runtime_dir = Path(runtime_dir or tempfile.mkdtemp(prefix="pantau-nginx-")).resolve()
        self.host = host
        self.requested_port = port
        self.port = 0
        self.nginx = nginx
        self.template = template
        self.mode = mode
        self.requested_http_port = http_port
        self.http_port = 0
        self.settings = {"worker_processes": 1, **settings}
        if os.geteuid() == 0:  # a root master would drop workers to nobody, who can't read 0700 test folders
            self.settings.setdefault("user", "root")
        self.conf_path = self.runtime_dir / "nginx.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- configuration --

    def render(self, port: int) -> str:
        extra: dict[str, object] = {}
        if self.mode == "production":
            if not self.http_port:
                self.http_port = self.requested_http_port or free_port(self.host)
            extra["http_listen"] = f"{self.host}:{self.http_port}"
        return render_nginx_conf(
            self.template.read_text(), mode=self.mode, **extra, listen=f"{self.host}:{port}", upstream=self.upstream,
            media_root=self.media_root, static_root=self.static_root, runtime_dir=self.runtime_dir,
            **self.settings,
        )

    def _argv(self, *extra: str) -> list[str]:
        return [self.nginx, "-c", str(self.conf_path), "-p", str(self.runtime_dir),
                "-e", str(self.runtime_dir / "error.log"), *extra]

    def write_conf(self, port: int | None = None) -> Path:
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.render(port or self.requested_port or free_port(self.host)))
        return self.conf_path

    def check(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t`` on the rendered configuration (writes it first if needed)."""
        if not self.conf_path.exists():
            self.write_conf()
        return subprocess.run(self._argv("-t"), capture_output=True, text=True, timeout=30)

    # -- lifecycle --

    def start(self, timeout: float = 10.0, attempts: int = 3) -> NginxServer:
        if self.proc is not None:
            raise NginxError("already started")
        for attempt in range(attempts):
            port = self.requested_port or free_port(self.host)
            self.write_conf(port)
            log_mark = self._error_log_size()
            self.proc = subprocess.Popen(self._argv("-g", "daemon off;"), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         start_new_session=True)
            _live.add(self)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_open(self.host, port, timeout=0.2):
                    self.port = port
                    return self
                time.sleep(0.05)
            stderr = self._stop_process()
            self.http_port = 0
            log = self.error_log()[log_mark:]
            if "Address already in use" in log + stderr and not self.requested_port and attempt + 1 < attempts:
                continue  # lost the free-port race; try another
            raise NginxError(f"nginx did not start on {self.host}:{port}\n{stderr}\n{log[-3000:]}")
        raise NginxError("nginx did not start")  # pragma: no cover

    def close(self) -> None:
        self._stop_process()
        if self._own_runtime and not os.environ.get("PANTAU_KEEP_LOGS"):
            shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def _stop_process(self, timeout: float = 5.0) -> str:
        proc, self.proc = self.proc, None
        _live.discard(self)
        if proc is None:
            return ""
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
        signal_group(proc.pid, signal.SIGKILL)  # workers left behind, if any
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        return stderr

    def __enter__(self) -> NginxServer:
        if self.proc is None:
            try:
                self.start()
            except BaseException:
                self.close()  # the temporary runtime folder too
                raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- helpers --

    @property
    def base_url(self) -> str:
        scheme = "https" if self.mode == "production" else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """Production mode: the plain-http listener that redirects to https."""
        return f"http://{self.host}:{self.http_port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def error_log(self) -> str:
        try:
            return (self.runtime_dir / "error.log").read_text(errors="replace")
        except OSError:
            return ""

    def access_log(self) -> str:
        try:
            return (self.runtime_dir / "access.log").read_text(errors="replace")
        except OSError:
            return ""

    def _error_log_size(self) -> int:
        return len(self.error_log())


@atexit.register
def _close_all() -> None:
    for server in list(_live):
        server.close()
