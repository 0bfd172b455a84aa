"""Two systems (or a system retrying while its first request is still running) at once: a step is recorded once,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from portal.models import AgencyCallback, Dispatch, IncidentEvent, db
from tests.agency.conftest import api_token, dispatched


def _together(app: Flask, calls: list[dict[str, Any]], path: str, token: str) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        reply = client.post(path, json=calls[i], headers={"Authorization": f"Bearer {token}"})
        answers[i] = (reply.status_code, reply.get_json())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def test_concurrent_requests_record_a_step_once(any_db_app: Flask) -> None:
    token = api_token("damkar")
    _incident, [d] = dispatched("damkar")
    dispatch_id = d.id
    db.session.remove()
    path = f"/api/agency/v1/dispatches/{dispatch_id}/status"
    same = _together(any_db_app, [{"status": "acknowledged", "request_id": "retry-1"}] * 6, path, token)
    assert all(code == 200 for code, _ in same), same
    assert len({str(body) for _, body in same}) == 1  # every retry got the first answer
    different = _together(any_db_app, [{"status": "on_scene", "request_id": f"unit-{i}"} for i in range(6)],
                          path, token)
    codes = sorted(code for code, _ in different)
    assert codes == [200, 409, 409, 409, 409, 409], different
    db.session.remove()
    assert db.session.get(Dispatch, dispatch_id).status == "on_scene"  # type: ignore[union-attr]
    statuses = list(db.session.scalars(select(IncidentEvent.data).where(IncidentEvent.kind == "dispatch_status")))
    assert [s["status"] for s in statuses] == ["acknowledged", "on_scene"]
    assert db.session.scalar(select(func.count()).select_from(AgencyCallback)) == 7
