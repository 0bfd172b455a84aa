"""The webhook signature (docs/dispatch-webhooks.md): HMAC-SHA256 with the agency's shared secret over
``<timestamp>.<delivery id>.<body>``, sent as ``X-Pantau-Signature: v1=<hex>`` with ``X-Pantau-Timestamp`` (Unix
seconds) and ``X-Pantau-Delivery``. A receiver refuses a timestamp older than its tolerance (replays) and keeps
delivery ids to apply each message once (a message may arrive more than once: delivery is at least once)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Pantau-Signature"
TIMESTAMP_HEADER = "X-Pantau-Timestamp"
DELIVERY_HEADER = "X-Pantau-Delivery"
EVENT_HEADER = "X-Pantau-Event"
TOLERANCE_S = 300


def signature(secret: str, timestamp: int, delivery_id: str, body: bytes) -> str:
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers(secret: str | None, delivery_id: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    out = {TIMESTAMP_HEADER: str(timestamp), DELIVERY_HEADER: delivery_id}
    if secret:
        out[SIGNATURE_HEADER] = signature(secret, timestamp, delivery_id, body)
    return out


def verify(secret: str, received: dict[str, str], body: bytes, *, now: float | None = None,
           tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does (and the tests): the signature matches and the timestamp is recent."""
    lowered = {k.lower(): v for k, v in received.items()}
    try:
        timestamp = int(lowered[TIMESTAMP_HEADER.lower()])
        delivery_id = lowered[DELIVERY_HEADER.lower()]
        given = lowered[SIGNATURE_HEADER.lower()]
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, delivery_id, body))
