"""``pantau-transcoder --check``: will this worker run here? Its settings, credential, ffmpeg, media folder, the
portal's answer to its credential, and whether other local users could read camera passwords from ffmpeg's argv.

Prints one line per finding (``FAIL``, ``WARN``, ``OK``) and returns 1 when anything would fail. Never prints
the credential.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from contract import worker_api
from transcoder.config import ConfigError, WorkerConfig
from transcoder.ffmpeg import find_ffmpeg

FAIL, WARN, OK = "FAIL", "WARN", "OK"
Finding = tuple[str, str, str]  # level, topic, message


def run_checks(environ: Mapping[str, str], *, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Finding]:
    try:
        config = WorkerConfig.from_env(environ)
    except ConfigError as exc:
        return [(FAIL, "settings", str(exc))]
    findings = list(_credential(environ))
    findings += _portal_url(config)
    findings += _ffmpeg(config)
    findings += _media(config)
    findings += _proc_hidden(mountinfo)
    findings += _portal_answers(config)
    return findings


def _credential(environ: Mapping[str, str]) -> Iterator[Finding]:
    path = environ.get("PANTAU_WORKER_CREDENTIAL_FILE")
    if not path:
        yield (WARN, "credential", "given in PANTAU_WORKER_CREDENTIAL: prefer PANTAU_WORKER_CREDENTIAL_FILE "
                                   "(systemd's LoadCredential=), out of the process environment")
        return
    mode = Path(path).stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        yield (FAIL, "credential", f"{path} can be read by other users: chmod 600 {path}")
    else:
        yield (OK, "credential", f"{path} (private)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _portal_url(config: WorkerConfig) -> Iterator[Finding]:
    parts = urlsplit(config.portal_url)
    if parts.scheme == "https" or _loopback(parts.hostname or ""):
        yield (OK, "portal url", config.portal_url)
    else:
        yield (FAIL, "portal url", f"{config.portal_url} is plain http to another machine: the credential and "
                                   "the cameras' sources would cross the network readable; use https://")


def _ffmpeg(config: WorkerConfig) -> Iterator[Finding]:
    try:
        ffmpeg = find_ffmpeg(config.ffmpeg)
        ran = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True, timeout=20)
    except (FileNotFoundError, OSError, subprocess.SubprocessError) as exc:
        yield (FAIL, "ffmpeg", f"cannot run ffmpeg: {exc}")
        return
    if ran.returncode != 0:
        yield (FAIL, "ffmpeg", f"{ffmpeg} -version exited {ran.returncode}")
        return
    first = (ran.stdout.splitlines() or ["ffmpeg"])[0]
    yield (OK, "ffmpeg", f"{ffmpeg}: {first[:80]}")


def _media(config: WorkerConfig) -> Iterator[Finding]:
    root = config.media_root
    probe = root if root.exists() else root.parent
    if root.exists() and not root.is_dir():
        yield (FAIL, "media", f"{root} (PANTAU_MEDIA_ROOT) is not a folder")
        return
    if not os.access(probe, os.W_OK | os.X_OK):
        yield (FAIL, "media", f"{root} (PANTAU_MEDIA_ROOT) cannot be written by this user")
        return
    for sub in ("hls", "recordings", "snapshots", "exports"):
        folder = root / sub
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            yield (FAIL, "media", f"{folder} cannot be written by this user")
            return
    usage = shutil.disk_usage(probe)
    floor = max(config.disk_min_free_bytes, usage.total * config.disk_min_free_percent / 100)
    if usage.free < floor:
        yield (WARN, "media", f"{probe} has {usage.free // 2**20} MiB free, under the disk guard's floor "
                              f"({int(floor) // 2**20} MiB): the oldest footage will be deleted")
    else:
        yield (OK, "media", f"{root} writable, {usage.free // 2**30} GiB free")


def _proc_hidden(mountinfo: Path) -> Iterator[Finding]:
    """ffmpeg's argv carries each camera's source URL, password included: /proc must hide it from other users."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and fields[4] == "/proc":
            options = line.split(" - ", 1)[-1].split()[-1] if " - " in line else ""
            if "hidepid=2" in options or "hidepid=invisible" in options or "hidepid=noaccess" in options \
                    or "hidepid=1" in options:
                yield (OK, "/proc", "mounted with hidepid: other users cannot read ffmpeg's argv")
            else:
                yield (WARN, "/proc", "mounted without hidepid: other local users can read camera passwords in "
                                      "ffmpeg's command line; mount /proc with hidepid=invisible (docs/deploy.md)")
            return


def _portal_answers(config: WorkerConfig) -> Iterator[Finding]:
    request = urllib.request.Request(f"{config.portal_url}{worker_api.BASE_PATH}/ping",
                                     headers={"Authorization": f"Bearer {config.credential}",
                                              "User-Agent": "pantau-transcoder/1 (check)"})
    try:
        with urllib.request.urlopen(request, timeout=config.http_timeout_s) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            yield (FAIL, "portal", f"the portal refuses this credential ({exc.code}): issue one with "
                                   "`pantau workers add NAME` on the portal")
        else:
            yield (FAIL, "portal", f"the portal answered {exc.code}")
        return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        yield (FAIL, "portal", f"cannot reach {config.portal_url}: {reason}")
        return
    name = answer.get("worker") if isinstance(answer, dict) else None
    if name != config.name:
        yield (WARN, "portal", f"the portal knows this credential as worker {name!r}, not {config.name!r} "
                               "(PANTAU_WORKER_NAME)")
    else:
        yield (OK, "portal", f"credential accepted for worker {name!r}")


def report(findings: list[Finding], echo: Callable[[str], None]) -> int:
    for level, topic, message in findings:
        echo(f"{level:4}  {topic}: {message}")
    fails = sum(level == FAIL for level, _, _ in findings)
    warns = sum(level == WARN for level, _, _ in findings)
    echo(f"{fails} problem(s), {warns} warning(s)" if fails or warns else "all checks passed")
    return 1 if fails else 0
