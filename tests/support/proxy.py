"""A TCP proxy in front of a simulated camera that can freeze: the camera hangs without closing anything.

    proxy = FreezableProxy(("127.0.0.1", sim.port))
    url = proxy.url("cam1")      # give this to the worker
    proxy.freeze(); proxy.thaw(); proxy.close()
"""

from __future__ import annotations

import select
import socket
import threading

from tests.support.tools import free_port


class FreezableProxy:
    """Forwards one local port to the simulator. ``freeze()``: connections stay open but every byte is
    dropped both ways (the camera stops sending without closing), and the port stops accepting (new
    connections are refused). ``thaw()``: the port accepts and forwards again; frozen connections stay
    dead until their client closes them, like half-open TCP after a network outage."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.frozen = False
        self._lock = threading.Lock()
        self._conns: list[_Pair] = []
        self._listener: socket.socket | None = None
        self._closed = False
        self._listen()

    def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), name=f"proxy-{self.port}", daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = _Pair(client, upstream)
            with self._lock:
                if self.frozen or self._closed:
                    pair.dead = True
                self._conns = [c for c in self._conns if not c.done] + [pair]
            threading.Thread(target=pair.pump, name=f"proxy-pair-{self.port}", daemon=True).start()

    def url(self, path: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{path}"

    def freeze(self) -> None:
        with self._lock:
            self.frozen = True
            for pair in self._conns:
                pair.dead = True
            listener, self._listener = self._listener, None
        if listener is not None:
            _shutdown(listener)

    def cut(self) -> None:
        """A restart of what is behind the proxy: every connection closed, new ones refused until ``thaw()``."""
        self.freeze()
        with self._lock:
            pairs = list(self._conns)
        for pair in pairs:
            pair.close()

    def thaw(self) -> None:
        with self._lock:
            self.frozen = False
        self._listen()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            listener, self._listener = self._listener, None
            pairs = list(self._conns)
        if listener is not None:
            _shutdown(listener)
        for pair in pairs:
            pair.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class _Pair:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.dead = False  # frozen: read and drop
        self.done = False

    def pump(self) -> None:
        peer = {self.client: self.upstream, self.upstream: self.client}
        try:
            while not self.done:
                readable, _, _ = select.select(list(peer), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if not self.dead:
                        peer[sock].sendall(data)
        except OSError:
            return
        finally:
            self.close()

    def close(self) -> None:
        self.done = True
        for sock in (self.client, self.upstream):
            try:
                sock.close()
            except OSError:
                pass
