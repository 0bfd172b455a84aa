"""Keeping secrets off pages, logs and error messages: URL credentials (shared patterns) and token comparison."""

from __future__ import annotations

import hmac

from contract.redaction import redact_text, redact_url

__all__ = ["redact_text", "redact_url", "tokens_equal"]


def tokens_equal(given: str | None, expected: str) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
