"""nginx/render.py's two modes: plain (the default, what every other test and benchmark uses) and production."""

from __future__ import annotations

import re

import pytest

from tests.support.nginx import TEMPLATE, render_nginx_conf

VALUES = {"listen": "127.0.0.1:8443", "upstream": "127.0.0.1:8000", "media_root": "/srv/media",
          "static_root": "/srv/static", "runtime_dir": "/srv/run"}


def test_plain_mode_has_no_tls_no_redirect_and_no_limits_but_the_timeouts_and_error_pages() -> None:
    conf = render_nginx_conf(TEMPLATE.read_text(), **VALUES)
    assert "listen 127.0.0.1:8443;" in conf
    assert "ssl_certificate" not in conf and "return 301" not in conf and "zone=pantau_signin" not in conf
    assert "client_header_timeout 10s;" in conf and "reset_timedout_connection on;" in conf
    assert "error_page 502 /_pantau_errors/502.html;" in conf


def test_production_mode_needs_a_certificate_and_fills_the_redirect_port() -> None:
    with pytest.raises(ValueError, match="TLS_CERTIFICATE"):
        render_nginx_conf(TEMPLATE.read_text(), mode="production", **VALUES)
    conf = render_nginx_conf(TEMPLATE.read_text(), mode="production", tls_certificate="/etc/tls/c.pem",
                             tls_key="/etc/tls/k.pem", **VALUES)
    assert "listen 127.0.0.1:8443 ssl http2;" in conf and "ssl_certificate /etc/tls/c.pem;" in conf
    assert re.search(r"return 301 https:\/\/\$host:8443\$request_uri;", conf) and "listen 80;" in conf
    assert "root /srv/run/acme;" in conf
    for zone in ("pantau_signin", "pantau_report", "pantau_api"):
        assert f"limit_req zone={zone} " in conf
    on_443 = render_nginx_conf(TEMPLATE.read_text(), mode="production", tls_certificate="/c", tls_key="/k",
                               **{**VALUES, "listen": "443"})
    assert re.search(r"return 301 https:\/\/\$host\$request_uri;", on_443)
    with pytest.raises(ValueError, match="absolute"):
        render_nginx_conf(TEMPLATE.read_text(), mode="production", tls_certificate="c.pem", tls_key="/k", **VALUES)
    with pytest.raises(ValueError, match="mode"):
        render_nginx_conf(TEMPLATE.read_text(), mode="staging", **VALUES)


def test_unbalanced_markers_are_refused() -> None:
    for text in ("# [production]\nx;\n", "x;\n# [/plain]\n", "# [plain]\n# [production]\n# [/production]\n"):
        with pytest.raises(ValueError, match="marker|not closed"):
            render_nginx_conf(text + "\n", **VALUES)
