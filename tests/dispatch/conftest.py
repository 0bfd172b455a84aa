"""Dispatch fixtures: an agency with a webhook, a CAP endpoint and an e-mail address, a routing rule, a report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from portal.dispatch import sealing
from portal.incidents.codes import new_tracking_code
from portal.models import Agency, Incident, RoutingRule, db
from tests.support.receiver import Receiver

SECRET = "whsec_test-shared-secret"


@dataclass
class Scene:
    agency: Agency
    receiver: Receiver


def add_agency(app: Flask, receiver_url: str | None, *, code: str = "damkar", email: str = "damkar@127.0.0.1",
               secret: str = SECRET, cap: bool = True) -> Agency:
    agency = Agency(code=code, name=f"{code.upper()} Kendari", kind="fire", email=email,
                    webhook_url=f"{receiver_url}/hook" if receiver_url else None,
                    cap_url=f"{receiver_url}/cap" if receiver_url and cap else None,
                    cap_address=f"{code}@kendarikota.go.id",
                    webhook_secret=sealing.seal(secret, app.config["PANTAU"].secret_key))
    db.session.add(agency)
    db.session.flush()
    db.session.add(RoutingRule(category="fire", agency_id=agency.id, sla_minutes=10))
    db.session.commit()
    return agency


def add_incident(**fields: Any) -> Incident:
    values: dict[str, Any] = {
        "tracking_code": new_tracking_code(), "category": "fire", "description": "Rumah terbakar <b>dekat pasar</b>",
        "latitude": -3.9719, "longitude": 122.5147, "address": "Jl. Ahmad Yani", "district": "Kadia",
        "reporter_name": "Wa Ode", "reporter_phone": "+6281234567890", "status": "verified", "priority": 2,
    }
    values.update(fields)
    incident = Incident(**values)
    db.session.add(incident)
    db.session.commit()
    return incident


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver(secret=SECRET).start()
    yield server
    server.stop()


class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 keeping what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from tests.support.tools import free_port

        self.messages: list[Any] = []
        self.port = free_port()
        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                from email import message_from_bytes, policy

                mailbox.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture()
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box
