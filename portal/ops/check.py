"""``pantau check``: is this a production configuration that will work and is safe? Before start-up.

Each check gives findings: ``fail`` (will not work or is unsafe: exit 1), ``warn`` (works, but look at it) or
``ok``. Messages name settings, files and hosts, never a secret's value (the database URL's password, keys,
tokens). The systemd unit runs it as ``ExecStartPre``, so a broken configuration says what is wrong in the
journal instead of failing later.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from portal.settings import PREFIX, Settings, SettingsError

FAIL, WARN, OK = "fail", "warn", "ok"
MIN_SECRET_KEY = 32
EXPIRY_WARNING = dt.timedelta(days=14)
DEFAULT_TILES = "tile.openstreetmap.org"


@dataclass(frozen=True)
class Finding:
    level: str
    topic: str
    message: str

    def line(self) -> str:
        return f"{self.level.upper():4}  {self.topic}: {self.message}"


@dataclass(frozen=True)
class Options:
    """What the environment alone cannot say: the web processes per machine and the TLS files."""

    processes: int = 1
    tls_certificate: Path | None = None
    tls_key: Path | None = None


def run_checks(environ: Mapping[str, str], options: Options) -> list[Finding]:
    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        return [Finding(FAIL, "settings", str(exc))]
    findings = list(_settings_checks(settings, environ, options))
    findings += _file_checks(settings)
    findings += _tls_checks(settings, options)
    findings += _database_checks(settings)
    return findings


# -- settings --

def _settings_checks(s: Settings, environ: Mapping[str, str], options: Options) -> Iterator[Finding]:
    if s.env != "production":
        yield Finding(WARN, "env", f"{PREFIX}ENV is {s.env!r}; checked as a production configuration anyway")
    raw_key = environ.get(PREFIX + "SECRET_KEY", "")
    if not raw_key:
        yield Finding(FAIL, "secret key", f"{PREFIX}SECRET_KEY is not set: each process would make its own and "
                                          "sessions would end at random")
    elif len(raw_key) < MIN_SECRET_KEY:
        yield Finding(FAIL, "secret key", f"{PREFIX}SECRET_KEY is shorter than {MIN_SECRET_KEY} characters "
                                          "(make one with: python3 -c 'import secrets; print(secrets.token_hex(32))')")
    else:
        yield Finding(OK, "secret key", "set")

    host = urlsplit(s.public_url).hostname or ""
    if not s.public_url:
        yield Finding(FAIL, "public url", f"{PREFIX}PUBLIC_URL is not set (every absolute link is made from it)")
    elif not s.public_url.startswith("https://"):
        yield Finding(FAIL, "public url", f"{PREFIX}PUBLIC_URL must be https:// in production (cookies are Secure, "
                                          "HSTS is sent)")
    else:
        yield Finding(OK, "public url", s.public_url)

    hosts = s.trusted_host_list
    if not hosts:
        yield Finding(FAIL, "trusted hosts", f"{PREFIX}TRUSTED_HOSTS is empty: any Host header is accepted")
    elif host and host not in hosts:
        yield Finding(FAIL, "trusted hosts", f"{PREFIX}TRUSTED_HOSTS does not include {host} (the host of "
                                             f"{PREFIX}PUBLIC_URL): people would get 400")
    else:
        yield Finding(OK, "trusted hosts", ", ".join(hosts))

    if s.proxy_count == 0:
        yield Finding(WARN, "proxies", f"{PREFIX}PROXY_COUNT is 0: behind nginx set 1, or every client is logged "
                                       "and rate limited as nginx's address and https is not seen")
    if s.hsts_seconds <= 0:
        yield Finding(WARN, "hsts", f"{PREFIX}HSTS_SECONDS is 0: browsers are not told to keep to https")
    if s.serve_media:
        yield Finding(WARN, "media", f"{PREFIX}SERVE_MEDIA is on: in production nginx serves media from disk; "
                                     "set it to false")
    if not s.media_link_secret:
        yield Finding(WARN, "media links", f"{PREFIX}MEDIA_LINK_SECRET is not set: every viewer's playlist asks the "
                                           "portal (nginx auth_request), so a portal or database restart stalls "
                                           "live video; set it, and give nginx the same secret (docs/deploy.md)")
    else:
        yield Finding(OK, "media links", "signed media links for public cameras")
    if DEFAULT_TILES in s.tile_url:
        yield Finding(WARN, "map tiles", f"{PREFIX}TILE_URL is OpenStreetMap's own tile server, whose usage policy "
                                         "forbids heavy use: use a tile provider or your own")
    if s.metrics_token and len(s.metrics_token) < 16:
        yield Finding(WARN, "metrics", f"{PREFIX}METRICS_TOKEN is shorter than 16 characters")
    if any(n.prefixlen == 0 for n in s.metrics_network_list):
        yield Finding(FAIL, "metrics", f"{PREFIX}METRICS_NETWORKS opens /metrics to every address")
    if s.worker_network_list is None:
        yield Finding(WARN, "worker api", f"{PREFIX}WORKER_NETWORKS is empty: the worker API answers any network "
                                          "(a worker credential is still needed)")

    storage = s.ratelimit_storage_uri
    if storage.startswith("memory://"):
        if options.processes > 1:
            yield Finding(FAIL, "rate limits", f"{PREFIX}RATELIMIT_STORAGE_URI is memory:// with {options.processes} "
                                               "web processes: each counts alone, so lockouts are weaker by that "
                                               "factor; use redis:// or memcached://")
        else:
            yield Finding(OK, "rate limits", "memory:// with one web process")
    else:
        yield _storage_reachable(storage)


def _storage_reachable(uri: str) -> Finding:
    try:
        from limits.storage import storage_from_string

        reachable = bool(storage_from_string(uri).check())
    except Exception as exc:  # a driver missing, a bad URI, a refused connection: all mean it does not work
        return Finding(FAIL, "rate limits", f"{PREFIX}RATELIMIT_STORAGE_URI cannot be used: {type(exc).__name__}")
    if not reachable:
        return Finding(FAIL, "rate limits", f"{PREFIX}RATELIMIT_STORAGE_URI does not answer")
    return Finding(OK, "rate limits", f"{urlsplit(uri).scheme}:// answers")


# -- files --

def _private(path: Path) -> bool:
    return not (path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _file_checks(s: Settings) -> Iterator[Finding]:
    instance = Path(s.instance_path).resolve()
    if not instance.is_dir() or not os.access(instance, os.W_OK):
        yield Finding(FAIL, "instance", f"{instance} ({PREFIX}INSTANCE_PATH) is not a writable folder")
    key = s.evidence_key_path
    yield from _signing_key(key)
    media = s.media_path
    if media.is_dir():
        if not os.access(media, os.R_OK | os.X_OK):
            yield Finding(FAIL, "media", f"{media} ({PREFIX}MEDIA_ROOT) cannot be read by this user")
        else:
            yield Finding(OK, "media", str(media))
    elif s.serve_media:
        yield Finding(FAIL, "media", f"{media} ({PREFIX}MEDIA_ROOT) does not exist")
    else:
        yield Finding(WARN, "media", f"no {media} on this machine: fine when media nodes serve all media")


def _signing_key(key: Path) -> Iterator[Finding]:
    from portal.footage.evidence import EvidenceKeyError, load_private_key

    if not key.is_file():
        yield Finding(FAIL, "signing key", f"no evidence signing key at {key}: run `pantau keys generate` once "
                                           "(and back it up)")
        return
    if not _private(key):
        yield Finding(FAIL, "signing key", f"{key} can be read by other users: chmod 600 {key}")
    if key.stat().st_uid != os.geteuid():
        yield Finding(WARN, "signing key", f"{key} belongs to another user than the one running the portal")
    try:
        load_private_key(key)
    except EvidenceKeyError as exc:
        yield Finding(FAIL, "signing key", str(exc))
        return
    yield Finding(OK, "signing key", str(key))


# -- TLS --

def _tls_checks(s: Settings, options: Options) -> Iterator[Finding]:
    if options.tls_certificate is None and options.tls_key is None:
        yield Finding(WARN, "tls", "not checked: give --tls-certificate and --tls-key (or PANTAU_TLS_CERTIFICATE "
                                   "and PANTAU_TLS_KEY), the files nginx is configured with")
        return
    if options.tls_certificate is None or options.tls_key is None:
        yield Finding(FAIL, "tls", "give both the certificate and its key")
        return
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_path, key_path = options.tls_certificate, options.tls_key
    try:
        certificate = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    except (OSError, ValueError, IndexError) as exc:
        yield Finding(FAIL, "tls", f"{cert_path} is not a readable PEM certificate ({type(exc).__name__})")
        return
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        yield Finding(FAIL, "tls", f"{key_path} is not a readable unencrypted PEM key ({type(exc).__name__})")
        return
    if not _private(key_path):
        yield Finding(FAIL, "tls", f"{key_path} can be read by other users: chmod 600 {key_path}")
    public_der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*public_der) != certificate.public_key().public_bytes(*public_der):
        yield Finding(FAIL, "tls", f"{key_path} is not the key of {cert_path}")
    now = dt.datetime.now(dt.UTC)
    ends = certificate.not_valid_after_utc
    if ends <= now or certificate.not_valid_before_utc > now:
        yield Finding(FAIL, "tls", f"{cert_path} is not valid now (valid until {ends:%Y-%m-%d})")
    elif ends - now < EXPIRY_WARNING:
        yield Finding(WARN, "tls", f"{cert_path} expires on {ends:%Y-%m-%d}: is renewal running?")
    host = urlsplit(s.public_url).hostname
    if host and not _covers(certificate, host):
        yield Finding(FAIL, "tls", f"{cert_path} does not cover {host} (the host of {PREFIX}PUBLIC_URL)")
    else:
        yield Finding(OK, "tls", f"{cert_path} valid until {ends:%Y-%m-%d}")


def _covers(certificate: object, host: str) -> bool:
    from cryptography import x509

    assert isinstance(certificate, x509.Certificate)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return address in names.get_values_for_type(x509.IPAddress)
    for name in names.get_values_for_type(x509.DNSName):
        name = name.lower()
        if name == host.lower() or (name.startswith("*.") and host.lower().split(".", 1)[-1] == name[2:]):
            return True
    return False


# -- database --

def _database_checks(s: Settings) -> Iterator[Finding]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        url = make_url(s.database_url)
    except Exception:
        yield Finding(FAIL, "database", f"{PREFIX}DATABASE_URL is not a database URL")
        return
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        yield Finding(WARN, "database", "SQLite: fine on one machine; several machines need PostgreSQL")
    engine = create_engine(url, hide_parameters=True, pool_pre_ping=True,
                           connect_args={"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            yield Finding(OK, "database", f"reachable: {where}")
            yield from _migrated(conn)
            yield from _workers(conn)
    except Exception as exc:
        yield Finding(FAIL, "database", f"cannot use {where}: {type(exc).__name__}")
    finally:
        engine.dispose()


def _migrated(conn: object) -> Iterator[Finding]:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from portal.app import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    current = set(MigrationContext.configure(conn).get_current_heads())  # type: ignore[arg-type]
    if current == heads:
        yield Finding(OK, "migrations", f"at {', '.join(sorted(heads))}")
    elif not current:
        yield Finding(FAIL, "migrations", "the database is empty: run `pantau db upgrade`")
    else:
        yield Finding(FAIL, "migrations", f"the database is at {', '.join(sorted(current))}, this code needs "
                                          f"{', '.join(sorted(heads))}: run `pantau db upgrade`")


def _workers(conn: object) -> Iterator[Finding]:
    from sqlalchemy import func, select

    from portal.models import Worker

    try:
        count = conn.execute(  # type: ignore[attr-defined]
            select(func.count()).select_from(Worker).where(Worker.credential_hash.is_not(None))).scalar()
    except Exception:
        return  # no workers table yet: the migration finding says why
    if not count:
        yield Finding(FAIL, "workers", "no worker has a credential: `pantau workers add NAME --credential-file ...` "
                                       "for each media node")
    else:
        yield Finding(OK, "workers", f"{count} with a credential")


def report(findings: list[Finding], echo: Callable[[str], None], *, quiet: bool = False) -> tuple[int, int]:
    for finding in findings:
        if not (quiet and finding.level == OK):
            echo(finding.line())
    fails = sum(f.level == FAIL for f in findings)
    warns = sum(f.level == WARN for f in findings)
    echo(f"{fails} problem(s), {warns} warning(s)" if fails or warns else "all checks passed")
    return fails, warns
