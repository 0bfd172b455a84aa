"""Fuzzing the agency callback API and the CAP Ack endpoint (hypothesis): whatever a system sends, the answer
is never a server error, and a dispatch only ever moves along the allowed transitions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.agency import service
from portal.models import Dispatch, db
from tests.agency.conftest import api_token, dispatched

pytestmark = pytest.mark.slow

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5),
    max_leaves=20,
)
BODIES = st.one_of(
    st.fixed_dictionaries({}, optional={
        "status": st.sampled_from([*service.AGENCY_STATUSES, *service.ALIASES, "pending", "sent", "cancelled", ""])
        | JSON_VALUES,
        "reason": st.text(max_size=700) | JSON_VALUES,
        "request_id": st.text(max_size=120) | JSON_VALUES,
    }),
    JSON_VALUES,
)
CAP_FIELDS = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)


@pytest.fixture()
def target(any_db_app: Flask) -> dict[str, Any]:
    token = api_token("damkar")
    _incident, [mine] = dispatched("damkar")
    _other, [theirs] = dispatched("dinkes")
    ids = (mine.id, theirs.id)
    db.session.remove()
    return {"app": any_db_app, "auth": {"Authorization": f"Bearer {token}"}, "ids": ids}


def _statuses(ids: tuple[int, ...]) -> list[str]:
    db.session.remove()
    return [db.session.get(Dispatch, i).status for i in ids]  # type: ignore[union-attr]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, which=st.integers(min_value=0, max_value=2), raw=st.booleans())
def test_status_changes_never_fail_the_server(target: dict[str, Any], body: Any, which: int, raw: bool) -> None:
    client = target["app"].test_client()
    dispatch_id = (*target["ids"], 2**31 - 1)[which]
    before = _statuses(target["ids"])
    data = json.dumps(body) if not raw else json.dumps(body)[:-1] + "\x00"
    reply = client.post(f"/api/agency/v1/dispatches/{dispatch_id}/status", data=data, headers=target["auth"],
                        content_type="application/json")
    assert reply.status_code < 500 and reply.is_json
    after = _statuses(target["ids"])
    assert after[1] == before[1] == "pending"  # another agency's dispatch never moves
    if after[0] != before[0]:
        assert reply.status_code == 200 and after[0] in service.TRANSITIONS[before[0]]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identifier=CAP_FIELDS, msg_type=st.sampled_from(["Ack", "Alert", "Error", ""]) | CAP_FIELDS,
       reference=CAP_FIELDS, junk=st.binary(max_size=200), shape=st.integers(min_value=0, max_value=2))
def test_cap_acks_never_fail_the_server(target: dict[str, Any], identifier: str, msg_type: str, reference: str,
                                        junk: bytes, shape: int) -> None:
    client = target["app"].test_client()
    mine = target["ids"][0]
    ref = reference if shape == 1 else f"pantau@x,pantau-kota-kendari-dispatch-{mine},2026-12-01T09:00:00+08:00"
    document = (f'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>{identifier}</identifier>'
                f"<sender>s</sender><sent>2026-12-01T10:00:00+08:00</sent><status>Actual</status>"
                f"<msgType>{msg_type}</msgType><scope>Private</scope><references>{ref}</references></alert>")
    data = junk if shape == 2 else document.encode("utf-8", "surrogatepass")
    reply = client.post("/api/agency/v1/cap", data=data, headers={**target["auth"], "Content-Type": "application/xml"})
    assert reply.status_code < 500 and reply.is_json
    assert _statuses(target["ids"])[1] == "pending"
