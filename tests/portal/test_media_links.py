"""Signed media links (portal/media/links.py): what the portal issues, to whom, and what nginx's renderer makes of
the secret. nginx checking them for real: tests/e2e/test_media_links.py."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from portal.media import links
from portal.models import db
from portal.settings import Settings, SettingsError
from tests.conftest import add_camera, login_as, make_settings, migrated_app
from tests.support.nginx import ROOT, _renderer, render_nginx_conf

SECRET = "unit-test-media-link-secret-0123456789abcdef"


@pytest.fixture()
def signed_app(tmp_path: Path) -> Iterator[Flask]:
    application = migrated_app(make_settings(tmp_path, serve_media=False, media_link_secret=SECRET,
                                             media_link_seconds=20))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def test_a_link_is_nginx_secure_link_md5_of_expiry_key_and_secret() -> None:
    expires = links.expiry(20, now=1_700_000_005)
    assert expires == 1_700_000_060  # 2 to 3 steps ahead, on a step boundary: shared by everyone in the step
    assert links.expiry(20, now=1_700_000_019) == expires and links.expiry(20, now=1_700_000_020) == expires + 20
    digest = hashlib.md5(f"{expires} 0123abcd0123abcd {SECRET}".encode()).digest()
    assert links.signature(SECRET, "0123abcd0123abcd", expires) == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    prefix = links.issue(SECRET, "0123abcd0123abcd", 20, now=1_700_000_005)
    assert re.fullmatch(r"s/[0-9a-f]{8}/1700000060/[A-Za-z0-9_-]{22}/", prefix)
    assert SECRET not in prefix
    # the renderer (standard library only) names a secret the same way
    assert links.key_id(SECRET) == _renderer.media_link_key_id(SECRET)
    assert links.unsigned(f"https://m.example/media/{prefix}hls/k/index.m3u8") == "https://m.example/media/hls/k/index.m3u8"


def test_settings_refuse_a_weak_or_unquotable_secret_and_keep_it_out_of_repr(tmp_path: Path) -> None:
    for bad in ("short", "x" * 31, "has space " + "x" * 40, 'quote"' + "x" * 40, "dollar$" + "x" * 40):
        with pytest.raises(SettingsError, match="MEDIA_LINK_SECRET") as caught:
            Settings(media_link_secret=bad).validated()
        assert bad not in str(caught.value)
    with pytest.raises(SettingsError, match="MEDIA_LINK_SECONDS"):
        Settings(media_link_seconds=1).validated()
    settings = Settings(media_link_secret=SECRET).validated()
    assert SECRET not in repr(settings)


def test_public_players_get_signed_links_private_cameras_and_open_data_do_not(signed_app: Flask) -> None:
    public = add_camera(name="Publik", public=True)
    private = add_camera(name="Privat", public=False)
    web = signed_app.test_client()
    status = web.get(f"/kamera/{public.id}/status.json").get_json()
    assert re.fullmatch(rf"/media/s/[0-9a-f]{{8}}/[0-9]{{10}}/[A-Za-z0-9_-]{{22}}/hls/{public.media_key}/index\.m3u8",
                        status["hls_url"])
    page = web.get(f"/kamera/{public.id}").get_data(as_text=True)
    assert f'/hls/{public.media_key}/index.m3u8' in page and 'data-src="/media/s/' in page
    assert SECRET not in page and SECRET not in str(status)
    geojson = web.get("/api/v1/cameras.geojson").get_data(as_text=True)
    assert f"/media/hls/{public.media_key}/index.m3u8" in geojson and "/media/s/" not in geojson
    # staff watching a private camera: the plain, checked URL (its answers must stay "private")
    login_as(web, "admin")
    staff = web.get(f"/admin/kamera/{private.id}/status.json").get_json()
    assert staff["hls_url"] == f"/media/hls/{private.media_key}/index.m3u8"


def test_without_a_secret_or_when_flask_serves_media_links_are_plain(tmp_path: Path) -> None:
    for overrides in ({"serve_media": False}, {"serve_media": True, "media_link_secret": SECRET}):
        application = migrated_app(make_settings(tmp_path / str(len(overrides)), **overrides))
        with application.app_context():
            camera = add_camera(name="Publik", public=True)
            status = application.test_client().get(f"/kamera/{camera.id}/status.json").get_json()
            assert status["hls_url"] == f"/media/hls/{camera.media_key}/index.m3u8"
            db.session.remove()
            db.engine.dispose()


def test_the_renderer_lists_each_accepted_secret_and_writes_the_file_for_its_owner_only(tmp_path: Path) -> None:
    other = "another-media-link-secret-being-rotated-0000"
    text = render_nginx_conf((ROOT / "nginx" / "pantau.conf.template").read_text(), listen="127.0.0.1:1",
                             upstream="127.0.0.1:2", media_root="/m", static_root="/s", runtime_dir="/r",
                             media_link_secrets=[SECRET, other])
    assert f"{links.key_id(SECRET)} {SECRET};" in text and f"{links.key_id(other)} {other};" in text
    plain = render_nginx_conf((ROOT / "nginx" / "pantau.conf.template").read_text(), listen="127.0.0.1:1",
                              upstream="127.0.0.1:2", media_root="/m", static_root="/s", runtime_dir="/r")
    assert SECRET not in plain and "map $link_kid $pantau_link_secret" in plain
    with pytest.raises(ValueError, match="media link secret") as caught:
        render_nginx_conf((ROOT / "nginx" / "pantau.conf.template").read_text(), listen="127.0.0.1:1",
                          upstream="127.0.0.1:2", media_root="/m", static_root="/s", runtime_dir="/r",
                          media_link_secrets=['x" ; return 200; #' + "x" * 40])
    assert "return 200" not in str(caught.value)
    secrets_file = tmp_path / "media-link-secrets"
    secrets_file.write_text(f"# current\n{SECRET}\n\n{other}\n")
    out = tmp_path / "nginx.conf"
    assert _renderer.main(["--listen", "127.0.0.1:1", "--upstream", "127.0.0.1:2", "--media-root", str(tmp_path),
                           "--static-root", str(tmp_path), "--runtime-dir", str(tmp_path),
                           "--media-link-secret-file", str(secrets_file), "-o", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert f"{links.key_id(other)} {other};" in out.read_text()
