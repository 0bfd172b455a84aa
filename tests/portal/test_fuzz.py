"""Fuzzing from the OpenAPI document (schemathesis): the public pages and APIs and the worker API, on SQLite
and on PostgreSQL, never answer with a server error, whatever is sent: values inside the documented bounds
(positive) and outside them, of the wrong type or encoding (negative). Bounded examples per operation and
mode, so the whole runs in a few minutes."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from portal.models import db
from portal.openapi import document
from tests.conftest import add_camera, issue_credential

pytestmark = pytest.mark.slow
EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 60}
OPERATIONS = [(path, method) for path, item in document()["paths"].items() for method in item]
# Negative cases need something to break: parameters or a body.
CASES = [(path, method, mode) for path, method in OPERATIONS for mode in EXAMPLES
         if mode is GenerationMode.POSITIVE or {"parameters", "requestBody"} & set(document()["paths"][path][method])]


@pytest.fixture()
def fuzzed(any_db_app: Flask) -> dict[str, Any]:
    for i in range(3):
        add_camera(name=f"Kamera {i}")
    add_camera(name="Rahasia", public=False)
    credential = issue_credential("fuzz-worker")
    db.session.remove()  # the fuzzer's requests run in their own sessions
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", any_db_app)
    return {"schema": schema, "auth": {"Authorization": f"Bearer {credential}"}}


def test_the_document_covers_the_public_and_worker_apis() -> None:
    paths = {path for path, _ in OPERATIONS}
    assert {"/api/worker/v1/sync", "/api/worker/v1/ping", "/api/v1/cameras.geojson", "/kamera/{camera_id}",
            "/kamera", "/multiview", "/embed/{camera_id}", "/kamera/{camera_id}/status.json"} <= paths


@pytest.mark.parametrize(("path", "method", "mode"), CASES, ids=[f"{m.upper()} {p} {g.value}" for p, m, g in CASES])
def test_no_server_errors(fuzzed: dict[str, Any], path: str, method: str, mode: GenerationMode) -> None:
    operation = fuzzed["schema"][path][method]
    auth = fuzzed["auth"] if path.startswith("/api/worker/") else {}
    seen: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        # the worker's real credential, so bodies reach the checks behind the door (refusals are tested apart)
        response = case.call(headers={**(case.headers or {}), **auth})
        seen.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()
    assert seen, "the fuzzer sent nothing"
    if mode is GenerationMode.POSITIVE and path == "/api/worker/v1/sync":
        assert 200 in seen, f"no valid sync among {sorted(set(seen))}: the document and the checks disagree"
