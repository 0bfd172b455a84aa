#!/usr/bin/python3
"""Simulated cameras of many kinds in one process: GStreamer RTSP servers serving clips with the file's own
timestamps (``filesrc ! qtdemux ! h264parse ! rtph264pay``), as Hikvision, Dahua or Uniview cameras send them.

Run with Debian's ``/usr/bin/python3`` (a venv Python can't import ``gi``); ``tests/support/camera_sim.py``
does that. Three servers, each on its own port: ``open`` (no login), ``basic`` and ``digest`` (RTSP Basic or
Digest authentication with ``--user``/``--password``: anonymous requests get 401 and a challenge). Every
mount is on every server.

``--mount NAME=CODEC:AUDIO:PATH`` (repeated): CODEC ``h264`` or ``h265``, AUDIO ``none``, ``aac``, ``pcma``
or ``pcmu``, PATH a QuickTime file (``tests/support/camera_clips.py``). Each client gets its own pipeline from
the start of the clip (nothing is restamped, so B-frames arrive in decode order with their own times).

Prints ``READY open=<port> basic=<port> digest=<port>`` once listening; stops at end of stdin or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

VIDEO = {
    "h264": "h264parse ! rtph264pay name=pay0 pt=96 config-interval=1",
    "h265": "h265parse ! rtph265pay name=pay0 pt=96 config-interval=1",
}
AUDIO = {
    "none": "",
    "aac": "d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97",
    "pcma": "d.audio_0 ! queue ! rtppcmapay name=pay1",
    "pcmu": "d.audio_0 ! queue ! rtppcmupay name=pay1",
}


def launch(codec: str, audio: str, path: str) -> str:
    location = path.replace('"', "")
    return (f'( filesrc location="{location}" ! qtdemux name=d d.video_0 ! queue ! {VIDEO[codec]} '
            f"{AUDIO[audio]} )")


def make_server(address: str, mounts: dict[str, str], auth: str | None, user: str, password: str
                ) -> GstRtspServer.RTSPServer:
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service("0")
    server.get_thread_pool().set_max_threads(32)
    if auth is not None:
        rtsp_auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        rtsp_auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        rtsp_auth.add_digest(user, password, token)
        methods = GstRtsp.RTSPAuthMethod
        rtsp_auth.set_supported_methods(methods.DIGEST if auth == "digest" else methods.BASIC)
        server.set_auth(rtsp_auth)
    points = server.get_mount_points()
    for name, description in mounts.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(description)
        factory.set_shared(False)
        if auth is not None:
            factory.add_role_from_structure(Gst.Structure.new_from_string(
                "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
        points.add_factory(f"/{name}", factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on {address}")
    GLib.timeout_add_seconds(2, lambda: server.get_session_pool().cleanup() >= 0)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mount", action="append", default=[], metavar="NAME=CODEC:AUDIO:PATH")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="kamera123")
    args = parser.parse_args(argv)
    Gst.init(None)
    mounts = {}
    for item in args.mount:
        name, _, rest = item.partition("=")
        codec, audio, path = rest.split(":", 2)
        mounts[name] = launch(codec, audio, path)
    servers = {kind: make_server(args.address, mounts, None if kind == "open" else kind, args.user, args.password)
               for kind in ("open", "basic", "digest")}
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, lambda *_: loop.quit() or False)

    def watch_stdin() -> None:
        for _ in sys.stdin:
            pass
        GLib.idle_add(lambda: loop.quit() or False)  # the parent went away

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("READY " + " ".join(f"{k}={s.get_bound_port()}" for k, s in servers.items()), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
