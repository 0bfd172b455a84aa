"""Running Pantau for real: ``pantau check`` (a production configuration, before start-up)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from portal.ops.check import Options, report, run_checks


@click.command("check")
@click.option("--processes", type=click.IntRange(1, 512), envvar="WEB_CONCURRENCY", default=1, show_default=True,
              help="web (gunicorn) processes per machine; gunicorn reads the same WEB_CONCURRENCY")
@click.option("--tls-certificate", type=click.Path(dir_okay=False, path_type=Path), envvar="PANTAU_TLS_CERTIFICATE",
              help="the certificate chain nginx serves")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), envvar="PANTAU_TLS_KEY",
              help="its private key")
@click.option("--quiet", "-q", is_flag=True, help="print only problems and warnings")
@click.option("--strict", is_flag=True, help="warnings fail too")
def check(processes: int, tls_certificate: Path | None, tls_key: Path | None, quiet: bool, strict: bool) -> None:
    """Check this machine's production configuration (PANTAU_* settings, database, keys, files, TLS) and say
    what is wrong; exit 1 when anything would not work or is unsafe."""
    findings = run_checks(os.environ, Options(processes=processes, tls_certificate=tls_certificate,
                                              tls_key=tls_key))
    fails, warns = report(findings, click.echo, quiet=quiet)
    sys.exit(1 if fails or (strict and warns) else 0)


COMMANDS = [check]
