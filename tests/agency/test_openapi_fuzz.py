"""The agency API's OpenAPI document is valid, and fuzzing the API from it (schemathesis, with a real agency
token so bodies reach the checks behind the door) never gets a server error, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from portal.agency.openapi import document
from portal.models import db
from tests.agency.conftest import api_token, dispatched

pytestmark = pytest.mark.slow
OPERATIONS = [(path, method) for path, item in document()["paths"].items() for method in item]


def test_the_document_is_valid_openapi(app: Flask) -> None:
    from openapi_spec_validator import validate

    validate(document())  # type: ignore[arg-type]
    served = app.test_client().get("/api/agency/v1/openapi.json")
    assert served.status_code == 200 and served.get_json()["paths"].keys() == document()["paths"].keys()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_no_server_errors(any_db_app: Flask, path: str, method: str, mode: GenerationMode) -> None:
    token = api_token("damkar")
    for _ in range(3):
        dispatched("damkar")
    dispatched("dinkes")
    db.session.remove()
    schema = schemathesis.openapi.from_wsgi("/api/agency/v1/openapi.json", any_db_app)
    operation = schema[path][method]
    seen: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(headers={**(case.headers or {}), "Authorization": f"Bearer {token}"})
        seen.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()
    assert seen and all(code < 500 for code in seen)
