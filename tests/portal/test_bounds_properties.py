"""Hypothesis properties of the input checks: whatever comes in, the answer is a clean value within its
bounds or an ``InputError`` (a 400), never another exception; and every value the checks accept is one
both databases store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from werkzeug.routing import ValidationError

from contract import limits
from portal import bounds
from portal.bounds import INT32_MAX, INT64_MAX, BoundedInt, InputError
from portal.models import CameraStatus, RecordingSegment, Worker, db
from portal.workers import payload
from tests.conftest import WorkerAuth, add_camera

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
FIELD_NAMES = ["worker", "cameras", "segments", "deleted_segments", "name", "capacity", "health", "id", "status",
               "path", "start", "end", "bytes", "camera_id", "error", "stderr_tail", "fps"]
# JSON shaped like a sync body: the right keys with anything inside, so the checks behind the first one run
SYNC_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.sampled_from(["online", "recordings/1/a"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(FIELD_NAMES), children,
                                                                      max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_parse_json_accepts_strict_json_or_says_why(data: bytes) -> None:
    try:
        value = bounds.parse_json(data)
    except InputError as exc:
        assert exc.field == "body"
        return
    assert bounds.depth(value) <= limits.MAX_JSON_DEPTH
    json.dumps(value, allow_nan=False)  # what came in is strict JSON


@settings(max_examples=300, deadline=None)
@given(SYNC_LIKE | JSON)
def test_sync_payload_is_checked_whole_or_refused_cleanly(body: Any) -> None:
    try:
        checked = payload.sync_request(body, "w1")
    except InputError as exc:
        assert exc.field and str(exc)
        return
    worker = checked.worker
    assert worker.name == "w1" and 0 <= worker.capacity <= payload.MAX_CAPACITY
    for size in (worker.disk_free_bytes, worker.disk_total_bytes):
        assert size is None or 0 <= size <= INT64_MAX
    for status in checked.statuses:
        assert 1 <= status["camera_id"] <= INT32_MAX and status["status"] in payload.STATUS_VALUES
    for segment in checked.segments:
        assert segment.path.startswith(f"recordings/{segment.camera_id}/") and segment.start <= segment.end
    assert len(checked.segments) <= limits.MAX_SYNC_SEGMENTS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.from_regex(r"-?[0-9]{4,5}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,15}([+-][0-9]{2}:[0-9]{2}|Z)?",
                                             fullmatch=True))
def test_moments_are_within_range_or_refused(raw: str) -> None:
    try:
        value = bounds.moment(raw, "t")
    except InputError:
        return
    assert value.tzinfo is dt.UTC and bounds.EARLIEST <= value <= bounds.LATEST


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_texts_are_bounded_and_valid(raw: str) -> None:
    try:
        value = bounds.text(raw, "q", max_len=20)
    except InputError:
        return
    assert len(value) <= 20 and "\x00" not in value
    value.encode("utf-8")  # no lone surrogate


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(categories=["Nd", "No"]) | st.sampled_from("0123456789"), min_size=1,
               max_size=25))
def test_url_ids_are_ascii_and_in_range(raw: str) -> None:
    import re

    converter = BoundedInt(None)
    if not re.fullmatch(converter.regex, raw):
        assert not (raw.isascii() and raw.isdigit() and len(raw) <= 19)
        return
    try:
        value = converter.to_python(raw)
    except ValidationError:
        assert int(raw) > INT32_MAX
        return
    assert 0 <= value <= INT32_MAX and raw.isascii()


# -- what is accepted is stored, on both databases --

EXTREME_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=40)
TIMES = st.datetimes(min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime(2099, 12, 30),
                     timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8)),
                                                dt.timezone(dt.timedelta(hours=-12)),
                                                dt.timezone(dt.timedelta(hours=13, minutes=45))]))


@st.composite
def valid_sync(draw: st.DrawFn, camera_id: int) -> dict[str, Any]:
    start = draw(TIMES)
    end = start + dt.timedelta(seconds=draw(st.integers(0, 86_400)))
    name = draw(st.from_regex(r"[A-Za-z0-9_.-]{1,100}", fullmatch=True))
    assume(name not in (".", ".."))
    return {
        "worker": {
            "name": draw(EXTREME_TEXT), "hostname": draw(EXTREME_TEXT), "version": draw(EXTREME_TEXT),
            "capacity": draw(st.sampled_from([1, payload.MAX_CAPACITY])),
            "disk_free_bytes": draw(st.sampled_from([0, INT64_MAX, None])),
            "disk_total_bytes": draw(st.sampled_from([0, INT64_MAX, None])),
            "health": draw(st.dictionaries(EXTREME_TEXT, st.integers(-(2**63), 2**63 - 1) | EXTREME_TEXT
                                           | st.floats(allow_nan=False, allow_infinity=False, width=32),
                                           max_size=3)),
        },
        "cameras": [{
            "id": camera_id, "status": draw(st.sampled_from(sorted(payload.STATUS_VALUES))),
            "error": draw(EXTREME_TEXT), "stderr_tail": [draw(EXTREME_TEXT)],
            "fps": draw(st.sampled_from([0, 1000, 29.97])), "bitrate_kbps": draw(st.sampled_from([0, 10_000_000])),
            "width": 100_000, "height": 0, "codec": draw(EXTREME_TEXT.map(lambda s: s[:16])),
            "last_segment_at": draw(TIMES).isoformat(), "restarts_last_hour": 1_000_000,
        }],
        "segments": [{"camera_id": camera_id, "path": f"recordings/{camera_id}/{name}", "start": start.isoformat(),
                      "end": end.isoformat(), "bytes": draw(st.sampled_from([0, INT64_MAX]))}],
        "deleted_segments": [f"recordings/{camera_id}/{name}"],
    }


def test_every_accepted_sync_is_stored(any_db_app: Flask) -> None:
    camera_id = add_camera(name="Kamera").id
    client = any_db_app.test_client()
    auth = WorkerAuth()("w1")
    assert client.post("/api/worker/v1/sync", json={}, headers=auth).status_code == 200  # takes the lease

    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(valid_sync(camera_id))
    def run(body: dict[str, Any]) -> None:
        response = client.post("/api/worker/v1/sync", json=body, headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    run()
    db.session.expire_all()
    assert db.session.query(Worker).one().capacity in (1, payload.MAX_CAPACITY)
    assert db.session.get(CameraStatus, camera_id) is not None
    assert db.session.query(RecordingSegment).count() >= 1


@pytest.mark.parametrize("value", [INT32_MAX + 1, 2**63, -1])
def test_out_of_range_ids_are_refused_before_the_database(value: int) -> None:
    with pytest.raises(InputError):
        payload.camera_status({"id": value, "status": "online"}, "cameras[0]")
