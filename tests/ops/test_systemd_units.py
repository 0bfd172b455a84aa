"""deploy/systemd: the units pass ``systemd-analyze verify`` (with the paths of this checkout, so every command
they run must exist), each restarts, has resource limits and is hardened, and the commands they run are real."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SERVICES = ("pantau-portal.service", "pantau-jobs.service", "pantau-transcoder@.service", "pantau-nginx.service")
VENV_BIN = Path(sys.executable).parent


def parse(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def installed_copy(folder: Path) -> list[Path]:
    """The units as installed on a machine where the checkout is /opt/pantau, pointed at this checkout."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for unit in sorted(UNITS.iterdir()):
        text = unit.read_text().replace("/opt/pantau/.venv/bin", str(VENV_BIN)).replace("/opt/pantau", str(ROOT))
        name = unit.name.replace("@.service", "@media-1.service")  # an instance, as systemctl would load it
        (folder / name).write_text(text)
        paths.append(folder / name)
    return paths


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", reason="the units are checked with systemd-analyze verify")
    units = installed_copy(tmp_path / "units")
    assert {u.name for u in units} >= {"pantau-portal.service", "pantau-jobs.service", "pantau-nginx.service",
                                       "pantau-transcoder@media-1.service", "pantau.target"}
    ran = subprocess.run([analyze, "verify", "--man=no", *map(str, units)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path / "units")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    ours = [line for line in (ran.stdout + ran.stderr).splitlines() if "pantau" in line]
    assert ours == [], ours  # not even a warning about an unknown key
    assert "pantau-portal.socket" in {u.name for u in units}

    # and the check is real: a command that does not exist is caught
    broken = tmp_path / "units" / "pantau-portal.service"
    broken.write_text(re.sub(r"^ExecStart=\S+", "ExecStart=/nonexistent/gunicorn", broken.read_text(), flags=re.M))
    refused = subprocess.run([analyze, "verify", "--man=no", str(broken)], capture_output=True, text=True,
                             timeout=120, cwd=tmp_path / "units")
    assert refused.returncode != 0 and "/nonexistent/gunicorn" in refused.stdout + refused.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_restarts_is_limited_and_hardened(name: str) -> None:
    service = parse(name)["Service"]
    assert service["Restart"] in ("always", "on-failure"), name
    for limit in ("MemoryMax", "TasksMax", "LimitNOFILE", "TimeoutStopSec"):
        assert service.get(limit), f"{name}: no {limit}"
    assert service["NoNewPrivileges"] == "yes" and service["PrivateTmp"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["ProtectHome"] == "yes"
    assert service["User"] != "root" and "ReadWritePaths" in service
    assert service["KillMode"] == "mixed"  # the main process stops its children itself, leftovers are killed
    assert parse(name)["Install"]["WantedBy"] == "pantau.target"


def test_secrets_never_travel_in_the_environment() -> None:
    worker = parse("pantau-transcoder@.service")["Service"]
    assert worker["LoadCredential"] == "worker:/etc/pantau/workers/%i.credential"
    assert "PANTAU_WORKER_CREDENTIAL_FILE=%d/worker" in worker["Environment"]
    assert worker["ExecStartPre"].startswith("-"), "a worker starts even while the portal is away"
    nginx = parse("pantau-nginx.service")["Service"]
    assert nginx["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE" and nginx["User"] == "www-data"
    assert "tls.key:" in (UNITS / "pantau-nginx.service").read_text()
    portal = parse("pantau-portal.service")["Service"]
    assert portal["ExecStartPre"].endswith("pantau check --quiet")  # a broken configuration says why, before start


def test_the_commands_the_units_run_exist() -> None:
    """Every ``pantau`` subcommand and ``pantau-transcoder`` option used by a unit is real."""
    pantau = VENV_BIN / "pantau"
    help_text = subprocess.run([str(pantau), "--help"], capture_output=True, text=True, timeout=60).stdout
    commands = set(re.findall(r"^  ([a-z][a-z-]*)\s", help_text, re.M))
    used: set[str] = set()
    for name in SERVICES:
        for line in (UNITS / name).read_text().splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=")):
                argv = shlex.split(line.split("=", 1)[1].lstrip("-"))
                if argv[0].endswith("/pantau"):
                    used.add(argv[1])
                if argv[0].endswith("/pantau-transcoder") and len(argv) > 1:
                    ran = subprocess.run([str(VENV_BIN / "pantau-transcoder"), "--help"], capture_output=True,
                                         text=True, timeout=60)
                    assert all(option in ran.stdout for option in argv[1:]), argv
    assert "check" in used and "check" in commands
    # `pantau jobs` is the 112 jobs area's (portal/jobs); until it is merged, only its absence is allowed
    missing = used - commands
    if not (ROOT / "portal" / "jobs").is_dir():
        missing.discard("jobs")
    assert not missing, f"units run pantau subcommands that do not exist: {sorted(missing)}"


def test_the_portal_listens_on_a_socket_systemd_keeps_open_across_restarts() -> None:
    """Socket activation: requests that arrive while the portal restarts wait in the socket's queue (make soak:
    no 5xx through a portal restart); gunicorn takes the socket from systemd, so it binds nothing itself."""
    socket_unit = parse("pantau-portal.socket")
    assert socket_unit["Socket"]["ListenStream"] == "127.0.0.1:8000"
    assert "pantau.target" in socket_unit["Install"]["WantedBy"]
    portal = parse("pantau-portal.service")
    assert portal["Unit"]["Requires"] == "pantau-portal.socket" and "pantau-portal.socket" in portal["Unit"]["After"]
    assert "--bind" not in portal["Service"]["ExecStart"] and " -b " not in portal["Service"]["ExecStart"]
