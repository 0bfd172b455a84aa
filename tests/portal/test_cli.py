"""``pantau``: the console script manages cameras, users and the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from portal.cli import cli


def _env(tmp_path: Path) -> dict[str, str]:
    return {"PANTAU_INSTANCE_PATH": str(tmp_path / "inst"), "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": "x"}


def run(tmp_path: Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), env=_env(tmp_path), input=input, catch_exceptions=False)
    return result


def test_console_script_upgrades_and_manages_cameras(tmp_path: Path) -> None:
    env = {**os.environ, **_env(tmp_path)}
    pantau = str(Path(sys.executable).parent / "pantau")
    up = subprocess.run([pantau, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    add = subprocess.run(
        [pantau, "cameras", "add", "--name", "Nambo", "--lat", "-4.0353", "--lon", "122.6277",
         "--source", "rtsp://admin:pw123@127.0.0.1:9/stream1", "--public", "--district", "Nambo"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert add.returncode == 0, add.stderr
    assert "pw123" not in add.stdout + add.stderr
    listed = subprocess.run([pantau, "cameras", "list"], env=env, capture_output=True, text=True, timeout=60)
    rows = json.loads(listed.stdout)
    assert rows[0]["name"] == "Nambo" and rows[0]["status"] == "unknown" and rows[0]["public"] is True
    assert rows[0]["source"] == "rtsp://***@127.0.0.1:9/stream1"
    assert "pw123" not in listed.stdout


def test_cameras_set_remove_and_validation(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").exit_code == 0
    out = run(tmp_path, "cameras", "add", "--name", "A", "--lat", "-3.9", "--lon", "122.5",
              "--source", "rtsp://127.0.0.1:9/s1")
    cam = json.loads(out.output)
    assert cam["public"] is False and cam["enabled"] is True
    changed = json.loads(run(tmp_path, "cameras", "set", str(cam["id"]), "--public", "--retention-days", "7").output)
    assert changed["public"] is True and changed["retention_days"] == 7 and changed["name"] == "A"
    bad = CliRunner().invoke(cli, ["cameras", "add", "--name", "B", "--lat", "-93", "--lon", "122",
                                   "--source", "rtsp://127.0.0.1:9/y"], env=_env(tmp_path))
    assert bad.exit_code == 2 and "latitude: must be between -90 and 90" in bad.output
    bad = CliRunner().invoke(cli, ["cameras", "add", "--name", "B", "--lat", "-3", "--lon", "122",
                                   "--source", "/etc/passwd"], env=_env(tmp_path))
    assert bad.exit_code == 2 and "source_url: must start with one of rtsp://" in bad.output
    bad = CliRunner().invoke(cli, ["cameras", "add", "--name", "B", "--lat", "-3", "--lon", "122",
                                   "--source", "rtsp://u:p@127.0.0.1:99999/x"], env=_env(tmp_path))
    assert bad.exit_code == 2 and "not a valid URL" in bad.output and "u:p" not in bad.output
    secret = run(tmp_path, "cameras", "add", "--name", "T", "--lat", "-3.9", "--lon", "122.5", "--source",
                 "rtsp://127.0.0.1:8554/s?access_token=tok1&channel=2&PWD=pw2&sig=s1g;key=k3y",
                 "--substream", "rtsp://127.0.0.1:8554/s2?auth=au7h&secret=s3c")
    assert secret.exit_code == 0, secret.output
    shown = run(tmp_path, "cameras", "list").output
    for value in ("tok1", "pw2", "s1g", "k3y", "au7h", "s3c"):
        assert value not in secret.output and value not in shown, value
    assert "access_token=***" in shown and "channel=2" in shown
    run(tmp_path, "cameras", "remove", str(json.loads(secret.output)["id"]))
    assert "archived camera" in run(tmp_path, "cameras", "remove", str(cam["id"])).output
    assert json.loads(run(tmp_path, "cameras", "list").output) == []
    archived = json.loads(run(tmp_path, "cameras", "list", "--archived").output)
    assert archived[0]["archived_at"] and archived[0]["public"] is False and archived[0]["enabled"] is False


def test_users_create_set_disable_and_reset_password(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").exit_code == 0
    out = run(tmp_path, "users", "create", "ops1", "--role", "operator", input="correct horse battery\n" * 2)
    assert json.loads(out.output.strip().splitlines()[-1]) == {"id": 1, "username": "ops1", "role": "operator"}
    bad = CliRunner().invoke(cli, ["users", "create", "x", "--role", "king", "--password", "0123456789ab"],
                             env=_env(tmp_path))
    assert bad.exit_code == 2
    short = CliRunner().invoke(cli, ["users", "create", "yanti", "--role", "admin", "--password", "short"],
                               env=_env(tmp_path))
    assert short.exit_code == 2 and "at least 10" in short.output and "short" not in short.output.split(":")[-1]
    boss = run(tmp_path, "users", "create", "walikota", "--role", "leadership", "--password", "pantai nambo sore")
    assert json.loads(boss.output)["role"] == "leadership"
    nobody = CliRunner().invoke(cli, ["users", "create", "staf", "--role", "agency", "--password", "0a9b8c7d6e5f"],
                                env=_env(tmp_path))
    assert nobody.exit_code == 2 and "agency: is required" in nobody.output

    changed = json.loads(run(tmp_path, "users", "set", "ops1", "--role", "admin", "--full-name", "Siti").output)
    assert changed["role"] == "admin" and changed["full_name"] == "Siti"
    assert "disabled ops1" in run(tmp_path, "users", "disable", "ops1").output
    reset = run(tmp_path, "users", "reset-password", "ops1").output
    assert reset.startswith("new password for ops1 (shown once): ")
    listed = {u["username"]: u for u in json.loads(run(tmp_path, "users", "list").output)}
    assert listed["ops1"]["active"] is False and listed["ops1"]["must_change_password"] is True
    assert "password_hash" not in run(tmp_path, "users", "list").output

    log = run(tmp_path, "audit", "verify")
    assert log.exit_code == 0 and "intact" in log.output
    exported = run(tmp_path, "audit", "export").output.splitlines()
    assert exported[0].startswith("seq,at,actor") and any("user.reset_password" in line for line in exported)
    assert all("cli:" in line for line in exported[1:])
    assert "correct horse" not in "\n".join(exported)


def test_owner_agency_permission_and_archived_holds(tmp_path: Path) -> None:
    import datetime as dt

    from portal import create_app
    from portal.models import Agency, Camera, LegalHold, RecordingSegment, db
    from portal.settings import Settings

    assert run(tmp_path, "db", "upgrade").exit_code == 0
    settings = Settings.from_env(_env(tmp_path))
    app = create_app(settings)
    with app.app_context():
        db.session.add(Agency(code="polda", name="Polda Sultra", kind="police"))
        db.session.commit()
        db.engine.dispose()
    cam = json.loads(run(tmp_path, "cameras", "add", "--name", "Simpang Polda", "--lat", "-3.9", "--lon", "122.5",
                         "--source", "rtsp://127.0.0.1:9/s1", "--agency", "polda", "--owner-forbids-public").output)
    refused = CliRunner().invoke(cli, ["cameras", "set", str(cam["id"]), "--public"], env=_env(tmp_path))
    assert refused.exit_code == 2 and "owner agency does not allow" in refused.output
    allowed = run(tmp_path, "cameras", "set", str(cam["id"]), "--owner-allows-public")
    assert json.loads(allowed.output)["public"] is False
    shown = json.loads(run(tmp_path, "cameras", "set", str(cam["id"]), "--public", "--reason", "izin Polda").output)
    assert shown["public"] is True
    withdrawn = json.loads(run(tmp_path, "cameras", "set", str(cam["id"]), "--owner-forbids-public").output)
    assert withdrawn["public"] is False  # the owner's "no" takes it off the public map at once

    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        db.session.add(RecordingSegment(camera_id=cam["id"], path="recordings/1/a.mp4", start_at=now, end_at=now,
                                        bytes=10))
        db.session.add(LegalHold(camera_id=cam["id"], start_at=now, end_at=now, reason="perkara 12"))
        db.session.commit()
        db.engine.dispose()
    run(tmp_path, "cameras", "remove", str(cam["id"]))
    with app.app_context():
        assert db.session.get(Camera, cam["id"]).archived_at is not None
        assert db.session.query(LegalHold).count() == 1 and db.session.query(RecordingSegment).count() == 1
        db.engine.dispose()
    log = run(tmp_path, "audit", "export").output
    assert "izin Polda" in log and "camera.archive" in log and "127.0.0.1:9/s1" in log


def test_workers_add_list_revoke(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").exit_code == 0
    added = CliRunner().invoke(cli, ["workers", "add", "media-1"], env=_env(tmp_path), catch_exceptions=False)
    assert added.exit_code == 0, added.output
    credential = added.stdout.strip()
    assert credential.startswith("pantau_w1_") and "shown once" in added.stderr
    again = CliRunner().invoke(cli, ["workers", "add", "media-1"], env=_env(tmp_path))
    assert again.exit_code == 2 and "has a credential already" in again.output
    listed = json.loads(run(tmp_path, "workers", "list").output)
    assert listed[0]["name"] == "media-1" and listed[0]["credential"] == "active"
    assert listed[0]["last_seen_at"] is None and listed[0]["alive"] is False
    assert credential not in run(tmp_path, "workers", "list").output
    file = tmp_path / "media-2.credential"
    written = CliRunner().invoke(cli, ["workers", "add", "media-2", "--credential-file", str(file)],
                                 env=_env(tmp_path), catch_exceptions=False)
    assert written.exit_code == 0 and file.read_text().startswith("pantau_w1_")
    assert file.read_text().strip() not in written.output and file.stat().st_mode & 0o777 == 0o600
    assert "credential revoked" in run(tmp_path, "workers", "revoke", "media-1").output
    listed = {w["name"]: w for w in json.loads(run(tmp_path, "workers", "list").output)}
    assert listed["media-1"]["credential"] == "revoked" and listed["media-2"]["credential"] == "active"
    reissued = CliRunner().invoke(cli, ["workers", "add", "media-1"], env=_env(tmp_path), catch_exceptions=False)
    assert reissued.exit_code == 0 and reissued.stdout.strip() != credential
    missing = CliRunner().invoke(cli, ["workers", "revoke", "nobody"], env=_env(tmp_path))
    assert missing.exit_code == 2 and "no worker named" in missing.output
