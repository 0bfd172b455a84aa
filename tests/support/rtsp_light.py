"""Light simulated RTSP cameras for density benchmarks: a pure-Python (stdlib only) RTSP server, one thread.

    with LightRtspSimulator(cameras=150) as sim:     # starts a subprocess, waits for READY
        url = sim.url(1)                            # rtsp://127.0.0.1:<port>/cam1
        cpu = cpu_seconds(sim.pid)                  # the server's own CPU, measurable apart from the caller
        sim.stop_camera(1); sim.start_camera(1)     # as with tests/support/rtsp.py

It serves ``/cam1`` .. ``/camN`` (and ``--names``) of one looping H.264 clip, RTP interleaved on the RTSP TCP
connection only (``-rtsp_transport tcp``; a UDP SETUP gets 461, so ffmpeg's default falls back to TCP).
What keeps it cheap (about ten times cheaper than the GStreamer simulator, ``tests/support/rtsp.py``):

- the clip is parsed once: access units (``annexb.access_units``; SEI and access unit delimiters dropped) are
  packetized into RTP (single NAL unit or FU-A, payload <= 1400 bytes, marker on an access unit's last packet),
  each packet already framed for TCP (``$``, channel 0, length). A frame is one ``bytearray`` plus the offsets
  of its RTP headers; sending it patches sequence number, timestamp and SSRC in place (one ``pack_into`` per
  packet; the loop is single-threaded so the shared blob is never in use twice) and hands it to one
  ``send()``. Only what the socket did not take is copied (into that session's backlog);
- one ``selectors`` loop for everything; a session's frames are due at ``play + n / fps`` (timestamps and
  sequence numbers continue across loops of the clip) and every wake-up sends all frames due within the next
  ``SLACK`` seconds, so 150 cameras cost a few hundred wake-ups a second, not 3750.

Every PLAY starts at the first keyframe of the clip (SPS/PPS are in band before each keyframe and in the SDP).
A reader that falls more than ``BACKLOG_LIMIT`` bytes behind loses frames up to the next keyframe, as from a
camera on a congested link. No authentication, no RTCP sender reports, no UDP, one track per mount.

Control channel (stdin, one command a line, one answer line on stdout), as ``rtsp_server.py``: ``stop NAME``
(readers are cut off, new ones get 404), ``start NAME``, ``add NAME``, ``list`` (``OK list cam1=on:1 ...``,
the number is the PLAYing sessions), ``stats`` (``OK stats sessions=.. frames=.. bytes=.. dropped=..``) and
``quit`` (so does end of stdin, unless ``--no-control``). Prints ``READY <port>`` once listening.

``python -m tests.support.rtsp_light --measure 50,150 [--seconds 20] [--compare-gst 50]`` measures the server's
CPU while that many ``ffmpeg -c copy -f null`` readers read one camera each.
"""

from __future__ import annotations

import argparse
import base64
import heapq
import json
import os
import secrets
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.annexb import access_units, split_nal_units
from tests.support.clip import make_test_clip
from tests.support.rtsp import RtspSimulator, RtspSimulatorError

ROOT = Path(__file__).resolve().parents[2]
MAX_PAYLOAD = 1400
PAYLOAD_TYPE = 96
SLACK = 0.005  # a wake-up sends every frame due within this many seconds
BACKLOG_LIMIT = 2_000_000  # bytes a reader may lag behind before frames are dropped up to the next keyframe
SESSION_TIMEOUT = 60
RAW_SUFFIXES = (".h264", ".264")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RTP_FIELDS = struct.Struct(">HII")  # sequence number, timestamp, SSRC: bytes 2..11 of the RTP header


# -- the clip, packetized once --------------------------------------------------------------------------------

class Frame:
    """One access unit as ready-to-send interleaved RTP packets; ``offsets`` point at each packet's sequence
    number (the RTP header starts 2 bytes before, the ``$`` 4 bytes before that)."""

    __slots__ = ("blob", "offsets", "key")

    def __init__(self, nal_units: Sequence[bytes], key: bool, channel: int = 0) -> None:
        blob = bytearray()
        offsets = []
        packets: list[bytes] = []
        for nal in nal_units:
            if len(nal) <= MAX_PAYLOAD:
                packets.append(nal)
                continue
            indicator = (nal[0] & 0xE0) | 28  # FU-A
            kind = nal[0] & 0x1F
            body = memoryview(nal)[1:]
            step = MAX_PAYLOAD - 2
            for start in range(0, len(body), step):
                fu_header = kind | (0x80 if start == 0 else 0) | (0x40 if start + step >= len(body) else 0)
                packets.append(bytes((indicator, fu_header)) + body[start:start + step])
        for index, payload in enumerate(packets):
            marker = 0x80 if index == len(packets) - 1 else 0
            blob += struct.pack(">cBH", b"$", channel, 12 + len(payload))
            offsets.append(len(blob) + 2)
            blob += struct.pack(">BBHII", 0x80, marker | PAYLOAD_TYPE, 0, 0, 0)
            blob += payload
        self.blob = blob
        self.offsets = tuple(offsets)
        self.key = key


class Clip:
    """The access units of a clip as :class:`Frame` objects, with what the SDP needs."""

    def __init__(self, annexb: bytes, fps: int) -> None:
        self.fps = fps
        self.frames: list[Frame] = []
        self.sps = self.pps = b""
        for data, key in access_units(annexb):
            units = [u for u in split_nal_units(data) if u[0] & 0x1F != 9]  # no access unit delimiters
            for unit in units:
                if unit[0] & 0x1F == 7 and not self.sps:
                    self.sps = unit
                elif unit[0] & 0x1F == 8 and not self.pps:
                    self.pps = unit
            self.frames.append(Frame(units, key))
        if not self.sps or not self.pps:
            raise ValueError("the clip has no SPS/PPS")

    @classmethod
    def load(cls, path: Path | str, fps: int) -> Clip:
        """Raw Annex B (``.h264``/``.264``) is read as is; anything else is demuxed by ffmpeg (no B-frames)."""
        path = Path(path)
        if path.suffix.lower() in RAW_SUFFIXES:
            return cls(path.read_bytes(), fps)
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,has_b_frames",
             "-of", "json", str(path)], capture_output=True, text=True, timeout=60, check=True)
        stream = json.loads(probe.stdout)["streams"][0]
        if stream.get("codec_name") != "h264" or int(stream.get("has_b_frames") or 0):
            raise ValueError(f"{path}: need H.264 without B-frames, got {stream}")
        demux = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-c:v", "copy",
             "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-"], capture_output=True, timeout=120, check=True)
        return cls(demux.stdout, fps)

    def sdp(self, name: str, address: str) -> str:
        sprop = ",".join(base64.b64encode(unit).decode() for unit in (self.sps, self.pps))
        fmtp = f"packetization-mode=1;profile-level-id={self.sps[1:4].hex().upper()};sprop-parameter-sets={sprop}"
        lines = [
            "v=0", f"o=- {secrets.randbelow(1 << 31)} 1 IN IP4 {address}", f"s=Pantau light camera {name}",
            "c=IN IP4 0.0.0.0", "t=0 0", "a=control:*",
            f"m=video 0 RTP/AVP {PAYLOAD_TYPE}", f"a=rtpmap:{PAYLOAD_TYPE} H264/90000",
            f"a=fmtp:{PAYLOAD_TYPE} {fmtp}", f"a=framerate:{self.fps}", "a=control:trackID=0",
        ]
        return "\r\n".join(lines) + "\r\n"


# -- the server -----------------------------------------------------------------------------------------------

class Mount:
    __slots__ = ("name", "active", "readers")

    def __init__(self, name: str) -> None:
        self.name = name
        self.active = True
        self.readers: set[Connection] = set()


class Connection:
    """One RTSP client connection, with at most one session (all ffmpeg needs)."""

    def __init__(self, server: Server, sock: socket.socket, peer: str) -> None:
        self.server = server
        self.sock = sock
        self.peer = peer
        self.inbox = bytearray()
        self.out = bytearray()  # what the socket has not taken yet: whole packets and replies only
        self.writing = False
        self.closed = False
        self.mount: Mount | None = None
        self.session = ""
        self.playing = False
        self.generation = 0
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts_base = secrets.randbits(32)
        self.started = 0.0
        self.sent = 0  # frames since PLAY (dropped ones included): the clock of this session
        self.position = 0
        self.need_key = False

    # -- output --

    def write(self, data: bytes | bytearray) -> None:
        if self.closed:
            return
        if self.out:
            self.out += data
            return
        try:
            done = self.sock.send(data)
        except BlockingIOError:
            done = 0
        except OSError:
            self.server.drop(self)
            return
        if done < len(data):
            self.out += memoryview(data)[done:]
            if not self.writing:
                self.writing = True
                self.server.selector.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self.on_event)

    def flush(self) -> None:
        try:
            done = self.sock.send(self.out)
        except BlockingIOError:
            return
        except OSError:
            self.server.drop(self)
            return
        del self.out[:done]
        if not self.out and self.writing:
            self.writing = False
            self.server.selector.modify(self.sock, selectors.EVENT_READ, self.on_event)

    def on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush()
        if mask & selectors.EVENT_READ and not self.closed:
            self.receive()

    # -- input --

    def receive(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.server.drop(self)
            return
        self.inbox += data
        while self.inbox and not self.closed:
            if self.inbox[0] == 0x24:  # interleaved data from the client (RTCP receiver reports): ignored
                if len(self.inbox) < 4:
                    return
                size = 4 + int.from_bytes(self.inbox[2:4], "big")
                if len(self.inbox) < size:
                    return
                del self.inbox[:size]
                continue
            end = self.inbox.find(b"\r\n\r\n")
            if end < 0:
                if len(self.inbox) > 65536:
                    self.server.drop(self)
                return
            head = bytes(self.inbox[:end]).decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.inbox) < end + 4 + length:
                return
            del self.inbox[:end + 4 + length]
            self.server.handle(self, lines[0], headers)


class Server:
    def __init__(self, clip: Clip, address: str, port: int, names: Sequence[str], control: bool = True) -> None:
        self.clip = clip
        self.address = address
        self.mounts = {name: Mount(name) for name in names}
        self.selector = selectors.DefaultSelector()
        self.listener = socket.create_server((address, port), backlog=1024)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.selector.register(self.listener, selectors.EVENT_READ, self.accept)
        self.connections: set[Connection] = set()
        self.due: list[tuple[float, int, Connection, int]] = []
        self.tiebreak = 0
        self.running = True
        self.control = control
        self.stdin_buffer = b""
        if control:
            try:
                self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, self.on_stdin)
            except (OSError, ValueError):  # stdin is a regular file or /dev/null (epoll refuses): no control
                self.control = False
        self.frames_sent = self.bytes_sent = self.frames_dropped = 0

    # -- connections --

    def accept(self, _mask: int) -> None:
        while True:
            try:
                sock, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(self, sock, f"{peer[0]}:{peer[1]}")
            self.connections.add(conn)
            self.selector.register(sock, selectors.EVENT_READ, conn.on_event)

    def drop(self, conn: Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        conn.playing = False
        if conn.mount is not None:
            conn.mount.readers.discard(conn)
        self.connections.discard(conn)
        try:
            self.selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    # -- RTSP --

    def handle(self, conn: Connection, request_line: str, headers: dict[str, str]) -> None:
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("RTSP/"):
            self.reply(conn, headers, "400 Bad Request")
            return
        method, url = parts[0].upper(), parts[1]
        segments = [s for s in urlsplit(url).path.split("/") if s]
        mount = self.mounts.get(segments[0]) if segments else None
        if method == "OPTIONS":
            self.reply(conn, headers, "200 OK",
                       ["Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"])
        elif method in ("GET_PARAMETER", "SET_PARAMETER"):
            self.reply(conn, headers, "200 OK", self.session_header(conn))
        elif method == "DESCRIBE":
            if mount is None or not mount.active:
                self.reply(conn, headers, "404 Not Found")
                return
            base = url if url.endswith("/") else url + "/"
            self.reply(conn, headers, "200 OK", [f"Content-Base: {base}", "Content-Type: application/sdp"],
                       self.clip.sdp(mount.name, self.address).encode())
        elif method == "SETUP":
            if mount is None or not mount.active:
                self.reply(conn, headers, "404 Not Found")
                return
            transport = headers.get("transport", "")
            if "interleaved=" not in transport and "/TCP" not in transport.upper():
                self.reply(conn, headers, "461 Unsupported Transport")
                return
            if conn.mount is not None and conn.mount is not mount:
                self.reply(conn, headers, "459 Aggregate Operation Not Allowed")
                return
            conn.mount = mount
            conn.session = conn.session or secrets.token_hex(8)
            self.reply(conn, headers, "200 OK",
                       [f"Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc={conn.ssrc:08X}",
                        *self.session_header(conn)])
        elif method in ("PLAY", "PAUSE", "TEARDOWN"):
            if not conn.session or headers.get("session", "").split(";")[0].strip() != conn.session:
                self.reply(conn, headers, "454 Session Not Found")
                return
            assert conn.mount is not None
            if method == "PLAY":
                if not conn.mount.active:
                    self.reply(conn, headers, "404 Not Found")
                    return
                extra = ["Range: npt=now-"]
                if not conn.playing:
                    extra.append(f"RTP-Info: url={url};seq={conn.seq};rtptime={self.next_timestamp(conn)}")
                self.reply(conn, headers, "200 OK", [*extra, *self.session_header(conn)])
                self.play(conn)
            else:
                self.pause(conn)
                self.reply(conn, headers, "200 OK", self.session_header(conn))
                if method == "TEARDOWN":
                    conn.mount.readers.discard(conn)
                    conn.session = ""
                    conn.mount = None
        else:
            self.reply(conn, headers, "405 Method Not Allowed",
                       ["Allow: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"])

    @staticmethod
    def session_header(conn: Connection) -> list[str]:
        return [f"Session: {conn.session};timeout={SESSION_TIMEOUT}"] if conn.session else []

    @staticmethod
    def reply(conn: Connection, request: dict[str, str], status: str, headers: Sequence[str] = (),
              body: bytes = b"") -> None:
        lines = [f"RTSP/1.0 {status}", f"CSeq: {request.get('cseq', '0')}", "Server: pantau-rtsp-light",
                 *headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        conn.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def next_timestamp(self, conn: Connection) -> int:
        return (conn.ts_base + conn.sent * 90000 // self.clip.fps) & 0xFFFFFFFF

    def play(self, conn: Connection) -> None:
        if conn.playing:
            return
        assert conn.mount is not None
        conn.playing = True
        conn.mount.readers.add(conn)
        conn.generation += 1
        conn.position = 0  # the first keyframe
        conn.need_key = False
        # continue the RTP clock after a PAUSE: the session's frame counter maps to now
        conn.started = time.monotonic() - conn.sent / self.clip.fps
        self.schedule(conn.started + conn.sent / self.clip.fps, conn)

    def pause(self, conn: Connection) -> None:
        conn.playing = False
        conn.generation += 1

    def schedule(self, due: float, conn: Connection) -> None:
        self.tiebreak += 1
        heapq.heappush(self.due, (due, self.tiebreak, conn, conn.generation))

    # -- pacing --

    def send_due(self) -> None:
        now = time.monotonic()
        horizon = now + SLACK
        due = self.due
        frames = self.clip.frames
        count = len(frames)
        fps = self.clip.fps
        pack = RTP_FIELDS.pack_into
        while due and due[0][0] <= horizon:
            _, _, conn, generation = heapq.heappop(due)
            if conn.closed or not conn.playing or generation != conn.generation:
                continue
            frame = frames[conn.position]
            conn.position = conn.position + 1 if conn.position + 1 < count else 0
            timestamp = (conn.ts_base + conn.sent * 90000 // fps) & 0xFFFFFFFF
            conn.sent += 1
            if (conn.need_key and not frame.key) or len(conn.out) > BACKLOG_LIMIT:
                conn.need_key = True
                self.frames_dropped += 1
            else:
                conn.need_key = False
                blob = frame.blob
                seq, ssrc = conn.seq, conn.ssrc
                for offset in frame.offsets:
                    pack(blob, offset, seq, timestamp, ssrc)
                    seq = (seq + 1) & 0xFFFF
                conn.seq = seq
                conn.write(blob)
                self.frames_sent += 1
                self.bytes_sent += len(blob)
            next_due = conn.started + conn.sent / fps
            if next_due < now - 1.0:  # stalled for a second (suspended, overloaded): don't send a burst
                conn.started = now - conn.sent / fps
                next_due = now
            self.tiebreak += 1
            heapq.heappush(due, (next_due, self.tiebreak, conn, generation))

    def run(self) -> None:
        select = self.selector.select
        while self.running:
            timeout = max(0.0, self.due[0][0] - time.monotonic()) if self.due else None
            for key, mask in select(timeout):
                key.data(mask)
            if self.due:
                self.send_due()

    def close(self) -> None:
        for conn in list(self.connections):
            self.drop(conn)
        self.selector.close()
        self.listener.close()

    # -- control channel --

    def on_stdin(self, _mask: int) -> None:
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            self.selector.unregister(sys.stdin.fileno())
            self.running = False
            return
        self.stdin_buffer += data
        while b"\n" in self.stdin_buffer:
            line, _, self.stdin_buffer = self.stdin_buffer.partition(b"\n")
            answer = self.command(line.decode(errors="replace"))
            if answer:
                reply_line(answer)

    def command(self, line: str) -> str:
        words = line.split()
        verb, name = (words + ["", ""])[:2]
        if verb in ("stop", "start") and name not in self.mounts:
            return f"ERR no camera {name!r}"
        if verb == "stop":
            mount = self.mounts[name]
            mount.active = False
            for conn in list(mount.readers) + [c for c in self.connections if c.mount is mount]:
                self.drop(conn)
        elif verb in ("start", "add"):
            if not name or "/" in name:
                return f"ERR bad camera name {name!r}"
            self.mounts.setdefault(name, Mount(name)).active = True
        elif verb == "list":
            name = " ".join(f"{m.name}={'on' if m.active else 'off'}:{sum(c.playing for c in m.readers)}"
                            for m in self.mounts.values())
        elif verb == "stats":
            playing = sum(c.playing for c in self.connections)
            name = (f"sessions={playing} connections={len(self.connections)} frames={self.frames_sent} "
                    f"bytes={self.bytes_sent} dropped={self.frames_dropped}")
        elif verb == "quit":
            self.running = False
        elif verb:
            return f"ERR bad command {line.strip()!r}"
        else:
            return ""
        return f"OK {verb} {name}".rstrip()


def reply_line(text: str) -> None:
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the parent is gone; end of stdin stops us
        pass


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(args: argparse.Namespace) -> int:
    clip = Clip.load(args.clip or make_test_clip(fps=args.fps), args.fps)
    names = [f"cam{i}" for i in range(1, args.cameras + 1)] + [n for n in args.names.split(",") if n]
    try:
        server = Server(clip, args.address, args.port, names, control=not args.no_control)
    except OSError as exc:
        reply_line(f"ERR cannot listen on {args.address}:{args.port}: {exc}")
        return 1
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    reply_line(f"READY {server.port}")
    try:
        server.run()
    finally:
        server.close()
    return 0


# -- the caller's side ----------------------------------------------------------------------------------------

class LightRtspSimulatorError(RtspSimulatorError):
    pass


class LightRtspSimulator(RtspSimulator):
    """Runs the light server in a subprocess (``sys.executable -m tests.support.rtsp_light``) and talks to it.

    The API of ``tests.support.rtsp.RtspSimulator`` (lifecycle, control commands) minus credentials, plus
    :meth:`stats`; ``list_cameras`` counts PLAYing sessions.
    """

    error = LightRtspSimulatorError
    log_prefix = "rtsp-light-"

    def __init__(self, cameras: int = 6, clip: Path | str | None = None, fps: int = 25, *, port: int = 0,
                 names: Sequence[str] = (), host: str = "127.0.0.1", python: str = sys.executable) -> None:
        super().__init__(cameras=cameras, port=port, clip=clip, names=names, fps=fps, host=host, python=python)

    def _server_command(self) -> tuple[list[str], dict[str, str]]:
        clip = (self.clip or make_test_clip(fps=self.fps)).resolve()
        argv = [self.python, "-u", "-m", "tests.support.rtsp_light", "--clip", str(clip), "--fps", str(self.fps),
                "--port", str(self.requested_port), "--address", self.host, "--cameras", str(self.cameras)]
        if self.names:
            argv += ["--names", ",".join(self.names)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        return argv, env

    def stats(self) -> dict[str, int]:
        """Server counters: sessions (PLAYing), connections, frames, bytes, dropped (frames, backlog)."""
        return {k: int(v) for k, _, v in (item.partition("=") for item in self.command("stats").split()[2:])}


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (all threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# -- measurement ----------------------------------------------------------------------------------------------

def measure(clients: int, seconds: float = 20.0, *, gst: bool = False, settle: float = 3.0,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Server CPU while ``clients`` ``ffmpeg -rtsp_transport tcp -i URL -c copy -f null -`` read one camera
    each, over ``seconds`` of wall time; ``gst`` measures the GStreamer simulator instead."""
    sim: Any
    if gst:
        sim = RtspSimulator(cameras=clients)
    else:
        sim = LightRtspSimulator(cameras=clients)
    readers: list[subprocess.Popen[bytes]] = []
    with sim:
        try:
            for index in range(1, clients + 1):
                readers.append(subprocess.Popen(
                    ["ffmpeg", "-nostdin", "-nostats", "-loglevel", "error", "-rtsp_transport", "tcp",
                     "-timeout", "10000000", "-i", sim.url(index), "-c", "copy", "-f", "null", "-"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

            from tests.support.tools import wait_for  # imports pytest: not in the server's path

            wait_for(lambda: all(sessions >= 1 for _, sessions in sim.list_cameras().values()),
                     timeout=60 + clients * 0.2, interval=0.5, message=f"not all {clients} cameras are being read")
            time.sleep(settle)  # startup bursts (probing, keyframes in flight) out of the window
            stats_before = None if gst else (sim.stats(), time.monotonic())
            cpu_before, started = cpu_seconds(sim.pid), time.monotonic()
            readers_before = sum(_cpu_or_zero(p.pid) for p in readers)
            machine_before = _machine_busy()
            time.sleep(seconds)  # the measurement window
            elapsed = time.monotonic() - started
            cpu = cpu_seconds(sim.pid) - cpu_before
            readers_cpu = sum(_cpu_or_zero(p.pid) for p in readers) - readers_before
            machine = _machine_busy()
            alive = sum(p.poll() is None for p in readers)
            result: dict[str, Any] = {
                "server": "gstreamer" if gst else "light", "clients": clients, "seconds": round(elapsed, 1),
                "server_cpu_percent": round(cpu / elapsed * 100, 2),
                "per_camera_percent": round(cpu / elapsed * 100 / clients, 3),
                "readers_alive": alive,
                "readers_cpu_percent": round(readers_cpu / elapsed * 100, 1),
                "machine_busy_percent": round((machine[0] - machine_before[0]) / max(machine[1] - machine_before[1], 1)
                                              * 100, 1),
            }
            if stats_before is not None:
                (before, at), stats = stats_before, sim.stats()
                span = time.monotonic() - at  # the server's counters, over their own window
                result["frames_per_camera_per_s"] = round((stats["frames"] - before["frames"]) / span / clients, 2)
                result["mbit_per_camera"] = round((stats["bytes"] - before["bytes"]) * 8 / span / clients / 1e6, 2)
                result["dropped_frames"] = stats["dropped"] - before["dropped"]
            log(json.dumps(result))
            return result
        finally:
            for proc in readers:
                if proc.poll() is None:
                    proc.kill()
            for proc in readers:
                proc.wait()


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:
        return 0.0


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clip", default=None, help="H.264 clip: raw Annex B (.h264) or a container (no B-frames)")
    parser.add_argument("--fps", type=int, default=25, help="the clip's frame rate (pacing, RTP timestamps)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--cameras", type=int, default=1, help="mount /cam1 .. /camN")
    parser.add_argument("--names", default="", help="comma-separated extra mount names")
    parser.add_argument("--no-control", action="store_true", help="no stdin control channel: run until SIGTERM")
    parser.add_argument("--measure", default="", metavar="N[,N...]",
                        help="measure server CPU with N ffmpeg readers (instead of serving)")
    parser.add_argument("--compare-gst", default="", metavar="N[,N...]",
                        help="also measure the GStreamer simulator with N readers")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    args = parser.parse_args(argv)
    if not args.measure and not args.compare_gst:
        return serve(args)
    for count in (int(n) for n in args.measure.split(",") if n):
        measure(count, args.seconds)
    for count in (int(n) for n in args.compare_gst.split(",") if n):
        measure(count, args.seconds, gst=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
