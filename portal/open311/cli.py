"""``pantau open311 keys add|list|revoke``: API keys of the apps that post reports (the key is printed once)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal.models import db
from portal.open311 import keys


@click.group("open311")
def open311() -> None:
    """Open311 GeoReport v2 clients."""


@open311.group("keys")
def keys_group() -> None:
    """API keys of clients that post reports (hashed at rest, audited)."""


def _actor() -> str:
    from portal.auth.cli import cli_actor

    return str(cli_actor()["actor"])


@keys_group.command("add")
@click.argument("name")
@click.option("--contact", default="", help="who runs the app (e-mail or phone)")
@with_appcontext
def keys_add(name: str, contact: str) -> None:
    """Issue an API key for client NAME (printed once; only its hash is kept)."""
    try:
        client, key = keys.issue(name, contact=contact, actor=_actor())
    except keys.KeyRefused as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"client {client.id} {client.name}: api_key (shown once, keep it secret):")
    click.echo(key)


@keys_group.command("list")
@with_appcontext
def keys_list() -> None:
    for client in keys.clients():
        state = "active" if client.active else "revoked"
        used = client.last_used_at.isoformat(timespec="seconds") if client.last_used_at else "never"
        click.echo(f"{client.id}\t{client.name}\t{state}\t{client.key_hint}…\tposted {client.requests_posted}\t"
                   f"last used {used}")


@keys_group.command("revoke")
@click.argument("client")
@with_appcontext
def keys_revoke(client: str) -> None:
    """Revoke the key of CLIENT (its name or number); it stops working at once."""
    found = keys.find(client)
    if found is None:
        raise click.ClickException("no such Open311 client")
    try:
        keys.revoke(found, actor=_actor())
    except keys.KeyRefused as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"revoked the key of {found.name}")
