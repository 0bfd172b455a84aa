"""Open311 GeoReport v2 over real HTTP (a plain ``requests`` client), JSON and XML (parsed with lxml)."""

from __future__ import annotations

import datetime as dt
import hashlib

import requests
from sqlalchemy import select

from portal.incidents.events import RECEIVED
from portal.models import AuditEntry, Incident, IncidentEvent, db
from portal.models.incident import Dispatch
from portal.models.open311 import Open311Client, Open311Request
from portal.models.people import Agency
from portal.open311.services import SERVICES
from tests.open311.conftest import LAT, LON, Server, report


def test_discovery_services_and_definitions_in_json_and_xml(o311: Server) -> None:
    discovery = o311.get("/open311/v2/discovery.json")
    assert discovery.status_code == 200 and discovery.headers["Content-Type"].startswith("application/json")
    endpoint = discovery.json()["endpoints"][0]
    assert endpoint["url"].endswith("/open311/v2") and endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = o311.xml(o311.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/url").endswith("/open311/v2")
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]

    services = o311.get("/open311/v2/services.json").json()
    assert [s["service_code"] for s in services] == list(SERVICES)
    fire = services[0]
    assert fire["metadata"] is True and fire["type"] == "realtime" and fire["service_name"] == "Kebakaran"
    assert o311.get("/open311/v2/services.json", lang="en").json()[0]["service_name"] == "Fire"
    root = o311.xml(o311.get("/open311/v2/services.xml"))
    assert root.tag == "services" and len(root.findall("service")) == len(SERVICES)
    assert root.find("service").findtext("service_code") == "fire"
    assert root.find("service").findtext("metadata") == "true"

    definition = o311.get("/open311/v2/services/medical.json").json()
    assert definition["service_code"] == "medical"
    attribute = definition["attributes"][0]
    assert attribute["code"] == "people_at_risk" and attribute["datatype"] == "singlevaluelist"
    assert [v["key"] for v in attribute["values"]] == ["yes", "no", "unknown"]
    root = o311.xml(o311.get("/open311/v2/services/medical.xml"))
    assert root.tag == "service_definition"
    assert [k.text for k in root.findall("attributes/attribute/values/value/key")] == ["yes", "no", "unknown"]
    assert root.findtext("attributes/attribute/variable") == "true"


def test_post_then_get_one_list_and_token_json_and_xml(o311: Server) -> None:
    key = o311.key()
    posted = o311.post("/open311/v2/requests.json",
                       report(key, **{"attribute[people_at_risk]": "yes", "media_url": "http://127.0.0.1/f.jpg",
                                      "device_id": "dev-1", "account_id": "acc-7"}))
    assert posted.status_code == 201, posted.text
    answer = posted.json()[0]
    request_id, token = answer["service_request_id"], answer["token"]
    assert token.startswith("LP-") and answer["account_id"] == "acc-7"
    assert answer["service_notice"].endswith(f"/lacak/{token}")  # the reporter's tracking page
    assert requests.get(answer["service_notice"].split(" ")[-1], timeout=10).status_code == 200
    assert posted.headers["Location"].endswith(f"/open311/v2/requests/{request_id}.json")

    with o311.app.app_context():  # through create_report: the same report, event and queue as /lapor
        incident = db.session.get(Incident, int(request_id))
        assert incident is not None and incident.source == "open311" and incident.status == "new"
        assert incident.tracking_code == token and incident.category == "fire"
        assert incident.reporter_name == "Budi Santoso" and "terluka: ya" in incident.description
        kinds = db.session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident.id)).all()
        assert RECEIVED in kinds
        origin = db.session.scalar(select(Open311Request).where(Open311Request.incident_id == incident.id))
        assert origin.device_id == "dev-1" and origin.media_url == "http://127.0.0.1/f.jpg"
        client = db.session.scalar(select(Open311Client))
        assert client.requests_posted == 1 and client.last_used_at is not None

    public = o311.get(f"/open311/v2/requests/{request_id}.json").json()[0]
    assert public["service_request_id"] == request_id and public["status"] == "open"
    assert public["service_code"] == "fire" and public["status_notes"] == "received"
    # nobody's personal data in public: no description or address, the place rounded to ~100 m
    assert public["description"] == "" and public["address"] == "" and "Budi" not in str(public)
    assert public["lat"] == round(float(LAT), 3) and public["long"] == round(float(LON), 3)
    assert public["requested_datetime"].endswith("+08:00")  # the city's offset, never Z
    dt.datetime.fromisoformat(public["requested_datetime"])
    own = o311.get(f"/open311/v2/requests/{request_id}.json", key=key).json()[0]
    assert "Pasar Sentral" in own["description"] and own["address"] == "Jl. Sao-Sao 12"
    assert own["media_url"] == "http://127.0.0.1/f.jpg"

    root = o311.xml(o311.get(f"/open311/v2/requests/{request_id}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == request_id
    assert root.findtext("request/status") == "open" and root.findtext("request/description") in (None, "")

    xml_post = o311.post("/open311/v2/requests.xml", report(key, service_code="accident",
                                                             description="Tabrakan motor di simpang"))
    assert xml_post.status_code == 201
    root = o311.xml(xml_post)
    second_id = root.findtext("request/service_request_id")
    assert second_id and root.findtext("request/token").startswith("LP-")

    tokens = o311.get(f"/open311/v2/tokens/{token}.json").json()
    assert tokens == [{"service_request_id": request_id, "token": token}]
    typed = token.lower().replace("-", " ")  # as read over the phone
    assert o311.get(f"/open311/v2/tokens/{typed}.xml").status_code == 200
    root = o311.xml(o311.get(f"/open311/v2/tokens/{token}.xml"))
    assert root.findtext("request/service_request_id") == request_id

    listed = o311.get("/open311/v2/requests.json").json()
    assert [r["service_request_id"] for r in listed] == [second_id, request_id]  # newest first
    assert [r["service_request_id"] for r in o311.get("/open311/v2/requests.json", service_code="accident").json()] \
        == [second_id]
    assert o311.get("/open311/v2/requests.json", status="closed").json() == []
    assert len(o311.get("/open311/v2/requests.json", status="open").json()) == 2
    ids = o311.get("/open311/v2/requests.json", service_request_id=f"{request_id},{second_id}").json()
    assert len(ids) == 2
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert o311.get("/open311/v2/requests.json", start_date=tomorrow).json() == []
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    assert len(o311.get("/open311/v2/requests.json", start_date=past, end_date=tomorrow).json()) == 2
    root = o311.xml(o311.get("/open311/v2/requests.xml", service_code="fire"))
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [request_id]

    with o311.app.app_context():  # a dispatch and the report's close show in the public view
        agency = Agency(code="damkar", name="Damkar Kendari", kind="fire")
        db.session.add(agency)
        db.session.flush()
        db.session.add(Dispatch(incident_id=int(request_id), agency_id=agency.id, status="done"))
        db.session.get(Incident, int(request_id)).status = "resolved"
        db.session.commit()
    closed = o311.get(f"/open311/v2/requests/{request_id}.json").json()[0]
    assert closed["status"] == "closed" and closed["agency_responsible"] == "Damkar Kendari"
    assert [r["service_request_id"] for r in o311.get("/open311/v2/requests.json", status="closed").json()] \
        == [request_id]


def _error(response, status: int, fragment: str = "") -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, response.text[:300])
    if response.headers["Content-Type"].startswith("text/xml"):
        from lxml import etree

        root = etree.fromstring(response.content)
        assert root.tag == "errors" and root.findtext("error/code") == str(status)
        description = root.findtext("error/description")
    else:
        body = response.json()
        assert isinstance(body, list) and body[0]["code"] == status
        description = body[0]["description"]
    assert fragment in description, description
    return str(description)


def test_api_keys_for_posting(o311: Server) -> None:
    _error(o311.post("/open311/v2/requests.json", report("")), 403, "api_key")
    _error(o311.post("/open311/v2/requests.xml", report("")), 403, "api_key")
    _error(o311.post("/open311/v2/requests.json", report("pantau_o311_guessed")), 403, "api_key")
    _error(o311.post("/open311/v2/requests.json", report("x" * 5000)), 403, "api_key")
    key = o311.key("Qlue")
    assert o311.post("/open311/v2/requests.json", report(key), headers={}).status_code == 201
    # also as a header, for clients that keep keys out of bodies
    assert o311.post("/open311/v2/requests.json", {k: v for k, v in report(key).items() if k != "api_key"},
                     headers={"X-Api-Key": key}).status_code == 201
    with o311.app.app_context():
        client = db.session.scalar(select(Open311Client).where(Open311Client.name == "Qlue"))
        # hashed at rest: the database holds the SHA-256 and a short hint, never the key
        assert client.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in str([client.name, client.contact, client.key_hint]) and key.startswith(client.key_hint)
        from portal.open311 import keys

        keys.revoke(client, actor="test")
        db.session.commit()
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "open311_client")).all()
        assert actions == ["open311.key.issue", "open311.key.revoke"]
        assert all(key not in str(e.detail) for e in db.session.scalars(select(AuditEntry)))
    _error(o311.post("/open311/v2/requests.json", report(key)), 403, "api_key")
    # reading stays public, but a revoked key is refused rather than silently ignored
    assert o311.get("/open311/v2/requests.json").status_code == 200
    _error(o311.get("/open311/v2/requests.json", key=key), 403, "api_key")
    # a key in the address would be written to access logs: refused, whatever it is
    _error(o311.get("/open311/v2/requests.json", api_key="anything"), 400, "X-Api-Key")
    _error(o311.post("/open311/v2/requests.json?api_key=x", report(key)), 400, "X-Api-Key")


def test_bad_input_gets_a_clear_spec_error(o311: Server) -> None:
    key = o311.key()
    post = o311.post
    cases = [
        (report(key, service_code=None), 400, "service_code"),
        (report(key, service_code="ufo"), 404, "service_code"),
        (report(key, lat="abc"), 400, "lat"),
        (report(key, lat="91"), 400, "lat"),
        (report(key, long="-181"), 400, "long"),
        (report(key, lat="nan"), 400, "lat"),
        (report(key, lat="1e400"), 400, "lat"),
        (report(key, long=None), 400, "long"),
        (report(key, lat=None, long=None, address_string=None), 400, "address_string"),
        (report(key, lat="-1.0", long="120.0"), 400, "lat"),  # outside the city
        (report(key, description="x" * 2001), 400, "description"),
        (report(key, description="<script>alert(1)</script> kebakaran"), 400, "description"),
        (report(key, description="ok\x00nul"), 400, "description"),
        (report(key, first_name="n" * 101), 400, "first_name"),
        (report(key, phone="call me maybe"), 400, "phone"),
        (report(key, email="not-an-address"), 400, "email"),
        (report(key, media_url="javascript:alert(1)"), 400, "media_url"),
        (report(key, **{"attribute[people_at_risk]": "many"}), 400, "attribute[people_at_risk]"),
        (report(key, **{"attribute[color]": "red"}), 400, "attribute[color]"),
        (report(key, surprise="1"), 400, "surprise"),
        (report(key, address_string="a" * 301), 400, "address_string"),
    ]
    for data, status, fragment in cases:
        _error(post("/open311/v2/requests.json", data), status, fragment)
    _error(post("/open311/v2/requests.xml", report(key, lat="abc")), 400, "lat")
    # English on request; Bahasa Indonesia by default
    english = _error(post("/open311/v2/requests.json?lang=en", report(key, description="x" * 2001)), 400)
    assert "at most 2000 characters" in english
    indonesian = _error(post("/open311/v2/requests.json", report(key, description="x" * 2001)), 400)
    assert "paling banyak" in indonesian
    # JSON is not what GeoReport v2 posts: 415 saying what to send
    as_json = post("/open311/v2/requests.json", {}, json=report(key))
    _error(as_json, 415, "x-www-form-urlencoded")
    # a body beyond the portal's limit: 413, still in the spec's shape
    _error(post("/open311/v2/requests.xml", report(key, description="x" * 3_000_000)), 413)
    # the query side
    _error(o311.get("/open311/v2/requests.json", start_date="yesterday"), 400, "start_date")
    _error(o311.get("/open311/v2/requests.json", start_date="2026-12-01T00:00:00+08:00",
                    end_date="2026-11-01T00:00:00+08:00"), 400, "end_date")
    _error(o311.get("/open311/v2/requests.json", status="lost"), 400, "status")
    _error(o311.get("/open311/v2/requests.json", service_request_id="1;DROP TABLE"), 400, "service_request_id")
    _error(o311.get("/open311/v2/requests.json", service_request_id=",".join(["1"] * 101)), 400, "service_request_id")
    _error(o311.get("/open311/v2/requests.json", service_code="ufo"), 400, "service_code")
    _error(o311.get("/open311/v2/requests/99999.json"), 404, "service_request_id")
    _error(o311.get("/open311/v2/requests/abc.xml"), 404)
    _error(o311.get("/open311/v2/requests/99999999999999999999.json"), 404)
    _error(o311.get("/open311/v2/services/ufo.xml"), 404, "service_code")
    _error(o311.get("/open311/v2/tokens/not-a-token.json"), 404, "token")
    _error(o311.get("/open311/v2/tokens/LP-2222-3333.json"), 404, "token")
    _error(o311.get("/open311/v2/nothing.xml"), 404)
    _error(o311.get("/open311/v2/requests.html"), 404)
    deleted = o311_request(o311, "DELETE", "/open311/v2/requests.json")
    _error(deleted, 405)
    assert "POST" in deleted.headers["Allow"]
    with o311.app.app_context():
        assert db.session.scalar(select(Incident.id)) is None  # nothing refused was stored


def o311_request(o311: Server, method: str, path: str):  # type: ignore[no-untyped-def]
    import requests

    return requests.request(method, o311.url + path, timeout=10)


def test_posting_works_on_sqlite_and_postgresql(o311_any_db: Server) -> None:
    key = o311_any_db.key()
    ids = []
    for code in ("fire", "medical", "city_problem"):
        posted = o311_any_db.post("/open311/v2/requests.json", report(key, service_code=code))
        assert posted.status_code == 201, posted.text
        ids.append(posted.json()[0]["service_request_id"])
    listed = o311_any_db.get("/open311/v2/requests.json", service_code="fire,medical").json()
    assert sorted(r["service_request_id"] for r in listed) == sorted(ids[:2])
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert len(o311_any_db.get("/open311/v2/requests.json", start_date=since.isoformat()).json()) == 3


def test_simultaneous_posts_are_all_kept_and_counted(o311_any_db: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    key = o311_any_db.key()
    n = 16

    def send(i: int) -> tuple[int, str]:
        data = report(key, phone=None, description=f"Kebakaran di gang nomor {i}",
                      **{"attribute[people_at_risk]": "unknown"})
        response = o311_any_db.post("/open311/v2/requests.xml" if i % 2 else "/open311/v2/requests.json", data)
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(n)))
    assert [status for status, _ in results] == [201] * n, [text[:200] for status, text in results if status != 201]
    with o311_any_db.app.app_context():
        codes = db.session.scalars(select(Incident.tracking_code).where(Incident.source == "open311")).all()
        assert len(codes) == n and len(set(codes)) == n
        client = db.session.scalar(select(Open311Client))
        assert client is not None and client.requests_posted == n  # counted in SQL, no lost update
        assert len(db.session.scalars(select(Open311Request.id)).all()) == n
