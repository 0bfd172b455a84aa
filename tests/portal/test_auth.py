"""Sign-in: passwords, the policy, lockout with a growing delay, TOTP and recovery codes, sessions that end,
CSRF on every form. Real Flask-Login, Flask-WTF, Flask-Limiter and pyotp behind the test client."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.auth.accounts import AccountError, check_password
from portal.models import AuditEntry, User, db
from tests.conftest import STAFF_PASSWORD, csrf_token, login_as, make_settings, make_user, migrated_app


def _form(client: FlaskClient, url: str, remote: str = "127.0.0.1", **data: str):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": csrf_token(client), **data}, environ_base={"REMOTE_ADDR": remote})


def sign_in(client: FlaskClient, username: str, password: str = STAFF_PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return _form(client, "/masuk", username=username, password=password, **extra)


def actions() -> list[str]:
    return [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.seq)]


@pytest.fixture()
def strict_app(tmp_path: Path) -> Iterator[Flask]:
    """Second factor on (as in production), small lockout ladders so tests reach them quickly."""
    application = migrated_app(make_settings(
        tmp_path, second_factor="on", lockout_account_limits="3 per minute;5 per hour",
        lockout_address_limits="6 per minute", session_idle_minutes=1,
    ))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def test_password_policy() -> None:
    for bad, why in (("short", "at least 10"), ("kendari123", "too easy"), ("aaaaaaaaaaaa", "too easy"),
                     ("siti-rahasia-99", "your name")):
        with pytest.raises(AccountError, match=why):
            check_password(bad, username="siti")
    check_password("kopi susu pagi hari", username="siti")


def test_sign_in_and_out(app: Flask, client: FlaskClient) -> None:
    user = make_user("operator", username="budi")
    page = client.get("/masuk")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    wrong = sign_in(client, "budi", "not-the-password")
    assert wrong.status_code == 200 and "Kata sandi atau nama pengguna salah" in wrong.text
    nobody = sign_in(client, "nobody", "not-the-password")
    # the same answer whether the username exists or not
    assert re.sub(r'value="[^"]*"', "", nobody.text) == re.sub(r'value="[^"]*"', "", wrong.text)
    ok = sign_in(client, "BUDI", next="/akun")
    assert ok.status_code == 302 and ok.headers["Location"] == "/akun"
    assert client.get("/akun").status_code == 200
    assert _form(client, "/keluar").status_code == 302
    assert client.get("/akun", headers={"Accept": "text/html"}).status_code == 302
    assert actions()[-4:] == ["auth.signin_failed", "auth.signin_failed", "auth.signin", "auth.signout"]
    failed = db.session.query(AuditEntry).filter_by(action="auth.signin_failed").first()
    assert failed.detail["username"] == "budi" and failed.ip == "127.0.0.1" and "password" not in failed.detail
    assert db.session.get(User, user.id).last_login_at is not None


def test_next_must_stay_on_this_site(app: Flask, client: FlaskClient) -> None:
    make_user("admin", username="ani")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = sign_in(client, "ani", next=target)
        assert response.status_code == 302 and "evil" not in response.headers["Location"]
        _form(client, "/keluar")


def test_forms_need_a_csrf_token(app: Flask, client: FlaskClient) -> None:
    make_user("operator", username="citra")
    response = client.post("/masuk", data={"username": "citra", "password": STAFF_PASSWORD})
    assert response.status_code == 400
    assert client.get("/akun", headers={"Accept": "text/html"}).status_code == 302  # not signed in
    login_as(client, "admin")
    assert client.post("/akun/kode-pemulihan").status_code == 400
    assert client.post("/akun/kode-pemulihan", headers={"X-CSRFToken": csrf_token(client)}).status_code == 302


def test_lockout_per_account_grows_and_does_not_tell(strict_app: Flask) -> None:
    client = strict_app.test_client()
    make_user("operator", username="dewi")
    for _ in range(3):
        assert sign_in(client, "dewi", "wrong-password-1").status_code == 200
    locked = sign_in(client, "dewi")  # the right password, but locked: refused before it is looked at
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) <= 61
    assert "Terlalu banyak percobaan gagal" in locked.text
    assert client.get("/akun", headers={"Accept": "text/html"}).status_code == 302
    # an unknown username locks the same way (nobody learns which names exist)
    for _ in range(3):
        sign_in(client, "ghost", "wrong-password-1")
    assert sign_in(client, "ghost", "x-wrong-password").status_code == 429
    assert "auth.locked_out" in actions()
    # the address ladder: 6 failures from one address lock every account tried from it
    other = strict_app.test_client()
    make_user("operator", username="eko")
    assert sign_in(other, "eko").status_code == 429  # 7th failure-counted request from 127.0.0.1


def test_growing_delay_ladder(strict_app: Flask) -> None:
    """After the first rung frees up, the next rung (5 per hour) still holds: the delay grew."""
    limiter = strict_app.extensions["pantau_limiter"]
    client = strict_app.test_client()
    make_user("operator", username="fajar")
    for n in range(3):  # from different addresses, so only the account's ladder counts
        sign_in(client, "fajar", "wrong-password-1", remote=f"127.0.1.{n}")
    assert sign_in(client, "fajar", remote="127.0.1.9").status_code == 429
    minute = next(k for k in limiter.storage.events if "u:fajar" in k and k.endswith("/minute"))
    limiter.storage.clear(minute)  # as if the minute had passed
    for n in range(2):
        sign_in(client, "fajar", "wrong-password-1", remote=f"127.0.2.{n}")
    response = sign_in(client, "fajar", remote="127.0.2.9")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 60  # now the hour's rung


def _enrol(client: FlaskClient, username: str) -> tuple[str, list[str]]:
    start = sign_in(client, username)
    assert start.status_code == 302 and start.headers["Location"] == "/masuk/pasang-kode"
    page = client.get("/masuk/pasang-kode")
    assert page.status_code == 200 and "<svg" in page.text and "<script" not in page.text.split("<footer")[0]
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)  # type: ignore[union-attr]
    wrong = _form(client, "/masuk/pasang-kode", code="000000")
    assert wrong.status_code == 200 and "tidak benar" in wrong.text
    done = _form(client, "/masuk/pasang-kode", code=pyotp.TOTP(secret).now())
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    assert len(codes) == 10
    return secret, codes


@pytest.fixture()
def totp_app(tmp_path: Path) -> Iterator[Flask]:
    """Second factor on, the default lockout ladders."""
    application = migrated_app(make_settings(tmp_path, second_factor="on"))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def test_admins_enrol_totp_and_sign_in_with_it_or_a_recovery_code(totp_app: Flask) -> None:
    client = totp_app.test_client()
    make_user("admin", username="gita")
    secret, codes = _enrol(client, "gita")
    assert client.get("/akun").status_code == 200  # enrolment signs in
    _form(client, "/keluar")

    step = sign_in(client, "gita")
    assert step.status_code == 302 and step.headers["Location"] == "/masuk/kode"
    assert client.get("/akun", headers={"Accept": "text/html"}).status_code == 302  # half signed in is not in
    totp = pyotp.TOTP(secret)
    assert _form(client, "/masuk/kode", code="123456").status_code == 200
    used = totp.at(time.time() + 30)  # the next step's code: accepted (a phone's clock a little ahead) ...
    assert _form(client, "/masuk/kode", code=used).status_code == 302
    _form(client, "/keluar")
    again = sign_in(client, "gita")
    assert again.status_code == 302 and again.headers["Location"] == "/masuk/kode"
    replay = _form(client, "/masuk/kode", code=used)  # ... but only once
    assert replay.status_code == 200
    recovery = _form(client, "/masuk/kode", code=codes[0].upper())
    assert recovery.status_code == 302
    _form(client, "/keluar")
    sign_in(client, "gita")
    assert _form(client, "/masuk/kode", code=codes[0]).status_code == 200  # a recovery code works once
    assert {"auth.second_factor_enrolled", "auth.recovery_code_used", "auth.second_factor_failed"} <= set(actions())


def test_operators_need_no_second_factor(strict_app: Flask) -> None:
    client = strict_app.test_client()
    make_user("operator", username="hadi")
    response = sign_in(client, "hadi")
    assert response.status_code == 302 and response.headers["Location"] != "/masuk/pasang-kode"


def test_sessions_end_after_inactivity(strict_app: Flask) -> None:
    client = strict_app.test_client()
    login_as(client, "operator")
    assert client.get("/akun").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = time.time() - 61  # idle limit is one minute here
    assert client.get("/akun", headers={"Accept": "text/html"}).status_code == 302
    assert client.get("/akun", headers={"Accept": "text/html"}).status_code == 302  # and it stays ended


def test_polling_does_not_keep_a_session_alive(app: Flask, client: FlaskClient) -> None:
    login_as(client, "operator")
    with client.session_transaction() as session:
        session["seen"] = before = time.time() - 120
    client.get("/kamera/1/status.json")
    with client.session_transaction() as session:
        assert session["seen"] == before
    client.get("/akun")
    with client.session_transaction() as session:
        assert session["seen"] > before


def test_disabling_or_resetting_a_user_ends_their_sessions(app: Flask) -> None:
    client = app.test_client()
    user = login_as(client, "operator")
    assert client.get("/akun").status_code == 200
    from portal.auth.accounts import reset_password, update_user

    db_user = db.session.get(User, user.id)
    update_user(db_user, {"active": False})
    db.session.commit()
    assert client.get("/akun", headers={"Accept": "text/html"}).status_code == 302
    update_user(db_user, {"active": True})
    temporary = reset_password(db_user)
    db.session.commit()
    response = sign_in(client, db_user.username, temporary)
    assert response.status_code == 302 and response.headers["Location"] == "/akun/sandi"
    assert client.get("/admin/", headers={"Accept": "text/html"}).headers["Location"] == "/akun/sandi"
    changed = _form(client, "/akun/sandi", current_password=temporary, password="teh manis sore hari",
                    confirm="teh manis sore hari")
    assert changed.status_code == 302
    assert client.get("/akun").status_code == 200


def test_english_on_request(app: Flask, client: FlaskClient) -> None:
    make_user("operator", username="indah")
    response = client.post("/masuk?lang=en", data={"csrf_token": csrf_token(client), "username": "indah",
                                                   "password": "wrong-wrong-1"})
    assert "Wrong username or password" in response.text
