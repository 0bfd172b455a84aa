"""``pantau agency token issue|list|revoke``: agencies' API tokens from the command line (audited)."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from portal.agency import tokens
from portal.models import Agency, AgencyToken, db
from portal.models.audit import record


@click.group("agency")
def agency() -> None:
    """Agencies' own systems: the API tokens of the callback API (/api/agency/v1/)."""


@agency.group("token")
def token() -> None:
    """Issue, list and revoke agency API tokens."""


@token.command("issue")
@click.argument("agency_code")
@click.option("--name", required=True, help="what system holds it, e.g. 'Damkar dispatch server'")
@with_appcontext
def token_issue(agency_code: str, name: str) -> None:
    """Print a new token for the agency AGENCY_CODE (shown once: only its hash is stored)."""
    found = db.session.scalar(select(Agency).where(Agency.code == agency_code))
    if found is None:
        raise click.ClickException(f"no agency with code {agency_code!r}")
    try:
        row, secret = tokens.issue(found, name)
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    record("agency.token_issued", actor="cli", target_type="agency_token", target_id=row.id, agency_id=found.id,
           agency=found.code, name=row.name, hint=row.hint)
    db.session.commit()
    click.echo(f"token id {row.id} for {found.code} ({row.name}); store it now, it is not shown again:", err=True)
    click.echo(secret)


@token.command("list")
@with_appcontext
def token_list() -> None:
    rows = db.session.scalars(select(AgencyToken).order_by(AgencyToken.id)).all()
    click.echo(json.dumps([{
        "id": r.id, "agency": r.agency.code, "name": r.name, "hint": "…" + r.hint,
        "created_at": r.created_at.isoformat(), "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
        "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None} for r in rows], indent=2, ensure_ascii=False))


@token.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int) -> None:
    row = db.session.get(AgencyToken, token_id)
    if row is None:
        raise click.ClickException(f"no token with id {token_id}")
    if not tokens.revoke(row):
        click.echo(f"token {token_id} was revoked already")
        return
    record("agency.token_revoked", actor="cli", target_type="agency_token", target_id=row.id, agency_id=row.agency_id,
           name=row.name, hint=row.hint)
    db.session.commit()
    click.echo(f"token {token_id} revoked")


COMMANDS = (agency,)
