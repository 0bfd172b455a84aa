"""One ``Settings`` object, built from ``PANTAU_*`` environment variables.

Nothing here reads the environment at import time: ``Settings.from_env(os.environ)`` is called by
``create_app`` (or a test builds ``Settings(...)`` directly).
"""

from __future__ import annotations

import dataclasses
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import media as contract

PREFIX = "PANTAU_"
ENVIRONMENTS = ("development", "demo", "test", "production")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it, never its value."""


def _to_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false")


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    secret_key: str = ""
    database_url: str = ""
    instance_path: str = "var"
    media_root: str = "var/media"
    worker_token: str = ""
    serve_media: bool = True
    allow_file_sources: bool = False
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "&copy; OpenStreetMap contributors"
    map_center_lat: float = -3.9700
    map_center_lon: float = 122.5150
    map_zoom: int = 13
    default_locale: str = "id"
    city_name: str = "Kota Kendari"
    sync_interval_s: int = 5
    lease_seconds: int = 30
    segment_seconds: int = contract.SEGMENT_SECONDS  # live HLS cuts on keyframes: max(this, the camera's GOP)
    hls_list_size: int = contract.HLS_LIST_SIZE
    record_segment_seconds: int = contract.RECORD_SEGMENT_SECONDS
    snapshot_interval_s: int = contract.SNAPSHOT_INTERVAL_S
    live_timeout_s: int = 300
    timezone: str = "Asia/Makassar"
    session_idle_minutes: int = 30  # a signed-in session ends after this long without a request
    session_max_hours: int = 12  # and after this long in any case
    second_factor: str = "auto"  # admins and police need TOTP: auto (in production), on, off (not in production)
    ratelimit_storage_uri: str = "memory://"  # sign-in lockout counters; redis:// or memcached:// for many processes
    lockout_account_limits: str = "5 per 5 minutes;10 per hour;20 per day"  # failed sign-ins per username
    lockout_address_limits: str = "20 per 5 minutes;60 per hour;200 per day"  # failed sign-ins per address
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            raw = environ.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            default = f.default
            try:
                if isinstance(default, bool):
                    values[f.name] = _to_bool(f.name.upper(), raw)
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                if isinstance(exc, SettingsError):
                    raise
                raise SettingsError(f"{PREFIX}{f.name.upper()} must be a number") from None
        return cls(**values).validated()

    def validated(self) -> Settings:
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"{PREFIX}ENV must be one of {', '.join(ENVIRONMENTS)}")
        if self.env == "production":
            for name in ("secret_key", "worker_token", "database_url"):
                if not getattr(self, name):
                    raise SettingsError(f"{PREFIX}{name.upper()} is required in production")
            if self.allow_file_sources:
                raise SettingsError(f"{PREFIX}ALLOW_FILE_SOURCES is only for demo mode")
        if self.second_factor not in ("auto", "on", "off"):
            raise SettingsError(f"{PREFIX}SECOND_FACTOR must be auto, on or off")
        if self.env == "production" and self.second_factor == "off":
            raise SettingsError(f"{PREFIX}SECOND_FACTOR cannot be off in production")
        if self.session_idle_minutes < 1 or self.session_max_hours < 1:
            raise SettingsError(f"{PREFIX}SESSION_IDLE_MINUTES and SESSION_MAX_HOURS must be at least 1")
        if self.live_timeout_s < 0:
            raise SettingsError(f"{PREFIX}LIVE_TIMEOUT_S cannot be negative (0 means never pause)")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"{PREFIX}TIMEZONE must be an IANA time zone such as Asia/Makassar") from None
        changes: dict[str, Any] = {}
        if not self.secret_key:
            changes["secret_key"] = secrets.token_hex(32)
        if not self.database_url:
            path = Path(self.instance_path).resolve() / "pantau.db"
            changes["database_url"] = f"sqlite:///{path}"
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def second_factor_required(self) -> bool:
        """Do admins and police need a second factor to sign in?"""
        return self.second_factor == "on" or (self.second_factor == "auto" and self.env == "production")

    @property
    def media_path(self) -> Path:
        return Path(self.media_root).resolve()
