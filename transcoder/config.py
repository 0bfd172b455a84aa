"""The worker's own settings, read once from ``PANTAU_*`` environment variables."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contract import worker_api
from contract.media import normalize_media_url


class ConfigError(ValueError):
    pass


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def read_credential(env: Mapping[str, str]) -> str:
    """This worker's own credential (``pantau workers add NAME`` on the portal): from the file named by
    ``PANTAU_WORKER_CREDENTIAL_FILE`` (preferred: not in the process environment) or ``PANTAU_WORKER_CREDENTIAL``."""
    path = env.get("PANTAU_WORKER_CREDENTIAL_FILE")
    if path:
        try:
            credential = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"PANTAU_WORKER_CREDENTIAL_FILE cannot be read: {exc.strerror}") from None
    else:
        credential = env.get("PANTAU_WORKER_CREDENTIAL", "").strip()
    if not credential:
        hint = " (the shared PANTAU_WORKER_TOKEN is gone)" if env.get("PANTAU_WORKER_TOKEN") else ""
        raise ConfigError("PANTAU_WORKER_CREDENTIAL or PANTAU_WORKER_CREDENTIAL_FILE is required: issue this worker "
                          f"its own with `pantau workers add NAME` on the portal{hint}")
    if not credential.isascii() or not credential.isprintable() or len(credential) > 200:
        raise ConfigError("the worker credential is malformed (copy it exactly as `pantau workers add` printed it)")
    return credential


@dataclass(frozen=True)
class WorkerConfig:
    portal_url: str
    credential: str = field(repr=False)
    media_root: Path
    name: str
    capacity: int = 200
    ffmpeg: str | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    tick_s: float = 0.5
    stall_segments: float = 3.0
    stall_min_s: float = 4.0  # past it, an ffmpeg still reading its input gets longer (Timing.stall_grace_factor)
    start_timeout_s: float = 20.0
    stop_timeout_s: float = 5.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    restart_budget_per_hour: int = 60
    probe_interval_s: float = 0.5
    disk_min_free_bytes: int = 2 * 1024**3
    disk_min_free_percent: float = 5.0
    housekeeping_interval_s: float = 5.0
    retention_interval_s: float = 300.0
    retention_max_s: float | None = None  # a cap on every camera's retention (the demo keeps an hour)
    http_timeout_s: float = 25.0  # more than the portal waits for a restarting database (PANTAU_DB_WAIT_S, 15 s)
    lease_grace_s: float = float(worker_api.LEASE_GRACE_S)
    # This node's public media address (docs/media-nodes.md), told to the portal in every sync; "" (the
    # default): viewers get the media from the portal's own /media, as on one machine.
    media_url: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        env = os.environ if environ is None else environ
        portal_url = env.get("PANTAU_PORTAL_URL", "http://127.0.0.1:8000").rstrip("/")
        if not portal_url.startswith(("http://", "https://")):
            raise ConfigError("PANTAU_PORTAL_URL must be an http:// or https:// address")
        credential = read_credential(env)
        media_root = Path(env.get("PANTAU_MEDIA_ROOT", "var/media")).resolve()
        name = env.get("PANTAU_WORKER_NAME") or socket.gethostname()
        metrics = env.get("PANTAU_WORKER_METRICS", "127.0.0.1:9464")
        host, _, port = metrics.rpartition(":")
        try:
            metrics_port = int(port) if metrics not in ("", "off", "0") else 0
        except ValueError:
            raise ConfigError("PANTAU_WORKER_METRICS must be host:port, a port, or off") from None
        media_url = env.get("PANTAU_MEDIA_URL", "").strip()
        if media_url:
            try:
                media_url = normalize_media_url(media_url)
            except ValueError as exc:
                raise ConfigError(f"PANTAU_MEDIA_URL {exc}") from None
        return cls(
            portal_url=portal_url,
            media_url=media_url,
            credential=credential,
            media_root=media_root,
            name=name,
            capacity=_int(env, "PANTAU_WORKER_CAPACITY", 200, minimum=0),
            ffmpeg=env.get("PANTAU_FFMPEG") or None,
            metrics_host=host or "127.0.0.1",
            metrics_port=metrics_port,
            stall_segments=_float(env, "PANTAU_STALL_SEGMENTS", 3.0, minimum=1.0),
            stall_min_s=_float(env, "PANTAU_STALL_MIN_S", 4.0, minimum=1.0),
            start_timeout_s=_float(env, "PANTAU_START_TIMEOUT_S", 20.0, minimum=1.0),
            stop_timeout_s=_float(env, "PANTAU_STOP_TIMEOUT_S", 5.0, minimum=0.1),
            backoff_base_s=_float(env, "PANTAU_BACKOFF_BASE_S", 1.0, minimum=0.1),
            backoff_max_s=_float(env, "PANTAU_BACKOFF_MAX_S", 60.0, minimum=0.1),
            restart_budget_per_hour=_int(env, "PANTAU_RESTART_BUDGET_PER_HOUR", 60, minimum=1),
            probe_interval_s=_float(env, "PANTAU_PROBE_INTERVAL_S", 0.5, minimum=0.2),
            disk_min_free_bytes=_int(env, "PANTAU_DISK_MIN_FREE_BYTES", 2 * 1024**3),
            disk_min_free_percent=_float(env, "PANTAU_DISK_MIN_FREE_PERCENT", 5.0),
            housekeeping_interval_s=_float(env, "PANTAU_HOUSEKEEPING_INTERVAL_S", 5.0, minimum=0.2),
            lease_grace_s=_float(env, "PANTAU_LEASE_GRACE_S", float(worker_api.LEASE_GRACE_S)),
            retention_max_s=_float(env, "PANTAU_RETENTION_MAX_S", 0.0, minimum=0.0) or None,
            retention_interval_s=_float(env, "PANTAU_RETENTION_INTERVAL_S", 300.0, minimum=1.0),
        )
