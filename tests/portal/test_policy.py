"""Deny by default: every endpoint of the app declares its roles, and one that declares nothing refuses everyone.

The role x endpoint table is built from the app's URL map (every rule, every method) and each cell is checked
against the table written below, by running the access check for a request of that role. A new endpoint (or a
new method on one) that is not in the table fails the suite, so its policy is a reviewed decision.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.routing import Rule

from portal.auth.policy import AGENCY_SYSTEM, ALL_ROLES, PUBLIC, STAFF_ROLES, WORKER, allow, get_policy
from tests.conftest import login_as

EVERYONE = frozenset(ALL_ROLES)  # an endpoint open to the public is open to every role
STAFF = frozenset(STAFF_ROLES)
ADMIN = frozenset({"admin"})
HEALTH = frozenset({"admin", "operator"})
READERS = frozenset({"admin", "operator", "leadership", "agency", "police"})  # agency/police: own agency only
POLICE = frozenset({"police"})
STATS = frozenset({"admin", "operator", "leadership"})
AGENCY = frozenset({"agency"})

CONSOLE = frozenset({"operator", "admin"})  # the 112 console
# "METHOD rule": the roles that get through the access check
EXPECTED: dict[str, frozenset[str]] = {
    # the 112 console (issue 10): operators and admins take reports, verify, reject, merge, prioritise, dispatch
    "GET /konsol/": CONSOLE,
    "GET /konsol/laporan/<int:incident_id>": CONSOLE,
    "GET /konsol/laporan/<int:incident_id>/riwayat": CONSOLE,
    "POST /konsol/laporan/<int:incident_id>/verifikasi": CONSOLE,
    "POST /konsol/laporan/<int:incident_id>/tolak": CONSOLE,
    "POST /konsol/laporan/<int:incident_id>/gabung": CONSOLE,
    "POST /konsol/laporan/<int:incident_id>/prioritas": CONSOLE,
    "POST /konsol/laporan/<int:incident_id>/kirim": CONSOLE,
    "POST /konsol/laporan/<int:incident_id>/bukti": CONSOLE,
    "GET /konsol/laporan/<int:incident_id>/bukti/<int:evidence_id>.jpg": CONSOLE,
    # public pages, open data, media (media decide per camera themselves)
    "GET /": EVERYONE,
    "GET /_auth/media/<key>": EVERYONE,
    "GET /api/v1/cameras.csv": EVERYONE,
    "GET /api/v1/cameras.geojson": EVERYONE,
    "GET /api/v1/openapi.json": EVERYONE,
    "GET /embed/<int:camera_id>": EVERYONE,
    "GET /healthz": EVERYONE,
    "GET /kamera": EVERYONE,
    "GET /kamera/<int:camera_id>": EVERYONE,
    "GET /kamera/<int:camera_id>/status.json": EVERYONE,
    "GET /media/hls/<key>/<filename>": EVERYONE,
    "GET /media/snapshots/<key>.jpg": EVERYONE,
    "GET /metrics": EVERYONE,
    "GET /multiview": EVERYONE,
    "GET /static/<path:filename>": EVERYONE,
    # the worker API: machines with their credential only
    "GET /api/worker/v1/ping": frozenset({WORKER}),
    "POST /api/worker/v1/sync": frozenset({WORKER}),
    # signing in and out
    "GET /masuk": EVERYONE,
    "POST /masuk": EVERYONE,
    "GET /masuk/kode": EVERYONE,
    "POST /masuk/kode": EVERYONE,
    "GET /masuk/pasang-kode": EVERYONE,
    "POST /masuk/pasang-kode": EVERYONE,
    "POST /keluar": EVERYONE,
    # one's own account
    "GET /akun": STAFF,
    "POST /akun/kode-pemulihan": STAFF,
    "GET /akun/sandi": STAFF,
    "POST /akun/sandi": STAFF,
    # the console: cameras (read by staff, agency/police see their own agency's; changed by admins only)
    "GET /admin/": STAFF,
    "GET /admin/kamera": READERS,
    "GET /admin/kamera/<int:camera_id>/status.json": READERS,
    "GET /admin/kamera.csv": ADMIN,
    "GET /admin/kamera/<int:camera_id>": ADMIN,
    "POST /admin/kamera/<int:camera_id>": ADMIN,
    "POST /admin/kamera/<int:camera_id>/arsip": ADMIN,
    "GET /admin/kamera/baru": ADMIN,
    "POST /admin/kamera/baru": ADMIN,
    "GET /admin/kamera/impor": ADMIN,
    "POST /admin/kamera/impor": ADMIN,
    "POST /admin/kamera/publik": ADMIN,
    # groups and video walls
    "GET /admin/grup": READERS,
    "GET /admin/grup/<int:group_id>": READERS,
    "GET /admin/grup/<int:group_id>/ubah": ADMIN,
    "POST /admin/grup/<int:group_id>/ubah": ADMIN,
    "GET /admin/grup/baru": ADMIN,
    "POST /admin/grup/baru": ADMIN,
    # health
    "GET /admin/kesehatan": HEALTH,
    "GET /admin/kesehatan/kamera/<int:camera_id>": HEALTH,
    # people and the audit log
    "GET /admin/pengguna": ADMIN,
    "GET /admin/pengguna/<int:user_id>": ADMIN,
    "POST /admin/pengguna/<int:user_id>": ADMIN,
    "GET /admin/pengguna/baru": ADMIN,
    "POST /admin/pengguna/baru": ADMIN,
    "GET /admin/instansi": ADMIN,
    # dispatch (issue 10): routing rules, agency delivery settings, escalation contacts
    "GET /admin/penugasan/aturan": ADMIN,
    "POST /admin/penugasan/aturan": ADMIN,
    "POST /admin/penugasan/aturan/<int:rule_id>": ADMIN,
    "GET /admin/penugasan/instansi": ADMIN,
    "GET /admin/penugasan/instansi/<int:agency_id>": ADMIN,
    "POST /admin/penugasan/instansi/<int:agency_id>": ADMIN,
    "POST /admin/penugasan/instansi/<int:agency_id>/ulangi": ADMIN,
    "GET /admin/penugasan/eskalasi": ADMIN,
    "POST /admin/penugasan/eskalasi": ADMIN,
    "POST /admin/penugasan/eskalasi/<int:contact_id>": ADMIN,
    "GET /admin/instansi/<int:agency_id>": ADMIN,
    "POST /admin/instansi/<int:agency_id>": ADMIN,
    "GET /admin/instansi/baru": ADMIN,
    "POST /admin/instansi/baru": ADMIN,
    "GET /admin/audit": ADMIN,
    "GET /admin/audit.csv": ADMIN,
    # footage for the police: the police find, play and ask; admins decide and hold; residents ask to keep
    # footage; anyone verifies an export
    "GET /polisi/": POLICE,
    "GET /polisi/kamera.json": POLICE,
    "GET /polisi/kamera/<int:camera_id>": POLICE,
    "GET /polisi/kamera/<int:camera_id>/arsip.m3u8": POLICE,
    "GET /polisi/permintaan": POLICE,
    "GET /polisi/permintaan/baru": POLICE,
    "POST /polisi/permintaan/baru": POLICE,
    "GET /polisi/permintaan/<int:request_id>": POLICE,
    "POST /polisi/permintaan/<int:request_id>/batal": POLICE,
    "GET /unduh/<token>/<int:export_id>.mp4": POLICE,
    "GET /unduh/<token>/manifest.json": POLICE,
    "GET /_auth/arsip/<int:camera_id>": POLICE,
    "GET /media/recordings/<int:camera_id>/<day>/<name>": POLICE,
    "GET /admin/rekaman/": ADMIN,
    "GET /admin/rekaman/<int:request_id>": ADMIN,
    "POST /admin/rekaman/<int:request_id>/putuskan": ADMIN,
    "POST /admin/rekaman/<int:request_id>/ulangi": ADMIN,
    "GET /admin/rekaman/tahanan": ADMIN,
    "POST /admin/rekaman/tahanan/<int:hold_id>/lepas": ADMIN,
    "GET /admin/rekaman/warga": ADMIN,
    "GET /simpan-rekaman": EVERYONE,
    "POST /simpan-rekaman": EVERYONE,
    "GET /simpan-rekaman/<code>": EVERYONE,
    "GET /verifikasi": EVERYONE,
    "POST /verifikasi": EVERYONE,
    "GET /verifikasi/kunci-publik.pem": EVERYONE,
    # Open311 GeoReport v2 (posting checks a client's API key in the view) and its keys' admin page
    "GET /open311/v2/discovery.<any(json,xml):fmt>": EVERYONE,
    "GET /open311/v2/services.<any(json,xml):fmt>": EVERYONE,
    "GET /open311/v2/services/<code>.<any(json,xml):fmt>": EVERYONE,
    "GET /open311/v2/requests.<any(json,xml):fmt>": EVERYONE,
    "POST /open311/v2/requests.<any(json,xml):fmt>": EVERYONE,
    "GET /open311/v2/requests/<request_id>.<any(json,xml):fmt>": EVERYONE,
    "GET /open311/v2/tokens/<token>.<any(json,xml):fmt>": EVERYONE,
    "GET /admin/open311": ADMIN,
    "POST /admin/open311": ADMIN,
    "POST /admin/open311/<int:client_id>/cabut": ADMIN,
    # statistics for planning
    "GET /statistik": STATS,
    "GET /statistik.csv": STATS,
    "GET /statistik/peta.js": STATS,
    # agencies: their staff's page (own agency's dispatches only), their systems' callback API, admins' tokens
    "GET /instansi/": AGENCY,
    "GET /instansi/<int:dispatch_id>": AGENCY,
    "POST /instansi/<int:dispatch_id>/status": AGENCY,
    "GET /instansi/<int:dispatch_id>/bukti/<int:evidence_id>.jpg": AGENCY,
    "GET /api/agency/v1/openapi.json": EVERYONE,
    "GET /api/agency/v1/dispatches": frozenset({AGENCY_SYSTEM}),
    "GET /api/agency/v1/dispatches/<int:dispatch_id>": frozenset({AGENCY_SYSTEM}),
    "POST /api/agency/v1/dispatches/<int:dispatch_id>/status": frozenset({AGENCY_SYSTEM}),
    "POST /api/agency/v1/cap": frozenset({AGENCY_SYSTEM}),
    "GET /admin/instansi-api/": ADMIN,
    "POST /admin/instansi-api/": ADMIN,
    "POST /admin/instansi-api/<int:token_id>/cabut": ADMIN,
    # reports from the public (issue 10): the form, its web app, tracking; photos and the blocklist for staff
    "GET /lapor": EVERYONE,
    "POST /lapor": EVERYONE,
    "GET /lapor/token": EVERYONE,
    "GET /lapor/manifest.webmanifest": EVERYONE,
    "GET /lapor/sw.js": EVERYONE,
    "GET /lacak": EVERYONE,
    "GET /lacak/<code>": EVERYONE,
    "GET /laporan/foto/<int:photo_id>": frozenset({"operator", "admin", "agency"}),
    "GET /operator/blokir": frozenset({"operator", "admin"}),
    "POST /operator/blokir": frozenset({"operator", "admin"}),
    "POST /operator/blokir/<int:block_id>/cabut": frozenset({"operator", "admin"}),
}


def _cells(app: Flask) -> dict[str, Rule]:
    cells = {}
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            cells[f"{method} {rule.rule}"] = rule
    return cells


def _sample_path(rule: Rule) -> str:
    """A concrete path for a rule: 1 for numbers, a well-formed media key or file name for strings."""
    samples = {"int": "1", "path": "css/pantau.css"}

    def fill(match: re.Match[str]) -> str:
        converter, args, name = match.group(1) or "default", match.group(2), match.group(3)
        if converter in samples:
            return samples[converter]
        if converter == "any" and args:  # <any(json,xml):fmt>: the first choice
            return args.split(",")[0].strip().strip("'\"")
        return {"key": "0123456789abcdef", "filename": "index.m3u8"}.get(name, "x")

    return re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", fill, rule.rule)


def test_every_endpoint_declares_its_roles(app: Flask) -> None:
    policy = get_policy(app)
    missing = sorted(rule.endpoint for rule in app.url_map.iter_rules() if policy.roles_for(app, rule.endpoint) is None)
    assert not missing, f"endpoints without a declared policy (refused to everyone): {missing}"
    for rule in app.url_map.iter_rules():
        assert policy.roles_for(app, rule.endpoint) <= set(ALL_ROLES)  # type: ignore[operator]


def test_the_role_matrix_matches_the_table(app: Flask) -> None:
    """Every (rule, method, role) cell: does a request of that role get through the access check?"""
    policy = get_policy(app)
    cells = _cells(app)
    assert sorted(set(cells) - set(EXPECTED)) == [], "new endpoints or methods: add them to EXPECTED"
    assert sorted(set(EXPECTED) - set(cells)) == [], "EXPECTED lists endpoints the app no longer has"
    wrong = []
    for cell, rule in sorted(cells.items()):
        method = cell.split(" ", 1)[0]
        for role in ALL_ROLES:
            held = frozenset({PUBLIC, role})
            with app.test_request_context(_sample_path(rule), method=method, headers={"Accept": "application/json"}):
                from flask import request

                assert request.url_rule is not None and request.url_rule.rule == rule.rule, cell
                request.environ["pantau.roles"] = held
                try:
                    passed = policy.check() is None
                except Exception as exc:  # abort(401/403)
                    assert getattr(exc, "code", None) in (401, 403), (cell, role, exc)
                    passed = False
            if passed != (role in EXPECTED[cell]):
                wrong.append(f"{cell} as {role}: {'passes' if passed else 'refused'}")
    assert not wrong, "\n".join(wrong)


def test_an_endpoint_without_a_policy_refuses_everyone(app: Flask) -> None:
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    app.add_url_rule("/declared", "declared", allow(PUBLIC)(lambda: "open"))
    client = app.test_client()
    response = client.get("/undeclared", headers={"Accept": "application/json"})
    assert response.status_code == 403 and b"secret" not in response.data
    assert client.get("/declared").data == b"open"
    login_as(client, "admin")
    assert client.get("/undeclared").status_code == 403  # not even an admin


def test_a_staff_endpoint_refuses_the_public(app: Flask) -> None:
    app.add_url_rule("/staff-only", "staff_only", allow("admin")(lambda: "staff"))
    client = app.test_client()
    response = client.get("/staff-only", headers={"Accept": "application/json"})
    assert response.status_code == 401 and b"staff" not in response.data
    page = client.get("/staff-only", headers={"Accept": "text/html"})  # a person's browser: to the sign-in page
    assert page.status_code == 302 and page.headers["Location"].startswith("/masuk?next=/staff-only")
    htmx = client.get("/staff-only", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/masuk")


@pytest.mark.parametrize("role", ["operator", "agency", "police", "leadership"])
def test_signed_in_with_the_wrong_role_gets_403(app: Flask, role: str) -> None:
    client = app.test_client()
    login_as(client, role)
    response = client.get("/admin/audit", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert client.get("/akun").status_code == 200


def test_worker_api_without_a_credential_is_refused_in_json(app: Flask) -> None:
    response = app.test_client().post("/api/worker/v1/sync", json={})
    assert response.status_code == 401
    assert response.json == {"error": "unauthorized"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    client = app.test_client()
    login_as(client, "admin")  # a person, however senior, is not a worker
    assert client.post("/api/worker/v1/sync", json={}).status_code == 401


def test_agency_api_takes_no_session_only_its_token(app: Flask) -> None:
    client = app.test_client()
    login_as(client, "agency")  # CSRF-exempt, so a browser's session must never work here
    response = client.get("/api/agency/v1/dispatches")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
