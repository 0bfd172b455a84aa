"""Render nginx/pantau.conf.template into a working nginx configuration.

    python nginx/render.py --listen 127.0.0.1:8080 --upstream 127.0.0.1:8000 \\
        --media-root var/media --static-root static --runtime-dir var/nginx > var/nginx/nginx.conf
    nginx -c "$PWD/var/nginx/nginx.conf" -p "$PWD/var/nginx" -e "$PWD/var/nginx/error.log" -g 'daemon off;'

A media node (a worker's machine serving its own MEDIA_ROOT, docs/media-nodes.md) renders
``media-node.conf.template`` instead:

    python nginx/render.py --media-node-url https://media1.example.go.id --listen 80 --upstream 10.0.0.5:8000 \
        --portal-host cctv.example.go.id --media-root /srv/pantau/media --runtime-dir /var/lib/pantau/nginx

Production (TLS 1.2/1.3 and HTTP/2 on --listen, a redirect from --http-listen, request-rate limits):

    python nginx/render.py --mode production --listen 443 --http-listen 80 --upstream 127.0.0.1:8000 \\
        --tls-certificate /etc/letsencrypt/live/cctv.example.go.id/fullchain.pem \\
        --tls-key /etc/letsencrypt/live/cctv.example.go.id/privkey.pem \\
        --media-root /var/lib/pantau/media --static-root /opt/pantau/static --runtime-dir /var/lib/pantau-nginx

Lines between ``# [production]`` and ``# [/production]`` are kept only in production mode, those between
``# [plain]`` and ``# [/plain]`` only in plain mode (the default, what the tests and benchmarks use).
Only ``${UPPER_CASE}`` placeholders are replaced (nginx's own variables are lower case); a placeholder without a
value, or a value that could smuggle nginx syntax (``;``, braces, quotes, whitespace...), is an error.
Standard library only, so it runs from a Makefile before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("pantau.conf.template")
MEDIA_NODE_TEMPLATE = Path(__file__).with_name("media-node.conf.template")
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Body sizes are the portal's: PANTAU_MAX_BODY_BYTES (1 MiB) and contract.limits.MAX_SYNC_BODY_BYTES (4 MiB);
# tests/e2e/test_nginx_gunicorn.py checks they agree; /lapor takes PANTAU_REPORT_MAX_PHOTOS (3) photos of
# PANTAU_REPORT_PHOTO_MAX_BYTES (10 MiB) and 1 MiB of fields.
DEFAULTS = {"WORKER_PROCESSES": "auto", "CLIENT_MAX_BODY_SIZE": "1m", "WORKER_MAX_BODY_SIZE": "4m",
            "WORKER_RATE": "10", "WORKER_BURST": "20", "AUTH_CACHE_SECONDS": "1", "USER_LINE": "",
            "VERIFY_MAX_BODY_SIZE": "4096m", "REPORT_MAX_BODY_SIZE": "31m", "PORTAL_HOST": "localhost",
            # slow clients: each read or write must progress within these (both modes)
            "CLIENT_HEADER_TIMEOUT": "10s", "CLIENT_BODY_TIMEOUT": "20s", "SEND_TIMEOUT": "20s",
            "KEEPALIVE_TIMEOUT": "30s", "HSTS_SECONDS": "31536000",
            # production: per client address (many phones share one address behind carrier NAT: be generous)
            "MEDIA_LINK_KEYS": "",
            "HTTP_LISTEN": "80", "SIGNIN_RATE": "10r/m", "SIGNIN_BURST": "20", "REPORT_RATE": "10r/m",
            "REPORT_BURST": "10", "API_RATE": "10r/s", "API_BURST": "50"}
PATHS = ("MEDIA_ROOT", "STATIC_ROOT", "RUNTIME_DIR", "TLS_CERTIFICATE", "TLS_KEY", "ACME_ROOT")
MODES = ("plain", "production")
BLOCK = re.compile(r"^\s*# \[(/?)(plain|production)\]\s*$")


def select_mode(template_text: str, mode: str) -> str:
    """Keep the lines of ``mode``'s blocks, drop the other mode's and every marker line."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    kept: list[str] = []
    inside: str | None = None
    for number, line in enumerate(template_text.splitlines(keepends=True), 1):
        marker = BLOCK.match(line)
        if marker:
            closing, name = marker.groups()
            if bool(closing) != (inside is not None) or (closing and name != inside):
                raise ValueError(f"template line {number}: unbalanced block marker {line.strip()!r}")
            inside = None if closing else name
            continue
        if inside is None or inside == mode:
            kept.append(line)
    if inside is not None:
        raise ValueError(f"template: block {inside!r} is not closed")
    return "".join(kept)


def _port_suffix(listen: str) -> str:
    """``:8443`` for a public https port other than 443 (for the redirect), else nothing."""
    port = listen.rsplit(":", 1)[-1].split()[0]
    return "" if port in ("443", "") else f":{port}"
UNSAFE = re.compile(r"[\s;{}'\"#$\\]")
LINK_SECRET = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


def media_link_key_id(secret: str) -> str:
    """A signed media link names its secret by this id (portal.media.links.key_id computes the same)."""
    return hashlib.sha256(f"pantau-media-link:{secret}".encode()).hexdigest()[:8]


def media_link_keys(secrets: object) -> str:
    """The ``map $link_kid $pantau_link_secret`` entries: every secret nginx accepts (the portal signs with one;
    an old one stays listed while links made with it may still be in use). Secrets are never logged."""
    if secrets is None:
        return ""
    items = secrets.split(",") if isinstance(secrets, str) else list(secrets)  # type: ignore[call-overload]
    entries = []
    for item in items:
        secret = str(item).strip()
        if not secret:
            continue
        if not LINK_SECRET.match(secret):
            raise ValueError("a media link secret must be 32 to 128 letters, digits, '-' or '_'")
        entries.append(f"{media_link_key_id(secret)} {secret};")
    return " ".join(entries)


def read_media_link_secrets(path: Path) -> list[str]:
    """One secret a line (blank lines and # comments ignored)."""
    lines = path.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
MEDIA_URL = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~-]+)*$")


def render_nginx_conf(template_text: str, mode: str = "plain", **values: object) -> str:
    """Fill the template. Keys are case-insensitive (``media_root=`` fills ``${MEDIA_ROOT}``).

    ``mode="production"`` keeps the production blocks (TLS, HTTP/2, redirect, rate limits): it needs
    ``tls_certificate`` and ``tls_key``; ``https_port`` (default: the port of ``listen``) is where the
    redirect sends people.

    ``user="www-data"`` renders ``user www-data;`` (for a master started as root); without it no ``user``
    directive is written, which is what an unprivileged nginx needs. Paths must be absolute.
    """
    template_text = select_mode(template_text, mode)
    filled: dict[str, str] = dict(DEFAULTS)
    filled["MEDIA_LINK_KEYS"] = media_link_keys(values.pop("media_link_secrets", None))
    https_port = values.pop("https_port", None)
    for key, value in values.items():
        if value is None:
            continue
        name, text = key.upper(), str(value)
        if name == "USER":
            if not NAME.match(text):
                raise ValueError(f"bad user name {text!r}")
            filled["USER_LINE"] = f"user {text};"
            continue
        if not text or UNSAFE.search(text):
            raise ValueError(f"unsafe value for {name}: {text!r}")
        if name == "MEDIA_NODE_URL" and not MEDIA_URL.match(text):
            raise ValueError(f"MEDIA_NODE_URL must be the worker's PANTAU_MEDIA_URL (http or https), not {text!r}")
        if name in PATHS:
            if not os.path.isabs(text):
                raise ValueError(f"{name} must be an absolute path, not {text!r}")
            text = text.rstrip("/") or "/"
        filled[name] = text
    if "RUNTIME_DIR" in filled:
        filled.setdefault("ACME_ROOT", filled["RUNTIME_DIR"].rstrip("/") + "/acme")
    if https_port is not None:
        if not str(https_port).isdigit():
            raise ValueError(f"bad https port {https_port!r}")
        filled["HTTPS_PORT_SUFFIX"] = _port_suffix(str(https_port))
    elif "LISTEN" in filled:
        filled["HTTPS_PORT_SUFFIX"] = _port_suffix(filled["LISTEN"])
    wanted = set(PLACEHOLDER.findall(template_text))
    missing = sorted(wanted - filled.keys())
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: filled[m.group(1)], template_text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render Pantau's nginx configuration.")
    parser.add_argument("--mode", choices=MODES, default="plain",
                        help="plain: http only (behind another TLS terminator, tests); production: TLS, HTTP/2, "
                             "redirect from --http-listen, rate limits")
    parser.add_argument("--listen", required=True, help="e.g. 127.0.0.1:8080 or 80 (production: 443)")
    parser.add_argument("--http-listen", default=None, help="production: plain http, redirected (default 80)")
    parser.add_argument("--https-port", default=None, help="production: the public https port in redirects")
    parser.add_argument("--tls-certificate", type=Path, default=None, help="production: certificate chain (PEM)")
    parser.add_argument("--tls-key", type=Path, default=None, help="production: its private key (PEM)")
    parser.add_argument("--acme-root", type=Path, default=None, help="production: certbot's webroot")
    for name in ("signin", "report", "api"):
        parser.add_argument(f"--{name}-rate", default=None, help=f"production: {name} requests per address, e.g. 10r/m")
        parser.add_argument(f"--{name}-burst", default=None)
    for name in ("client-header-timeout", "client-body-timeout", "send-timeout", "keepalive-timeout"):
        parser.add_argument(f"--{name}", default=None)
    parser.add_argument("--hsts-seconds", default=None)
    parser.add_argument("--upstream", required=True, help="the portal: host:port or unix:/path.sock")
    parser.add_argument("--media-root", required=True, type=Path)
    parser.add_argument("--static-root", type=Path, default=None, help="required except for --media-node-url")
    parser.add_argument("--media-node-url", default=None,
                        help="render a media node (media-node.conf.template): this worker's PANTAU_MEDIA_URL")
    parser.add_argument("--portal-host", default=None,
                        help="media node: Host of its access checks to the portal (one of PANTAU_TRUSTED_HOSTS)")
    parser.add_argument("--runtime-dir", required=True, type=Path, help="pid, logs, temp files, auth cache")
    parser.add_argument("--user", default=None, help="worker user when nginx is started as root")
    parser.add_argument("--worker-processes", default=None)
    parser.add_argument("--client-max-body-size", default=None)
    parser.add_argument("--worker-max-body-size", default=None)
    parser.add_argument("--worker-rate", default=None, help="worker API requests per second per client address")
    parser.add_argument("--worker-burst", default=None)
    parser.add_argument("--auth-cache-seconds", default=None)
    parser.add_argument("--verify-max-body-size", default=None, help="uploads to /verifikasi (default 4096m)")
    parser.add_argument("--media-link-secret-file", type=Path, default=None,
                        help="secrets of signed media links, one a line (the portal's PANTAU_MEDIA_LINK_SECRET and, "
                             "while rotating, the previous one); the output then holds them: keep it private")
    parser.add_argument("--template", type=Path, default=None)
    parser.add_argument("--output", "-o", type=Path, default=None, help="default: standard output")
    args = parser.parse_args(argv)
    if args.static_root is None and args.media_node_url is None:
        parser.error("--static-root is required (or --media-node-url for a media node)")
    template = args.template or (MEDIA_NODE_TEMPLATE if args.media_node_url else TEMPLATE)

    try:
        def absolute(path: Path | None) -> Path | None:
            return path.resolve() if path is not None else None

        link_secrets = (read_media_link_secrets(args.media_link_secret_file)
                        if args.media_link_secret_file else None)
        text = render_nginx_conf(
            template.read_text(), mode=args.mode, media_link_secrets=link_secrets,
            http_listen=args.http_listen, https_port=args.https_port,
            tls_certificate=absolute(args.tls_certificate), tls_key=absolute(args.tls_key),
            acme_root=absolute(args.acme_root),
            signin_rate=args.signin_rate, signin_burst=args.signin_burst, report_rate=args.report_rate,
            report_burst=args.report_burst, api_rate=args.api_rate, api_burst=args.api_burst,
            client_header_timeout=args.client_header_timeout, client_body_timeout=args.client_body_timeout,
            send_timeout=args.send_timeout, keepalive_timeout=args.keepalive_timeout,
            hsts_seconds=args.hsts_seconds,
            listen=args.listen, upstream=args.upstream, user=args.user,
            media_root=args.media_root.resolve(),
            static_root=args.static_root.resolve() if args.static_root else None,
            media_node_url=args.media_node_url.rstrip("/") if args.media_node_url else None,
            portal_host=args.portal_host,
            runtime_dir=args.runtime_dir.resolve(), worker_processes=args.worker_processes,
            client_max_body_size=args.client_max_body_size, auth_cache_seconds=args.auth_cache_seconds,
            verify_max_body_size=args.verify_max_body_size,
            worker_max_body_size=args.worker_max_body_size, worker_rate=args.worker_rate,
            worker_burst=args.worker_burst,
        )
    except (OSError, ValueError) as exc:
        print(f"render.py: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if args.media_link_secret_file:  # the secrets are in it: readable by its owner only (nginx's master)
            args.output.touch(mode=0o600, exist_ok=True)
            args.output.chmod(0o600)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
