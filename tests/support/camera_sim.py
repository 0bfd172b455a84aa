"""The many-kinds camera simulator (``rtsp_cameras.py``) from the test suite's side, and cameras that fail in
the ways real ones do (a port that never answers, a server that answers DESCRIBE but sends nothing, one that
refuses every login and counts the attempts).

    with CameraSimulator(KINDS) as sim:
        sim.url("h264_baseline_aac")                 # rtsp://127.0.0.1:<open port>/h264_baseline_aac
        sim.url("h264_baseline_aac", auth="digest")  # with the right credentials, on the Digest server
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tests.support.camera_clips import CameraKind, make_camera_clip
from tests.support.tools import SYSTEM_PYTHON, signal_group

SCRIPT = Path(__file__).with_name("rtsp_cameras.py")
USER, PASSWORD = "admin", "kamera123"


class CameraSimulator:
    def __init__(self, kinds: Sequence[CameraKind]) -> None:
        self.kinds = {kind.name: kind for kind in kinds}
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen[str] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="camera-sim-", suffix=".log", delete=False)  # noqa: SIM115

    def start(self, timeout: float = 30.0) -> CameraSimulator:
        argv = [SYSTEM_PYTHON, "-u", str(SCRIPT), "--user", USER, "--password", PASSWORD]
        for kind in self.kinds.values():
            argv += ["--mount", f"{kind.name}={kind.codec}:{kind.audio or 'none'}:{make_camera_clip(kind)}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, start_new_session=True, env=env)
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        line = ready[0] if ready else ""
        if not line.startswith("READY "):
            self.close()
            raise RuntimeError(f"camera simulator did not start: {line!r}\n{Path(self._log.name).read_text()[-2000:]}")
        self.ports = {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}
        return self

    def url(self, name: str, auth: str = "open", password: str = PASSWORD) -> str:
        credentials = "" if auth == "open" else f"{USER}:{password}@"
        return f"rtsp://{credentials}127.0.0.1:{self.ports[auth]}/{name}"

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            signal_group(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                signal_group(self.proc.pid, 9)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> CameraSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class BrokenCamera:
    """A camera that fails on the network, on 127.0.0.1:<port>.

    - ``silent``: accepts the connection and never says a word (a port that never answers);
    - ``describe_only``: answers OPTIONS, DESCRIBE (an H.264 SDP), SETUP and PLAY, then sends nothing;
    - ``wrong_password``: answers every DESCRIBE with 401 and a Digest challenge, and counts the requests that
      carried credentials (``logins``): what a camera that locks accounts would count.
    """

    SDP = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
           "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f;"
           "sprop-parameter-sets=Z0LgH9oBQBbsBEAAAAMAQAAADKPGDKg=,aM4yyA==\r\na=control:track1\r\n")

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.logins = 0
        self.requests = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "stream1", credentials: str = f"{USER}:{PASSWORD}") -> str:
        return f"rtsp://{credentials}@127.0.0.1:{self.port}/{path}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._conns.append(conn)
            if self.behaviour != "silent":
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    conn.sendall(self._answer(head.decode("latin-1")))
        except OSError:
            return

    def _answer(self, request: str) -> bytes:
        self.requests += 1
        lines = request.split("\r\n")
        method = lines[0].split(" ", 1)[0]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        cseq = headers.get("cseq", "0")
        if self.behaviour == "wrong_password":
            if "authorization" in headers:
                self.logins += 1
            return (f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: Digest realm=\"cam\", "
                    f"nonce=\"{self.requests:08x}\"\r\n\r\n").encode()
        if method == "OPTIONS":
            return f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n".encode()
        if method == "DESCRIBE":
            body = self.SDP.encode()
            return (f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        if method == "SETUP":
            return (f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 12345678;timeout=60\r\n"
                    "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n").encode()
        return f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 12345678\r\n\r\n".encode()  # PLAY: then nothing

    def close(self) -> None:
        self._closed = True
        self._server.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass
