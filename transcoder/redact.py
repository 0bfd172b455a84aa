"""Credentials never leave the worker: camera URLs and ffmpeg's messages lose their secrets here."""

from __future__ import annotations

from contract.redaction import redact_text, url_secrets

__all__ = ["redact", "url_secrets"]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove URL credentials, secret query values and any of ``secrets`` (e.g. a camera's password)."""
    return redact_text(text, secrets)
