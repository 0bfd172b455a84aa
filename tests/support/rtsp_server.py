#!/usr/bin/python3
"""Simulated RTSP cameras: a GStreamer RTSP server looping one pre-encoded H.264 clip on many mount points.

Run with Debian's ``/usr/bin/python3`` (a venv Python can't import ``gi``); ``tests/support/rtsp.py`` does that.

How it works: the clip (raw H.264 Annex B, made by ``tests/support/clip.py``) is read once and split into
access units in memory; one pacing thread loops over it forever at the clip's frame rate (absolute deadlines,
no drift) and pushes each camera's next access unit, stamped with the pipeline's running time, into that
camera's ``appsrc`` -- nothing is decoded or encoded. Each mount point is a *shared* media ``appsrc
is-live=true format=time ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1``; every newly prepared
media starts at the first keyframe of the clip, so a client gets SPS/PPS/IDR immediately.

Control channel: one command per line on stdin, one answer line on stdout (``OK ...`` or ``ERR ...``):

    stop NAME     the camera vanishes: connected clients are disconnected and new ones get 404
    start NAME    it comes back (a fresh media)
    add NAME      a new camera (started)
    list          ``OK list cam1=on:1 cam2=off:0`` (state and number of prepared medias)
    quit          stop the server (so does end of stdin, so the server never outlives its parent)

``--auth USER:PASS`` makes every mount require those credentials (digest, or ``--auth-method basic``):
anonymous requests get 401 with a challenge, as from a real camera. Prints ``READY <port>`` once listening.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from annexb import access_units  # noqa: E402 - next to this script, no gi needed

LAUNCH = ("( appsrc name=src is-live=true format=time block=false max-bytes=4000000 "
          "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )")


class Feed:
    """One prepared media of a camera: its appsrc and its own position in the clip."""

    def __init__(self, appsrc: Gst.Element) -> None:
        self.appsrc = appsrc
        self.position = 0
        self.first: int | None = None  # running time of the first frame: the others follow on the frame grid
        self.clock: Gst.Clock | None = None
        self.created = Gst.SystemClock.obtain().get_time()  # the pipelines' clock (no element provides one)

    def running_time(self) -> int | None:
        """Now, in the running time of the appsrc's pipeline; None until that is known for sure.

        Not appsrc's ``do-timestamp``: with it, about one fresh media in 150 (20 clients connecting at once on
        2 cores, GStreamer 1.22) got its first frame stamped far in the future -- apparently the clock read
        before the pipeline's new base time was set -- and the server's sink waited for that time forever
        (seen in gdb: the appsrc thread in ``gst_base_sink_wait_clock``), so the client got one frame and
        then nothing. Here clock and base time are read by us, and a running time longer than this feed's
        life is refused (the frame waits for the next tick).
        """
        if self.clock is None:
            self.clock = self.appsrc.get_clock()  # set once the pipeline is PLAYING
            if self.clock is None:
                return None
        base = self.appsrc.get_base_time()
        if base == 0 or base == Gst.CLOCK_TIME_NONE:
            return None
        now = self.clock.get_time()
        running = now - base
        if running < 0 or running > now - self.created + Gst.SECOND:
            return None
        return running


class Camera:
    def __init__(self, name: str) -> None:
        self.name = name
        self.active = False
        self.feeds: list[Feed] = []
        self.medias: list[GstRtspServer.RTSPMedia] = []


class Simulator:
    def __init__(self, clip: bytes, fps: int, address: str, port: int, auth: str | None,
                 auth_method: str = "digest") -> None:
        self.fps = fps
        self.frames = [self._buffer(data, Gst.SECOND // fps) for data, _ in access_units(clip)]
        self.caps = Gst.Caps.from_string(
            f"video/x-h264,stream-format=byte-stream,alignment=au,framerate={fps}/1")
        self.lock = threading.Lock()
        self.cameras: dict[str, Camera] = {}
        self.stopping = threading.Event()
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(address)
        self.server.set_service(str(port))
        self.server.get_thread_pool().set_max_threads(64)
        self.mounts = self.server.get_mount_points()
        self.auth = auth is not None
        if auth is not None:
            self._setup_auth(auth, auth_method)

    @staticmethod
    def _buffer(data: bytes, duration: int) -> Gst.Buffer:
        buffer = Gst.Buffer.new_wrapped(data)
        buffer.duration = duration
        return buffer

    def _setup_auth(self, credentials: str, method: str) -> None:
        user, _, password = credentials.partition(":")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        auth.add_digest(user, password, token)
        # one method at a time: PyGObject won't OR the GstRTSPAuthMethod enum
        methods = GstRtsp.RTSPAuthMethod
        auth.set_supported_methods(methods.DIGEST if method == "digest" else methods.BASIC)
        # no default token: an anonymous request gets 401 and a challenge, like a real camera (with a default
        # token it would be "authenticated" as nobody and get 404, and clients would never send credentials)
        self.server.set_auth(auth)

    # -- mount points (main loop thread) --

    def _factory(self, camera: Camera) -> GstRtspServer.RTSPMediaFactory:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(LAUNCH)
        factory.set_shared(True)
        factory.connect("media-configure", self._on_media_configure, camera)
        if self.auth:
            factory.add_role_from_structure(Gst.Structure.new_from_string(
                "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
        return factory

    def start(self, name: str) -> None:
        camera = self.cameras.setdefault(name, Camera(name))
        if camera.active:
            return
        self.mounts.add_factory(f"/{name}", self._factory(camera))
        camera.active = True

    def stop(self, name: str) -> None:
        camera = self.cameras[name]
        if not camera.active:
            return
        camera.active = False
        self.mounts.remove_factory(f"/{name}")
        with self.lock:
            medias = list(camera.medias)
            camera.feeds.clear()
            camera.medias.clear()

        def kick(_server: GstRtspServer.RTSPServer, client: GstRtspServer.RTSPClient,
                 *_data: object) -> GstRtspServer.RTSPFilterResult:
            for session in client.session_filter(None):
                if any(sm.get_media() in medias for sm in session.filter(None)):
                    return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.client_filter(kick)
        for media in medias:
            media.unprepare()

    def _on_media_configure(self, _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia,
                            camera: Camera) -> None:
        appsrc = media.get_element().get_by_name("src")
        appsrc.set_property("caps", self.caps)
        feed = Feed(appsrc)
        with self.lock:
            camera.feeds.append(feed)
            camera.medias.append(media)
        media.connect("unprepared", self._on_unprepared, camera, feed)

    def _on_unprepared(self, media: GstRtspServer.RTSPMedia, camera: Camera, feed: Feed) -> None:
        with self.lock:
            if feed in camera.feeds:
                camera.feeds.remove(feed)
            if media in camera.medias:
                camera.medias.remove(media)

    # -- the one looping reader --

    def pace(self) -> None:
        """Push every live feed its next access unit, ``fps`` times a second, forever."""
        period = 1.0 / self.fps
        count = len(self.frames)
        deadline = time.monotonic()
        while not self.stopping.is_set():
            with self.lock:
                feeds = [feed for camera in self.cameras.values() if camera.active for feed in camera.feeds]
            for feed in feeds:
                running = feed.running_time()
                if running is None:  # pipeline not playing yet: the first frame waits (and stays the first)
                    continue
                buffer = self.frames[feed.position % count].copy()  # shares the memory, copies the duration
                if feed.first is None:
                    feed.first = running
                # a camera stamps frames from its encoder's clock, one frame period apart, however late the
                # pacer pushes them: no arrival jitter in the RTP timestamps
                buffer.pts = buffer.dts = feed.first + feed.position * (Gst.SECOND // self.fps)
                if feed.appsrc.emit("push-buffer", buffer) == Gst.FlowReturn.OK:  # else flushing: offer it again
                    feed.position += 1
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)
            elif delay < -1.0:  # suspended or badly overloaded: don't try to catch up a burst
                deadline = time.monotonic()

    # -- control channel --

    def command(self, line: str, loop: GLib.MainLoop) -> bool:
        words = line.split()
        verb, name = (words + ["", ""])[:2]
        try:
            if verb in ("stop", "start") and name not in self.cameras:
                raise KeyError(f"no camera {name!r}")
            if verb == "stop":
                self.stop(name)
            elif verb in ("start", "add") and name and "/" not in name:
                self.start(name)
            elif verb == "list":
                with self.lock:
                    name = " ".join(f"{c.name}={'on' if c.active else 'off'}:{len(c.medias)}"
                                    for c in self.cameras.values())
            elif verb == "quit":
                loop.quit()
            elif verb:
                raise ValueError(f"bad command {line.strip()!r}")
            else:
                return False
            reply(f"OK {verb} {name}".rstrip())
        except (KeyError, ValueError) as exc:
            reply(f"ERR {exc}")
        return False  # GLib: run once


def reply(text: str) -> None:
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the parent is gone; end of stdin will stop us
        pass


def read_commands(sim: Simulator, loop: GLib.MainLoop) -> None:
    for line in sys.stdin:
        GLib.idle_add(sim.command, line, loop)
    GLib.idle_add(sim.command, "quit", loop)  # parent went away


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clip", required=True, help="raw H.264 Annex B file (.h264)")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--cameras", type=int, default=1, help="mount /cam1 .. /camN")
    parser.add_argument("--names", default="", help="comma-separated extra mount names")
    parser.add_argument("--auth", default=None, metavar="USER:PASS", help="every mount needs these credentials")
    parser.add_argument("--auth-method", choices=("digest", "basic"), default="digest")
    args = parser.parse_args(argv)

    Gst.init(None)
    with open(args.clip, "rb") as handle:
        clip = handle.read()
    sim = Simulator(clip, args.fps, args.address, args.port, args.auth, args.auth_method)
    names = [f"cam{i}" for i in range(1, args.cameras + 1)] + [n for n in args.names.split(",") if n]
    for name in names:
        sim.start(name)

    loop = GLib.MainLoop()
    if sim.server.attach(None) == 0:
        reply(f"ERR cannot listen on {args.address}:{args.port}")
        return 1
    GLib.timeout_add_seconds(2, lambda: sim.server.get_session_pool().cleanup() >= 0)
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, lambda *_: loop.quit() or False)
    pacer = threading.Thread(target=sim.pace, name="pacer", daemon=True)
    pacer.start()
    threading.Thread(target=read_commands, args=(sim, loop), name="stdin", daemon=True).start()
    reply(f"READY {sim.server.get_bound_port()}")
    try:
        loop.run()
    finally:
        sim.stopping.set()
        pacer.join(timeout=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
