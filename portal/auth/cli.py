"""``pantau users ...`` and ``pantau audit ...``: accounts and the audit log from the shell (the first admin too).

Shell changes are audited with the actor ``cli:<OS user>``.
"""

from __future__ import annotations

import csv
import getpass
import json
import sys
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.auth.accounts import (
    AccountError,
    create_user,
    find_agency,
    find_user,
    reset_password,
    reset_second_factor,
    update_user,
)
from portal.models import AuditEntry, User, db
from portal.models.audit import verify_chain
from portal.models.people import ROLES


def cli_actor() -> dict[str, Any]:
    try:
        who = getpass.getuser()
    except Exception:  # no user name in a bare container
        who = "unknown"
    return {"actor": f"cli:{who}"[:120], "actor_user_id": None, "ip": None}


def _as_cli(fn):  # type: ignore[no-untyped-def]
    """Turn AccountError into a usage error (exit 2) naming the field, never echoing a password."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except AccountError as exc:
            db.session.rollback()
            raise click.UsageError(str(exc)) from None

    return wrapper


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role, "full_name": user.full_name,
            "email": user.email, "agency": user.agency.code if user.agency else None, "active": user.active,
            "second_factor": user.has_second_factor, "must_change_password": user.must_change_password,
            "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None}


def _user(username: str) -> User:
    user = find_user(username)
    if user is None:
        raise click.UsageError(f"no user {username!r}")
    return user


def _retag_cli_entries() -> None:
    """Entries written by the account services in this command carry the shell's actor."""
    actor = cli_actor()
    for entry in db.session.new:
        if isinstance(entry, AuditEntry) and entry.actor in ("system", "anonymous"):
            entry.actor = actor["actor"]


@click.group(cls=AppGroup)
def users() -> None:
    """Create, change, disable users and reset their passwords."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="PANTAU_NEW_USER_PASSWORD", help="prompted for when not given (or PANTAU_NEW_USER_PASSWORD)")
@click.option("--full-name", default="")
@click.option("--email", default="")
@click.option("--agency", "agency_code", help="agency code (required for agency staff)")
@_as_cli
def users_create(username: str, role: str, password: str, full_name: str, email: str,
                 agency_code: str | None) -> None:
    """Create a user (the first admin is created this way)."""
    user = create_user(username, role=role, password=password, full_name=full_name, email=email,
                       agency=find_agency(agency_code))
    _retag_cli_entries()
    db.session.commit()
    click.echo(json.dumps({"id": user.id, "username": user.username, "role": role}))


@users.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES))
@click.option("--full-name")
@click.option("--email")
@click.option("--agency", "agency_code", help="agency code; '-' removes the agency")
@click.option("--active/--inactive", default=None)
@click.option("--reset-second-factor", "reset_2fa", is_flag=True,
              help="the user enrols a new authenticator at next sign-in")
@_as_cli
def users_set(username: str, role: str | None, full_name: str | None, email: str | None, agency_code: str | None,
              active: bool | None, reset_2fa: bool) -> None:
    """Change a user's role, agency, name, e-mail or active flag."""
    user = _user(username)
    changes: dict[str, Any] = {"full_name": full_name, "email": email, "active": active}
    if role:
        changes["role"] = role
    if agency_code is not None:
        changes["agency"] = None if agency_code == "-" else find_agency(agency_code)
    update_user(user, changes)
    if reset_2fa:
        reset_second_factor(user)
    _retag_cli_entries()
    db.session.commit()
    click.echo(json.dumps(user_json(user), ensure_ascii=False))


@users.command("disable")
@click.argument("username")
@_as_cli
def users_disable(username: str) -> None:
    """Disable a user: their sessions end at once; nothing is deleted (the audit log points at them)."""
    user = _user(username)
    update_user(user, {"active": False})
    _retag_cli_entries()
    db.session.commit()
    click.echo(f"disabled {user.username}")


@users.command("enable")
@click.argument("username")
@_as_cli
def users_enable(username: str) -> None:
    user = _user(username)
    update_user(user, {"active": True})
    _retag_cli_entries()
    db.session.commit()
    click.echo(f"enabled {user.username}")


@users.command("reset-password")
@click.argument("username")
@click.option("--password", default=None, help="the new password (a random one is made and shown once if omitted)")
@click.option("--keep/--must-change", "keep", default=False, help="must the user choose a new one at next sign-in")
@_as_cli
def users_reset_password(username: str, password: str | None, keep: bool) -> None:
    """Give a user a new password and end their sessions."""
    user = _user(username)
    new = reset_password(user, password, must_change=not keep)
    _retag_cli_entries()
    db.session.commit()
    if password is None:
        click.echo(f"new password for {user.username} (shown once): {new}")
    else:
        click.echo(f"password of {user.username} changed")


@users.command("list")
def users_list() -> None:
    rows = [user_json(u) for u in db.session.scalars(select(User).order_by(User.username))]
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@click.group(cls=AppGroup)
def audit() -> None:
    """Check and export the audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the hash chain: exit 1 and name the entries when one was changed, removed or inserted."""
    report = verify_chain()
    if report.ok:
        click.echo(f"audit log intact: {report.entries} entries, head seq {report.head_seq} hash {report.head_hash}")
        return
    click.echo(f"audit log BROKEN ({report.entries} entries checked):", err=True)
    for problem in report.problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(1)


@audit.command("export")
@click.option("--since", default=None, help="ISO date or time (UTC)")
def audit_export(since: str | None) -> None:
    """The audit log as CSV on standard output."""
    from portal.admin.audit_log import CSV_COLUMNS, csv_row, search
    from portal.admin.audit_log import Query as AuditQuery

    query = AuditQuery.from_args({"since": since or ""})
    writer = csv.writer(sys.stdout)
    writer.writerow(CSV_COLUMNS)
    for entry in search(query, limit=None):
        writer.writerow(csv_row(entry))

