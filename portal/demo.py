"""``pantau demo``: one command that migrates, seeds Kendari cameras and runs the portal and a worker."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

# Real places in and around Kendari (approximate coordinates), each fed by the looped demo clip.
DEMO_CAMERAS: list[dict[str, Any]] = [
    {"name": "Tugu MTQ Square", "latitude": -3.98195, "longitude": 122.51868, "district": "Mandonga",
     "category": "public_space", "description": "Kawasan Eks MTQ dan Tugu Persatuan."},
    {"name": "Kendari Beach", "latitude": -3.96640, "longitude": 122.59310, "district": "Kendari",
     "category": "beach", "description": "Pantai Kendari di Jalan Ir. H. Alala."},
    {"name": "Kali Kadia", "latitude": -3.98720, "longitude": 122.52520, "district": "Kadia",
     "category": "river", "description": "Sungai Kadia, pantauan banjir."},
    {"name": "Pantai Nambo", "latitude": -4.03530, "longitude": 122.62770, "district": "Nambo",
     "category": "beach", "description": "Pantai Nambo, tujuan wisata akhir pekan."},
    {"name": "Jembatan Teluk Kendari", "latitude": -3.97420, "longitude": 122.60250, "district": "Abeli",
     "category": "traffic", "description": "Jembatan Teluk Kendari, lalu lintas dua arah."},
    {"name": "Balai Kota Kendari", "latitude": -3.97100, "longitude": 122.51400, "district": "Kadia",
     "category": "government", "description": "Halaman Balai Kota Kendari."},
]


def find_ffmpeg() -> str:
    """The system's ffmpeg where there is one, else the binary shipped in the imageio-ffmpeg wheel."""
    found = os.environ.get("PANTAU_FFMPEG") or shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def make_clip(path: Path, ffmpeg: str) -> Path:
    """Encode the demo clip once: 720p, 25 fps, a keyframe every second, no B-frames, 2 Mbps."""
    if path.exists() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    argv = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
        "-i", "testsrc2=size=1280x720:rate=25", "-t", "20", "-c:v", "libx264", "-preset", "veryfast",
        "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-bf", "0", "-sc_threshold", "0",
        "-b:v", "2M", "-maxrate", "2M", "-bufsize", "4M", "-movflags", "+faststart", str(tmp),
    ]
    subprocess.run(argv, check=True)
    tmp.replace(path)
    return path


def seed(clip: Path) -> int:
    """Add the demo cameras once (a database that has cameras is left alone)."""
    from sqlalchemy import func, select

    from portal.models import Camera, db

    if db.session.scalar(select(func.count()).select_from(Camera)):
        return 0
    for spec in DEMO_CAMERAS:
        db.session.add(Camera(source_url=str(clip), public=True, enabled=True, recording=True,
                              retention_days=1, **spec))
    db.session.commit()
    return len(DEMO_CAMERAS)


# Kendari's agencies (code, name, kind) and which categories each gets (routing rules, SLA minutes)
DEMO_AGENCIES = (
    ("polresta", "Polresta Kendari", "police", ("crime", "brawl", "accident", "missing_person"), 10),
    ("damkar", "Damkar Kota Kendari", "fire", ("fire",), 5),
    ("dinkes", "Dinas Kesehatan / PSC 119", "health", ("medical", "accident"), 10),
    ("basarnas", "Basarnas Kendari", "search_rescue", ("missing_person", "disaster"), 15),
    ("bpbd", "BPBD Kota Kendari", "disaster", ("disaster",), 15),
    ("pln", "PLN UP3 Kendari", "electricity", ("city_problem",), 60),
    ("satpolpp", "Satpol PP Kota Kendari", "public_order", ("brawl", "city_problem", "other"), 30),
    ("dishub", "Dinas Perhubungan", "transport", ("accident",), 30),
)
# one account per role, all with the demo's staff password (var/demo/staff_password, made once)
DEMO_STAFF = (("admin", "admin", None), ("operator", "operator", None), ("damkar", "agency", "damkar"),
              ("polisi", "police", "polresta"), ("pimpinan", "leadership", None))


def seed_112(password: str) -> bool:
    """Agencies, routing rules and one account per role, once (a database with agencies is left alone), so the
    demo's 112 side works at once: report on /lapor, take it in /konsol as operator, act on /instansi as damkar."""
    from sqlalchemy import func, select

    from portal.auth.accounts import create_user
    from portal.models import Agency, RoutingRule, db

    if db.session.scalar(select(func.count()).select_from(Agency)):
        return False
    agencies = {}
    for code, name, kind, categories, sla in DEMO_AGENCIES:
        agencies[code] = agency = Agency(code=code, name=name, kind=kind)
        db.session.add(agency)
        db.session.flush()
        for category in categories:
            db.session.add(RoutingRule(category=category, agency_id=agency.id, sla_minutes=sla))
    for username, role, agency_code in DEMO_STAFF:
        create_user(username, role=role, password=password, full_name=f"Petugas {role}",
                    agency=agencies[agency_code] if agency_code else None)
    db.session.commit()
    return True


def _evidence_key(path: Path) -> None:
    """The city's signing key for evidence manifests, made once (``pantau keys generate``)."""
    from portal.footage import evidence

    if not path.exists():
        public = evidence.generate_key(path)
        click.echo(f"evidence signing key made: {path} (fingerprint {evidence.fingerprint(public)[:16]}...)")


def worker_credential(path: Path, name: str) -> Path:
    """The demo worker's own credential, kept in a 0600 file across runs (the database has only its hash);
    issued anew when the file is missing or no longer matches."""
    from portal.models import db
    from portal.workers import credentials

    try:
        kept = path.read_text().strip()
    except OSError:
        kept = ""
    worker = credentials.worker_for(kept)
    if worker is None or worker.name != name:
        try:
            credentials.revoke(name)
        except credentials.CredentialError:
            pass  # a new database: no such worker yet
        credential = credentials.issue(name)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(credential + "\n")
        db.session.commit()
    return path


def _secret(path: Path, size: int = 32) -> str:
    if not path.exists():
        path.write_text(secrets.token_hex(size))
        path.chmod(0o600)
    return path.read_text().strip()


@click.command("demo")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--var", "var_dir", default="var/demo", show_default=True, type=click.Path(file_okay=False))
def demo(port: int, host: str, var_dir: str) -> None:
    """Migrate, seed six Kendari cameras, start the portal and a worker; Ctrl-C stops everything."""
    var = Path(var_dir).resolve()
    var.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PANTAU_WORKER_TOKEN", "PANTAU_WORKER_CREDENTIAL")}
    env.update({
        "PANTAU_ENV": "demo",
        "PANTAU_INSTANCE_PATH": str(var),
        "PANTAU_MEDIA_ROOT": str(var / "media"),
        "PANTAU_ALLOW_FILE_SOURCES": "true",
        "PANTAU_SERVE_MEDIA": "true",
        "PANTAU_SECRET_KEY": _secret(var / "secret_key"),
        "PANTAU_WORKER_CREDENTIAL_FILE": str(var / "worker_credential"),
        "PANTAU_PORTAL_URL": f"http://127.0.0.1:{port}",
        "PANTAU_WORKER_NAME": "demo-worker",
        # recordings kept an hour (the demo once wrote 5.6 GB an hour and kept a day): a laptop never fills
        "PANTAU_RETENTION_MAX_S": os.environ.get("PANTAU_RETENTION_MAX_S", "3600"),
        "PANTAU_RETENTION_INTERVAL_S": os.environ.get("PANTAU_RETENTION_INTERVAL_S", "60"),
    })
    os.environ.update(env)
    from flask_migrate import upgrade

    from portal.app import create_app

    ffmpeg = find_ffmpeg()
    click.echo(f"ffmpeg: {ffmpeg}")
    clip = make_clip(var / "demo-clip.mp4", ffmpeg)
    app = create_app()
    with app.app_context():
        upgrade()
        added = seed(clip)
        _evidence_key(app.config["PANTAU"].evidence_key_path)
        worker_credential(var / "worker_credential", "demo-worker")
        staff_password = _secret(var / "staff_password", 9)
        seed_112(staff_password)
    click.echo(f"database ready ({added} demo cameras added)" if added else "database ready")
    env["PANTAU_FFMPEG"] = ffmpeg
    bindir = Path(sys.executable).parent
    gunicorn = [str(bindir / "gunicorn"), "--bind", f"{host}:{port}", "--workers", "2", "--threads", "4",
                "--worker-class", "gthread", "--log-level", "warning", "wsgi:app"]
    root = Path(__file__).resolve().parent.parent
    # Own sessions, so a Ctrl-C reaches only this process, which then stops the worker first (its last sync
    # hands over the last recording segments) and the portal after it; SIGTERM reaches them if we die.
    spawn = {"env": env, "cwd": root, "start_new_session": True, "preexec_fn": _die_with_parent(os.getpid())}
    children = [subprocess.Popen(gunicorn, **spawn)]  # type: ignore[call-overload]
    children.append(subprocess.Popen([sys.executable, "-m", "transcoder"], **spawn))  # type: ignore[call-overload]
    # the jobs process: dispatch delivery (webhooks, CAP, e-mail) with retries, SLA escalation, and the footage
    # turn (export expiry, hold release) once a minute
    children.append(subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", "from portal.cli import main; main()", "jobs"], **spawn))
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    click.echo(f"\nPantau is running: http://{host}:{port}/   (Ctrl-C stops everything)")
    pantau = Path(sys.executable).parent / "pantau"
    click.echo(f"Report to 112: http://{host}:{port}/lapor   Staff: http://{host}:{port}/masuk as "
               + ", ".join(f"{name} ({role})" for name, role, _ in DEMO_STAFF)
               + f"; the demo's staff password is in {var / 'staff_password'}\n"
               f"  (more accounts: PANTAU_INSTANCE_PATH={var} {pantau} users create NAME --role ROLE)\n")
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in reversed(children):  # the jobs process, the worker, then the portal
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        click.echo("Pantau stopped.")


def _die_with_parent(parent: int) -> Callable[[], None]:
    """``PR_SET_PDEATHSIG``: the kernel sends SIGTERM to the child when this process dies, however it dies."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None

    def preexec() -> None:
        if libc is not None:
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec
