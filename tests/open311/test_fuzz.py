"""Hostile input on every Open311 field and query parameter (hypothesis): never a server error, always either a
created request or the spec's error list with a 4xx status, in the asked format."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from portal.models import db
from portal.open311 import keys
from portal.open311.requests import LIMITS

pytestmark = pytest.mark.slow
FIELDS = [f for f in LIMITS if f != "api_key"] + ["attribute[people_at_risk]", "attribute[x]", "unknown"]
TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=3000),
    st.sampled_from(["-3.99", "122.51", "nan", "inf", "-0", "1e309", "91", "<script>alert(1)</script>",
                     "'; DROP TABLE incidents; --", "\x00", "\ud800", "fire", "yes", "0812 3456 7890",
                     "=HYPERLINK(1)", "x" * 5000]),
)


def _spec_shaped(response, fmt: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        if fmt == "xml":
            root = etree.fromstring(response.data)
            assert root.tag == "errors" and root.findtext("error/code") == str(response.status_code)
        else:
            body = json.loads(response.data)
            assert body[0]["code"] == response.status_code and body[0]["description"]


def test_posts_with_hostile_fields(app: Flask) -> None:
    _client, key = keys.issue("fuzz", actor="test")
    db.session.commit()
    object.__setattr__(app.config["PANTAU"], "report_phone_per_hour", 10_000)
    client = app.test_client()

    @given(fields=st.dictionaries(st.sampled_from(FIELDS), TEXT, max_size=8), fmt=st.sampled_from(["json", "xml"]))
    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(fields: dict[str, str], fmt: str) -> None:
        data = {"api_key": key, "service_code": "fire", "lat": "-3.99", "long": "122.51",
                "description": "Kebakaran di pasar", **fields}
        data = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in data.items()}
        _spec_shaped(client.post(f"/open311/v2/requests.{fmt}", data=data), fmt)

    run()


def test_queries_with_hostile_parameters(app: Flask) -> None:
    client = app.test_client()
    params = st.sampled_from(["service_request_id", "service_code", "status", "start_date", "end_date",
                              "jurisdiction_id", "lang", "x"])

    @given(args=st.dictionaries(params, TEXT, max_size=5), fmt=st.sampled_from(["json", "xml"]),
           path=st.sampled_from(["requests", "services", "discovery", "requests/1", "tokens/LP-2222-3333",
                                 "services/fire"]))
    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(args: dict[str, str], fmt: str, path: str) -> None:
        clean = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in args.items()}
        _spec_shaped(client.get(f"/open311/v2/{path}.{fmt}", query_string=clean), fmt)

    run()
