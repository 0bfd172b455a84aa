"""``pantau check`` and ``pantau-transcoder --check``: a production configuration that works passes; each thing
that would not work or is unsafe is named, exits 1, and no secret is printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.footage.evidence import generate_key
from portal.ops.check import FAIL, OK, WARN, Options, run_checks
from tests.conftest import issue_credential, make_settings, migrated_app
from tests.support.tls import make_test_ca
from tests.support.tools import free_port

pytestmark = [pytest.mark.slow]  # real command lines, a migrated database per test

ROOT = Path(__file__).resolve().parents[2]
HOST = "cctv.kendarikota.go.id"
SECRET = "0123456789abcdef0123456789abcdef-production-secret"
LINK_SECRET = "media-link-secret-0123456789abcdefghijklmnop"
_SCRIPT = Path(sys.executable).with_name("pantau")
PANTAU = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-c", "from portal.cli import main; main()"]
_WORKER = Path(sys.executable).with_name("pantau-transcoder")
TRANSCODER = [str(_WORKER)] if _WORKER.is_file() else [sys.executable, "-m", "transcoder"]


def production_env(tmp: Path, database_url: str | None = None) -> dict[str, str]:
    """A migrated database with a worker, the signing key, a media folder: what an operator would have."""
    database_url = database_url or f"sqlite:///{tmp / 'pantau.db'}"
    settings = make_settings(tmp, database_url=database_url, env="production", public_url=f"https://{HOST}")
    generate_key(settings.evidence_key_path)
    app = migrated_app(settings)
    with app.app_context():
        from portal.models import db

        issue_credential("media-1")
        db.engine.dispose()
    (tmp / "media").mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "PANTAU_ENV": "production",
        "PANTAU_SECRET_KEY": SECRET,
        "PANTAU_DATABASE_URL": database_url,
        "PANTAU_PUBLIC_URL": f"https://{HOST}",
        "PANTAU_TRUSTED_HOSTS": HOST,
        "PANTAU_PROXY_COUNT": "1",
        "PANTAU_SERVE_MEDIA": "false",
        "PANTAU_INSTANCE_PATH": str(tmp / "instance"),
        "PANTAU_MEDIA_ROOT": str(tmp / "media"),
        "PANTAU_TILE_URL": "https://tiles.example/{z}/{x}/{y}.png",
        "PANTAU_WORKER_NETWORKS": "127.0.0.0/8",
        "PANTAU_MEDIA_LINK_SECRET": LINK_SECRET,
    }


def levels(findings: list, topic: str) -> set[str]:  # type: ignore[type-arg]
    return {f.level for f in findings if f.topic == topic}


def test_a_good_production_configuration_passes(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    tls = make_test_ca(tmp_path / "tls", hosts=(HOST,))
    findings = run_checks(env, Options(processes=1, tls_certificate=tls.certificate, tls_key=tls.key))
    assert [f for f in findings if f.level == FAIL] == []
    for topic in ("secret key", "public url", "trusted hosts", "database", "migrations", "workers", "signing key",
                  "media", "tls", "rate limits", "media links"):
        assert OK in levels(findings, topic), topic
    # the real command, as systemd's ExecStartPre runs it
    ran = subprocess.run([*PANTAU, "check", "--tls-certificate", str(tls.certificate), "--tls-key", str(tls.key)],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert SECRET not in ran.stdout + ran.stderr and LINK_SECRET not in ran.stdout + ran.stderr
    assert "FAIL" not in ran.stdout and "0 problem(s)" in ran.stdout


def test_each_problem_is_named_and_fails(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    env.update({"PANTAU_SECRET_KEY": "too-short", "PANTAU_TRUSTED_HOSTS": "other.example.go.id",
                "PANTAU_PROXY_COUNT": "0", "PANTAU_SERVE_MEDIA": "true"})
    env.pop("PANTAU_TILE_URL")
    env.pop("PANTAU_MEDIA_LINK_SECRET")
    key = Path(env["PANTAU_INSTANCE_PATH"]) / "keys" / "evidence-ed25519.pem"
    key.chmod(0o644)
    wrong = make_test_ca(tmp_path / "wrong", hosts=("elsewhere.example.go.id",))
    other = make_test_ca(tmp_path / "other", hosts=(HOST,))
    findings = run_checks(env, Options(processes=4, tls_certificate=wrong.certificate, tls_key=other.key))
    text = "\n".join(f.line() for f in findings)
    assert "FAIL  secret key: PANTAU_SECRET_KEY is shorter than 32" in text
    assert f"FAIL  trusted hosts: PANTAU_TRUSTED_HOSTS does not include {HOST}" in text
    assert "FAIL  rate limits: PANTAU_RATELIMIT_STORAGE_URI is memory:// with 4 web processes" in text
    assert f"FAIL  signing key: {key} can be read by other users" in text
    assert f"FAIL  tls: {other.key} is not the key of {wrong.certificate}" in text
    assert f"does not cover {HOST}" in text
    assert "WARN  proxies" in text and "WARN  media: PANTAU_SERVE_MEDIA is on" in text and "WARN  map tiles" in text
    assert "WARN  media links: PANTAU_MEDIA_LINK_SECRET is not set" in text
    assert "too-short" not in text

    env["PANTAU_PUBLIC_URL"] = f"http://{HOST}"
    text = "\n".join(f.line() for f in run_checks(env, Options()))
    assert "FAIL  public url: PANTAU_PUBLIC_URL must be https://" in text
    env["PANTAU_SECOND_FACTOR"] = "off"  # refused by the settings themselves: said, not a traceback
    assert [(f.level, f.topic) for f in run_checks(env, Options())] == [(FAIL, "settings")]


def test_an_unmigrated_database_and_no_worker_fail(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    env["PANTAU_DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.db'}"
    findings = run_checks(env, Options())
    assert "FAIL  migrations: the database is empty: run `pantau db upgrade`" in [f.line() for f in findings]
    ran = subprocess.run([*PANTAU, "check", "--quiet"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert ran.returncode == 1 and "OK " not in ran.stdout and "pantau db upgrade" in ran.stdout


def test_an_unreachable_postgresql_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://pantau:pg-s3cret-pw@127.0.0.1:{free_port()}/pantau"
    env = production_env(tmp_path)
    env["PANTAU_DATABASE_URL"] = url
    findings = run_checks(env, Options())
    database = [f for f in findings if f.topic == "database"]
    assert database and database[-1].level == FAIL
    assert "127.0.0.1" in database[-1].message and "OperationalError" in database[-1].message
    assert "pg-s3cret-pw" not in "\n".join(f.line() for f in findings)


@pytest.mark.postgres
def test_a_migrated_postgresql_passes(tmp_path: Path, pg_url: str) -> None:
    env = production_env(tmp_path, database_url=pg_url)
    findings = run_checks(env, Options())
    assert OK in levels(findings, "migrations") and OK in levels(findings, "workers")
    assert WARN not in levels(findings, "database")  # PostgreSQL: no SQLite warning
    assert [f for f in findings if f.level == FAIL] == []


# -- the worker --

@pytest.fixture()
def portal_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    from tests.e2e.conftest import serve

    app = migrated_app(make_settings(tmp_path))
    with app.app_context():
        credential = issue_credential("media-1")
    server, url = serve(app)
    try:
        yield url, credential
    finally:
        server.shutdown()


def worker_env(tmp: Path, url: str, credential: str) -> dict[str, str]:
    path = tmp / "media-1.credential"
    path.write_text(credential + "\n")
    path.chmod(0o600)
    return {"PATH": os.environ.get("PATH", ""), "PANTAU_PORTAL_URL": url, "PANTAU_WORKER_NAME": "media-1",
            "PANTAU_WORKER_CREDENTIAL_FILE": str(path), "PANTAU_MEDIA_ROOT": str(tmp / "worker-media")}


def test_transcoder_check_passes_for_a_worker_the_portal_knows(tmp_path: Path, portal_url: tuple[str, str]) -> None:
    url, credential = portal_url
    env = worker_env(tmp_path, url, credential)
    ran = subprocess.run([*TRANSCODER, "--check"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "OK    portal: credential accepted for worker 'media-1'" in ran.stdout
    assert "OK    ffmpeg" in ran.stdout and "OK    credential" in ran.stdout and "OK    media" in ran.stdout
    assert credential not in ran.stdout + ran.stderr


def test_transcoder_check_names_what_is_wrong(tmp_path: Path, portal_url: tuple[str, str]) -> None:
    from transcoder.check import run_checks as worker_checks

    url, credential = portal_url
    env = worker_env(tmp_path, url, "not-" + credential[4:])
    Path(env["PANTAU_WORKER_CREDENTIAL_FILE"]).chmod(0o644)
    env["PANTAU_FFMPEG"] = str(tmp_path / "no-ffmpeg-here")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("22 1 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n")
    lines = [f"{level}  {topic}: {message}" for level, topic, message in worker_checks(env, mountinfo=mountinfo)]
    text = "\n".join(lines)
    assert "FAIL  credential:" in text and "can be read by other users" in text
    assert "FAIL  ffmpeg: cannot run ffmpeg" in text
    assert "FAIL  portal: the portal refuses this credential (401)" in text
    assert "WARN  /proc: mounted without hidepid" in text
    assert credential[4:] not in text
    mountinfo.write_text("22 1 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc "
                         "rw,hidepid=invisible\n")
    hidden = [m for level, topic, m in worker_checks(env, mountinfo=mountinfo) if topic == "/proc"]
    assert hidden and "other users cannot read" in hidden[0]
    ran = subprocess.run([*TRANSCODER, "--check"], env={**env, "PANTAU_WORKER_CREDENTIAL_FILE": ""}, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and "FAIL  settings: PANTAU_WORKER_CREDENTIAL or" in ran.stdout


def test_transcoder_check_refuses_plain_http_to_another_machine() -> None:
    from transcoder.check import FAIL as WORKER_FAIL
    from transcoder.check import OK as WORKER_OK
    from transcoder.check import _portal_url
    from transcoder.config import WorkerConfig

    def level(url: str) -> str:
        config = WorkerConfig(portal_url=url, credential="c", media_root=Path("/nonexistent"), name="w")
        return next(_portal_url(config))[0]

    assert level("http://cctv.kendarikota.go.id") == WORKER_FAIL  # built, never dialled
    assert level("https://cctv.kendarikota.go.id") == WORKER_OK
    assert level("http://127.0.0.1:8000") == WORKER_OK


def test_the_signing_key_can_be_made_on_a_production_machine(tmp_path: Path) -> None:
    """In production the portal refuses to start without the key; `pantau keys generate` must still make it."""
    env = production_env(tmp_path)
    key = Path(env["PANTAU_INSTANCE_PATH"]) / "keys" / "evidence-ed25519.pem"
    key.unlink(missing_ok=True)
    made = subprocess.run([*PANTAU, "keys", "generate"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    assert key.is_file() and "fingerprint:" in made.stdout and "PRIVATE" not in made.stdout
    again = subprocess.run([*PANTAU, "keys", "generate"], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode != 0 and key.is_file()  # an existing key is never replaced without --force
