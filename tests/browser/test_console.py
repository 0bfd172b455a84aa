"""Staff in a real browser (Debian's Chromium): sign-in, lockout and the second factor; and the admin flow of
adding, editing, making private and public again a camera while a member of the public has its player open."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from portal.models import Camera, db
from tests.browser.conftest import LiveServer
from tests.conftest import STAFF_PASSWORD, make_user

pytestmark = pytest.mark.browser
PLAYING = "() => document.getElementById('live-video').currentTime > 0"
CSP = ("Content Security Policy", "Content-Security-Policy")


def watch_csp(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if any(c in m.text for c in CSP) else None)
    return seen


def add_user(server: LiveServer, role: str, username: str) -> None:
    with server.app.app_context():
        make_user(role, username=username)


def sign_in(page: Any, server: LiveServer, username: str, password: str = STAFF_PASSWORD) -> None:
    page.goto(f"{server.url}/masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()


def test_sign_in_lockout_and_sign_out(serve: Any, page: Any) -> None:
    server = serve(lockout_account_limits="3 per minute")
    add_user(server, "operator", "wati")
    csp = watch_csp(page)
    for _ in range(3):
        sign_in(page, server, "wati", "salah-salah-salah")
        expect(page.locator("#password-error")).to_have_text("Kata sandi atau nama pengguna salah.")
    sign_in(page, server, "wati")  # right password, locked all the same
    expect(page.locator("#locked")).to_contain_text("Terlalu banyak percobaan gagal")
    assert "/masuk" in page.url

    other = serve()  # a fresh portal (its own counters): sign in, land in the console, sign out
    add_user(other, "operator", "wati")
    sign_in(page, other, "wati")
    page.wait_for_url(re.compile(r"/admin/kesehatan"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Kesehatan kamera dan worker")
    page.get_by_role("button", name="Keluar").click()
    page.goto(f"{other.url}/admin/kesehatan")
    page.wait_for_url(re.compile(r"/masuk\?next="))
    assert not csp, csp


def test_admin_enrols_a_second_factor_and_uses_it(serve: Any, page: Any) -> None:
    server = serve(second_factor="on")
    add_user(server, "admin", "rudi")
    csp = watch_csp(page)
    sign_in(page, server, "rudi")
    page.wait_for_url(re.compile(r"/masuk/pasang-kode"))
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Kode").fill(totp.now())
    page.get_by_role("button", name="Aktifkan").click()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="Sudah saya simpan, lanjutkan").click()
    page.wait_for_url(re.compile(r"/admin/kamera"))
    page.get_by_role("button", name="Keluar").click()

    sign_in(page, server, "rudi")
    page.wait_for_url(re.compile(r"/masuk/kode"))
    page.get_by_label("Kode").fill("000000")
    page.get_by_role("button", name="Konfirmasi").click()
    expect(page.locator("#code-error")).to_contain_text("tidak benar")
    page.get_by_label("Kode").fill(codes[0])  # a recovery code stands in for the phone, once
    page.get_by_role("button", name="Konfirmasi").click()
    page.wait_for_url(re.compile(r"/admin/kamera"))
    expect(page.locator(".flash")).to_contain_text("kode pemulihan")
    assert not csp, csp


def test_admin_adds_edits_and_switches_a_camera_while_a_player_is_open(serve: Any, browser: Any,
                                                                       media: Path) -> None:
    server: LiveServer = serve()
    add_user(server, "admin", "ani")
    watched = server.camera(name="Pantai Nambo")
    server.install_media(watched, media)

    viewer_context = browser.new_context()
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        viewer, admin = viewer_context.new_page(), admin_context.new_page()
        viewer.set_default_timeout(10_000)
        admin.set_default_timeout(10_000)
        csp = watch_csp(admin)
        viewer.goto(f"{server.url}/kamera/{watched.id}")
        viewer.get_by_role("button", name="Tonton langsung").click()
        viewer.wait_for_function(PLAYING)

        sign_in(admin, server, "ani")
        admin.wait_for_url(re.compile(r"/admin/kamera"))
        # add a camera, with a mistake first: the error sits next to its field, the password is not echoed
        admin.get_by_role("link", name="Tambah kamera").click()
        admin.get_by_label("Nama").fill("Simpang Baru")
        admin.get_by_label("Lintang").fill("-95")
        admin.get_by_label("Bujur").fill("122.52")
        admin.get_by_label("Alamat stream kamera (RTSP)").fill("rtsp://op:rahasia99@127.0.0.1:9/s1")
        admin.get_by_role("button", name="Simpan").click()
        expect(admin.locator("#latitude-error")).to_have_text("harus antara -90 dan 90")
        assert "rahasia99" not in admin.content()
        admin.get_by_label("Lintang").fill("-3.98")
        admin.get_by_label("Alamat stream kamera (RTSP)").fill("rtsp://op:rahasia99@127.0.0.1:9/s1")
        admin.get_by_role("button", name="Simpan").click()
        expect(admin.locator(".flash")).to_contain_text("Simpang Baru")
        # edit it: the stream address stays hidden and is kept when left blank
        admin.get_by_role("link", name="Simpang Baru").click()
        assert "rahasia99" not in admin.content()
        expect(admin.get_by_label("Alamat stream kamera (RTSP)")).to_have_value("")
        admin.get_by_label("Nama").fill("Simpang Baru Kadia")
        admin.get_by_role("button", name="Simpan").click()
        expect(admin.locator(".flash")).to_contain_text("Simpang Baru Kadia")
        with server.app.app_context():
            added = db.session.query(Camera).filter_by(name="Simpang Baru Kadia").one()
            assert "rahasia99" in added.source_url and added.public is False

        # make the watched camera private with one click (and a reason): the open player stops and says so
        admin.goto(f"{server.url}/admin/kamera")
        admin.get_by_label("Alasan mengubah publik atau privat").fill("perbaikan tiang")
        row = admin.locator(f"#camera-{watched.id}")
        clicked = time.monotonic()
        row.get_by_role("button", name="Pantai Nambo publik: jadikan privat").click()
        expect(admin.locator("#switch-message")).to_contain_text("1 kamera kini privat")
        viewer.wait_for_function("() => document.querySelector('.player').dataset.state === 'gone'",
                                 timeout=5_000)
        assert time.monotonic() - clicked < 5.0
        expect(viewer.locator(".player-notice-text")).to_contain_text("tidak lagi publik")
        assert viewer.evaluate("window.PantauPlayer") is None

        # public again (and the new camera too, in bulk): both are back for the public
        admin.locator(f"#camera-{watched.id} input[name=ids]").check()
        admin.locator(f"#camera-{added.id} input[name=ids]").check()
        admin.get_by_role("button", name="Jadikan yang dipilih publik").click()
        expect(admin.locator("#switch-message")).to_contain_text("2 kamera kini publik")
        viewer.goto(f"{server.url}/kamera")
        expect(viewer.get_by_text("Simpang Baru Kadia")).to_be_visible()
        viewer.goto(f"{server.url}/kamera/{watched.id}")
        viewer.get_by_role("button", name="Tonton langsung").click()
        viewer.wait_for_function(PLAYING)
        assert not csp, csp
    finally:
        viewer_context.close()
        admin_context.close()


def test_the_staff_top_bar_fits_a_phone(serve: Any, phone: Any) -> None:
    """An admin has the most links (console, statistics, 112, footage, agency API, account): on a phone they
    scroll inside the bar, the page itself never scrolls sideways, and every link can be reached."""
    server = serve()
    add_user(server, "admin", "sari")
    sign_in(phone, server, "sari")
    phone.wait_for_url(re.compile(r"^(?!.*/masuk)"))
    for path in ("/akun", "/", "/kamera"):
        phone.goto(server.url + path)
        # (a phone widens its layout viewport to fit wide content, so compare with the screen, not innerWidth)
        assert phone.evaluate("document.documentElement.scrollWidth <= screen.width"), path
        links = phone.locator(".topbar nav a")
        assert links.count() >= 6, path
        last = links.nth(links.count() - 1)
        last.scroll_into_view_if_needed()
        expect(last).to_be_in_viewport()
        first = links.nth(0)
        first.scroll_into_view_if_needed()
        expect(first).to_be_in_viewport()
