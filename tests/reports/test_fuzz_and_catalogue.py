"""Any value in any field of /lapor and /lacak: a 4xx or a stored report, never a 500; and every message of
the reports area has its Indonesian text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_settings, migrated_app
from tests.reports.conftest import form

FIELDS = ("category", "description", "latitude", "longitude", "address", "reporter_name", "reporter_phone",
          "website", "started", "client_ref", "queued")
text = st.one_of(st.text(max_size=300), st.sampled_from(["", "nan", "-inf", "1e309", "-3.98", "122.5", "fire",
                                                         "<script>", "0" * 50, "\u202e", "LP-2222-2222"]))
_app = None


def _client(tmp: Path) -> FlaskClient:
    global _app
    if _app is None:
        _app = migrated_app(make_settings(tmp, report_rate_limit="100000 per hour", report_phone_per_hour=100000,
                                          report_address_per_hour=100000))
    return _app.test_client()


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(values=st.dictionaries(st.sampled_from(FIELDS), text, max_size=len(FIELDS)),
       json_=st.booleans())
def test_no_value_in_any_field_gives_a_500(tmp_path_factory: Any, values: dict[str, str], json_: bool) -> None:
    client = _client(tmp_path_factory.mktemp("fuzz"))
    with client.application.app_context():
        data = form(client)
        data.update({k: v.replace("\x00", "") for k, v in values.items()})
        headers = {"Accept": "application/json"} if json_ else {}
        try:
            answer = client.post("/lapor", data=data, headers=headers)
        except UnicodeEncodeError:  # the test client cannot send a lone surrogate; a browser cannot either
            return
        assert answer.status_code in (201, 303, 400, 403, 413, 429), (values, answer.status_code)
        for value in values.values():
            try:
                got = client.get("/lacak", query_string={"kode": value})
            except UnicodeEncodeError:
                continue
            assert got.status_code in (200, 303, 404, 429)  # 429: lookups are limited per address


def test_indonesian_catalogue_of_reports_is_complete() -> None:
    po = Path(__file__).resolve().parents[2] / "portal/reports/translations/id/LC_MESSAGES/messages.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert len(catalog) > 100 and not untranslated and not fuzzy, (untranslated, fuzzy)
