"""A real agency receiver for dispatch tests and the bench: a threaded ``http.server`` on 127.0.0.1 that checks
each delivery's HMAC signature, validates CAP XML against the OASIS CAP 1.2 schema (lxml), and keeps delivery
ids so a message that arrives twice is applied once (what a well-behaved agency system does)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from portal.dispatch import signing
from portal.dispatch.cap import SCHEMA


def cap_schema() -> Any:
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA)))


@dataclass
class Received:
    delivery_id: str
    path: str
    content_type: str
    body: bytes
    at: float
    headers: dict[str, str]


@dataclass
class Receiver:
    secret: str | None = None
    validate_cap: bool = True
    received: list[Received] = field(default_factory=list)  # every arrival, duplicates included
    applied: dict[str, Received] = field(default_factory=dict)  # delivery id -> the one applied
    refused: list[str] = field(default_factory=list)  # why (bad signature, invalid CAP)
    hold_s: float = 0.0  # answer this long after receiving (the kill-mid-delivery test)
    fail_status: int | None = None  # answer every request with this (a receiver in trouble)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    port: int = 0

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items()}
                status, why = receiver.take(self.path, headers, body)
                if receiver.hold_s:
                    time.sleep(receiver.hold_s)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(why.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def take(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        if self.fail_status:
            return self.fail_status, "unavailable"
        delivery_id = headers.get(signing.DELIVERY_HEADER, "")
        content_type = headers.get("Content-Type", "")
        if self.secret is not None and not signing.verify(self.secret, headers, body):
            with self.lock:
                self.refused.append(f"bad signature {delivery_id}")
            return 401, "bad signature"
        if "cap+xml" in content_type and self.validate_cap:
            from lxml import etree

            schema = cap_schema()
            document = etree.fromstring(body)
            if not schema.validate(document):
                with self.lock:
                    self.refused.append(f"invalid CAP {delivery_id}: {schema.error_log.last_error}")
                return 400, "invalid CAP"
        item = Received(delivery_id, path, content_type, body, time.time(), headers)
        with self.lock:
            self.received.append(item)
            self.applied.setdefault(delivery_id, item)
        return 200, "ok"

    def json_bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(r.body) for r in self.applied.values() if "json" in r.content_type]

    def caps(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.applied.values() if "cap+xml" in r.content_type]
