"""Render nginx/pantau.conf.template into a working nginx configuration.

    python nginx/render.py --listen 127.0.0.1:8080 --upstream 127.0.0.1:8000 \\
        --media-root var/media --static-root static --runtime-dir var/nginx > var/nginx/nginx.conf
    nginx -c "$PWD/var/nginx/nginx.conf" -p "$PWD/var/nginx" -e "$PWD/var/nginx/error.log" -g 'daemon off;'

Only ``${UPPER_CASE}`` placeholders are replaced (nginx's own variables are lower case); a placeholder without a
value, or a value that could smuggle nginx syntax (``;``, braces, quotes, whitespace...), is an error.
Standard library only, so it runs from a Makefile before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("pantau.conf.template")
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Body sizes are the portal's: PANTAU_MAX_BODY_BYTES (1 MiB) and contract.limits.MAX_SYNC_BODY_BYTES (4 MiB);
# tests/e2e/test_nginx_gunicorn.py checks they agree; /lapor takes PANTAU_REPORT_MAX_PHOTOS (3) photos of
# PANTAU_REPORT_PHOTO_MAX_BYTES (10 MiB) and 1 MiB of fields.
DEFAULTS = {"WORKER_PROCESSES": "auto", "CLIENT_MAX_BODY_SIZE": "1m", "WORKER_MAX_BODY_SIZE": "4m",
            "WORKER_RATE": "10", "WORKER_BURST": "20", "AUTH_CACHE_SECONDS": "1", "USER_LINE": "",
            "VERIFY_MAX_BODY_SIZE": "4096m", "REPORT_MAX_BODY_SIZE": "31m"}
PATHS = ("MEDIA_ROOT", "STATIC_ROOT", "RUNTIME_DIR")
UNSAFE = re.compile(r"[\s;{}'\"#$\\]")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def render_nginx_conf(template_text: str, **values: object) -> str:
    """Fill the template. Keys are case-insensitive (``media_root=`` fills ``${MEDIA_ROOT}``).

    ``user="www-data"`` renders ``user www-data;`` (for a master started as root); without it no ``user``
    directive is written, which is what an unprivileged nginx needs. Paths must be absolute.
    """
    filled: dict[str, str] = dict(DEFAULTS)
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
        if name in PATHS:
            if not os.path.isabs(text):
                raise ValueError(f"{name} must be an absolute path, not {text!r}")
            text = text.rstrip("/") or "/"
        filled[name] = text
    wanted = set(PLACEHOLDER.findall(template_text))
    missing = sorted(wanted - filled.keys())
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: filled[m.group(1)], template_text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render Pantau's nginx configuration.")
    parser.add_argument("--listen", required=True, help="e.g. 127.0.0.1:8080 or 80")
    parser.add_argument("--upstream", required=True, help="the portal: host:port or unix:/path.sock")
    parser.add_argument("--media-root", required=True, type=Path)
    parser.add_argument("--static-root", required=True, type=Path)
    parser.add_argument("--runtime-dir", required=True, type=Path, help="pid, logs, temp files, auth cache")
    parser.add_argument("--user", default=None, help="worker user when nginx is started as root")
    parser.add_argument("--worker-processes", default=None)
    parser.add_argument("--client-max-body-size", default=None)
    parser.add_argument("--worker-max-body-size", default=None)
    parser.add_argument("--worker-rate", default=None, help="worker API requests per second per client address")
    parser.add_argument("--worker-burst", default=None)
    parser.add_argument("--auth-cache-seconds", default=None)
    parser.add_argument("--verify-max-body-size", default=None, help="uploads to /verifikasi (default 4096m)")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--output", "-o", type=Path, default=None, help="default: standard output")
    args = parser.parse_args(argv)

    try:
        text = render_nginx_conf(
            args.template.read_text(),
            listen=args.listen, upstream=args.upstream, user=args.user,
            media_root=args.media_root.resolve(), static_root=args.static_root.resolve(),
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
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
