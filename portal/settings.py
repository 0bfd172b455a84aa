"""One ``Settings`` object, built from ``PANTAU_*`` environment variables.

Nothing here reads the environment at import time: ``Settings.from_env(os.environ)`` is called by
``create_app`` (or a test builds ``Settings(...)`` directly).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contract import media as contract
from contract import worker_api
from portal import networks

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
    serve_media: bool = True
    allow_file_sources: bool = False
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "&copy; OpenStreetMap contributors"
    map_center_lat: float = -3.9700
    map_center_lon: float = 122.5150
    map_zoom: int = 13
    default_locale: str = "id"
    city_name: str = "Kota Kendari"
    sync_interval_s: int = worker_api.SYNC_INTERVAL_S
    lease_seconds: int = worker_api.LEASE_SECONDS
    segment_seconds: int = contract.SEGMENT_SECONDS  # live HLS cuts on keyframes: max(this, the camera's GOP)
    hls_list_size: int = contract.HLS_LIST_SIZE
    record_segment_seconds: int = contract.RECORD_SEGMENT_SECONDS
    snapshot_interval_s: int = contract.SNAPSHOT_INTERVAL_S  # while someone looks at the camera
    snapshot_idle_interval_s: int = contract.SNAPSHOT_IDLE_INTERVAL_S  # while nobody does
    live_timeout_s: int = 300
    db_wait_s: int = 15  # a worker API request that meets a lost database connection is replayed this long
    timezone: str = "Asia/Makassar"
    session_idle_minutes: int = 30  # a signed-in session ends after this long without a request
    session_max_hours: int = 12  # and after this long in any case
    second_factor: str = "auto"  # admins and police need TOTP: auto (in production), on, off (not in production)
    ratelimit_storage_uri: str = "memory://"  # sign-in lockout counters; redis:// or memcached:// for many processes
    lockout_account_limits: str = "5 per 5 minutes;10 per hour;20 per day"  # failed sign-ins per username
    lockout_address_limits: str = "20 per 5 minutes;60 per hour;200 per day"  # failed sign-ins per address
    # The front door: the address people use (every absolute link is made from it, never from the Host
    # header), the host names accepted (comma-separated; empty: any), and how many proxies (nginx, a load
    # balancer) stand in front and may be believed about the client's address and scheme.
    public_url: str = ""
    trusted_hosts: str = ""
    proxy_count: int = 0
    hsts_seconds: int = 31536000  # Strict-Transport-Security in production (0: not sent)
    max_body_bytes: int = 1024 * 1024  # request bodies outside the worker API (nginx and gunicorn agree)
    # Machine endpoints: /metrics for these networks or with the metrics token; the worker API for these
    # networks only (empty: any network; a worker's own credential is always required).
    metrics_networks: str = "127.0.0.0/8,::1/128"
    metrics_token: str = ""
    worker_networks: str = ""
    # Media nodes (docs/media-nodes.md): the origins workers may name as their public media address (the sync's
    # worker.media_url), comma-separated, e.g. "https://media1.example.go.id,https://media2.example.go.id". They
    # join the Content-Security-Policy (media-src, connect-src, img-src). Empty: media only from the portal itself.
    media_origins: str = ""
    # Footage for the police (portal/footage): the city's Ed25519 signing key, a file outside the database
    # (default <instance>/keys/evidence-ed25519.pem, made by `pantau keys generate`), how long holds, links and
    # export files last, the largest request, and the public forms' rate limits (Flask-Limiter syntax,
    # counted in RATELIMIT_STORAGE_URI).
    evidence_key: str = ""
    # Signed media links (portal.media.links): the secret nginx and the portal share (empty: every media request
    # is checked by the portal, as without them); a link lasts 2 to 3 steps of media_link_seconds.
    media_link_secret: str = field(default="", repr=False)
    media_link_seconds: int = 20
    footage_hold_days: int = 90  # a police request's hold lasts at least this long, and past its export's expiry
    resident_hold_days: int = 14  # a resident's hold, unless a police request takes it over
    export_days: int = 7  # download links and exported files
    footage_max_hours: int = 24
    footage_max_cameras: int = 10
    resident_rate_limit: str = "5 per hour;20 per day"
    verify_rate_limit: str = "30 per hour"
    verify_max_bytes: int = 4 * 1024**3  # a file uploaded to /verifikasi to be hashed (the page hashes in the browser)
    # Dispatch delivery (portal/dispatch, ``pantau jobs``): the CAP sender id, e-mail through SMTP, the outbox's
    # retries (exponential backoff from base to max, then given up after max attempts), a claim's lease (a
    # killed jobs process's messages are taken over after it), the loop's pause, and the SLA escalation step
    # (the officials hear of a dispatch this long after its supervisor did).
    cap_sender: str = "pantau@kendarikota.go.id"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "pantau@kendarikota.go.id"
    outbox_lease_s: int = 60
    outbox_backoff_base_s: float = 2.0
    outbox_backoff_max_s: float = 300.0
    outbox_max_attempts: int = 40
    delivery_timeout_s: float = 10.0
    jobs_interval_s: float = 0.5
    escalation_step_minutes: int = 15
    # Categories dispatched by the jobs process as soon as they are received, before an operator verifies
    # them ("fire,medical"; "*": every category; empty: none, the operator verifies first). Flagged
    # (suspicious) reports always wait for an operator.
    auto_dispatch_categories: str = ""
    # Reports from the public (portal/reports): the city's outline ("lon lat, lon lat, ..."; empty: Kendari's),
    # the /lapor form's flood guard per address (Flask-Limiter syntax), reports per phone and per address an
    # hour (all ways in), how many reports from one phone/address in 30 minutes get flagged, and the photos.
    report_area: str = ""
    report_rate_limit: str = "20 per hour;60 per day"
    report_phone_per_hour: int = 5
    report_address_per_hour: int = 15
    report_flag_repeat: int = 3
    report_max_photos: int = 3
    report_photo_max_bytes: int = 10 * 1024 * 1024
    # The 112 console (portal/console): verifying a report dispatches it at once to the agencies its routing
    # rules choose when AUTO_DISPATCH_ON_VERIFY; a report not dispatched DISPATCH_SLA_S after it arrived shows
    # as overdue in the operators' queue.
    auto_dispatch_on_verify: bool = False
    dispatch_sla_s: int = 120
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
            for name in ("secret_key", "database_url", "public_url"):
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
        if not 0 <= self.db_wait_s <= 60:
            raise SettingsError(f"{PREFIX}DB_WAIT_S must be between 0 (never wait) and 60 seconds")
        if self.live_timeout_s < 0:
            raise SettingsError(f"{PREFIX}LIVE_TIMEOUT_S cannot be negative (0 means never pause)")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"{PREFIX}TIMEZONE must be an IANA time zone such as Asia/Makassar") from None
        _check_public_url(self.public_url)
        if self.proxy_count < 0 or self.proxy_count > 5:
            raise SettingsError(f"{PREFIX}PROXY_COUNT must be between 0 and 5")
        if self.max_body_bytes < 1024:
            raise SettingsError(f"{PREFIX}MAX_BODY_BYTES must be at least 1024")
        for name in ("metrics_networks", "worker_networks"):
            try:
                networks.parse(getattr(self, name))
            except ValueError as exc:
                raise SettingsError(f"{PREFIX}{name.upper()}: {exc}") from None
        try:
            _media_origins(self.media_origins)
        except ValueError as exc:
            raise SettingsError(f"{PREFIX}MEDIA_ORIGINS: {exc}") from None
        for name in ("footage_hold_days", "resident_hold_days", "export_days", "footage_max_hours",
                     "footage_max_cameras"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1")
        for name in ("report_phone_per_hour", "report_address_per_hour", "report_flag_repeat", "report_max_photos"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1")
        if self.report_photo_max_bytes < 64 * 1024:
            raise SettingsError(f"{PREFIX}REPORT_PHOTO_MAX_BYTES must be at least 65536")
        if self.report_area:
            try:
                _parse_area(self.report_area)
            except ValueError:
                raise SettingsError(f"{PREFIX}REPORT_AREA must be 'lon lat, lon lat, ...' (three corners or more)"
                                    ) from None
        if self.media_link_secret and not re.fullmatch(r"[A-Za-z0-9_-]{32,128}", self.media_link_secret):
            raise SettingsError(f"{PREFIX}MEDIA_LINK_SECRET must be 32 to 128 letters, digits, '-' or '_'")
        if not 5 <= self.media_link_seconds <= 600:
            raise SettingsError(f"{PREFIX}MEDIA_LINK_SECONDS must be between 5 and 600")
        if self.dispatch_sla_s < 10:
            raise SettingsError(f"{PREFIX}DISPATCH_SLA_S must be at least 10")
        changes: dict[str, Any] = {}
        if not self.secret_key:
            changes["secret_key"] = secrets.token_hex(32)
        if self.public_url.endswith("/"):
            changes["public_url"] = self.public_url.rstrip("/")
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

    @property
    def evidence_key_path(self) -> Path:
        if self.evidence_key:
            return Path(self.evidence_key).resolve()
        return Path(self.instance_path).resolve() / "keys" / "evidence-ed25519.pem"

    @property
    def trusted_host_list(self) -> list[str] | None:
        hosts = [h.strip() for h in self.trusted_hosts.split(",") if h.strip()]
        return hosts or None

    @property
    def metrics_network_list(self) -> tuple[networks.Network, ...]:
        return networks.parse(self.metrics_networks)

    @property
    def media_origin_list(self) -> tuple[str, ...]:
        return _media_origins(self.media_origins)

    @property
    def worker_network_list(self) -> tuple[networks.Network, ...] | None:
        return networks.parse(self.worker_networks) or None


def _media_origins(text: str) -> tuple[str, ...]:
    """``https://media1.example.go.id, http://127.0.0.2:8081`` -> normalized origins (no paths); ValueError."""
    found: list[str] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        url = contract.normalize_media_url(entry)
        if url != contract.media_origin(url):
            raise ValueError(f"{entry!r} must be an origin (scheme://host[:port]) without a path")
        if url not in found:
            found.append(url)
    if len(found) > 100:
        raise ValueError("at most 100 origins")
    return tuple(found)


def _check_public_url(url: str) -> None:
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or parts.path not in ("", "/") \
            or parts.username or parts.password or not url.isascii() or any(c.isspace() for c in url):
        raise SettingsError(f"{PREFIX}PUBLIC_URL must be an http(s) address such as https://cctv.example.go.id")


def _parse_area(raw: str) -> list[tuple[float, float]]:
    corners = []
    for pair in raw.split(","):
        lon, lat = (float(part) for part in pair.split())
        corners.append((lon, lat))
    if len(corners) < 3:
        raise ValueError("an area needs at least three corners")
    return corners
