"""/lapor through HTTP: a report stored with its events, bad input on every field refused with a clear
message (never a 500), photos re-encoded without EXIF/GPS, the honeypot and other flags kept in the queue."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from portal.incidents.events import FLAGGED, RECEIVED
from portal.models import Incident, IncidentEvent, db
from portal.models.report import ReportOrigin, ReportPhoto
from portal.reports import photos as photo_store
from tests.reports.conftest import INSIDE, form, photo_with_gps

JSON = {"Accept": "application/json"}


def _kinds(incident: Incident) -> list[str]:
    return [e.kind for e in db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                                               .order_by(IncidentEvent.id))]


def test_the_form_is_in_bahasa_indonesia_and_installable(client: FlaskClient) -> None:
    page = client.get("/lapor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lapor ke 112" in html and 'rel="manifest"' in html and 'name="website"' in html
    manifest = client.get("/lapor/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.json["start_url"] == "/lapor" and manifest.json["display"] == "standalone"
    assert {i["sizes"] for i in manifest.json["icons"]} == {"192x192", "512x512"}
    for icon in manifest.json["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get("/lapor/sw.js")
    assert worker.status_code == 200 and worker.headers["Service-Worker-Allowed"] == "/lapor"
    assert "javascript" in worker.mimetype and b"pantau-report-queue" in worker.data


def test_a_report_is_stored_and_followed_by_its_code(client: FlaskClient, app: Flask) -> None:
    answer = client.post("/lapor", data=form(client, reporter_name="Wa Ode", reporter_phone="0812-3456-7890"))
    assert answer.status_code == 303
    code = answer.headers["Location"].split("/lacak/")[1].split("?")[0]
    incident = db.session.scalar(select(Incident).where(Incident.tracking_code == code))
    assert incident is not None and incident.status == "new" and incident.reporter_phone == "+6281234567890"
    assert incident.latitude == pytest.approx(-3.985) and incident.source == "web"
    assert _kinds(incident) == [RECEIVED]
    page = client.get(answer.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and code in html and "Laporan Anda sudah diterima" in html
    assert "Wa Ode" not in html and "3456" not in html and "Sudirman" not in html  # nobody's personal data
    assert page.headers["Cache-Control"] == "private, no-store"


def test_json_answers_for_the_offline_queue(client: FlaskClient) -> None:
    answer = client.post("/lapor", data=form(client, client_ref="0b7c8a8e-1111-4222-8333-944455556666"), headers=JSON)
    assert answer.status_code == 201 and answer.json["tracking_code"].startswith("LP-")
    # sent again (the first answer was lost on the way): the same report, not a second one
    again = client.post("/lapor", data=form(client, client_ref="0b7c8a8e-1111-4222-8333-944455556666"), headers=JSON)
    assert again.status_code == 201 and again.json["tracking_code"] == answer.json["tracking_code"]
    assert db.session.scalar(select(db.func.count()).select_from(Incident)) == 1
    refused = client.post("/lapor", data=form(client, latitude="-6.2", longitude="106.8"), headers=JSON)
    assert refused.status_code == 400 and refused.json["field"] == "location"
    assert "di luar Kota Kendari" in refused.json["message"]
    token = client.get("/lapor/token")
    assert token.status_code == 200 and token.json["csrf_token"]


BAD = [
    # (field, value, field named in the answer, words of the message)
    ("category", "", "category", "Pilih"),
    ("category", "arson" * 100, "category", "Pilih"),
    ("description", "", "description", "terlalu pendek"),
    ("description", "x" * 2001, "description", "terlalu panjang"),
    ("description", "<script>alert(1)</script>", "description", "HTML"),
    ("description", "klik <img src=x onerror=alert(1)>", "description", "HTML"),
    ("description", "nul\x00byte", "description", "karakter kontrol"),
    ("address", "a" * 301, "address", "terlalu panjang"),
    ("address", "<iframe src=//x>", "address", "HTML"),
    ("reporter_name", "n" * 101, "reporter_name", "terlalu panjang"),
    ("reporter_name", "<b>bold</b>", "reporter_name", "HTML"),
    ("reporter_phone", "call me maybe", "reporter_phone", "nomor telepon"),
    ("reporter_phone", "0" * 41, "reporter_phone", "terlalu panjang"),
    ("latitude", "north", "latitude", "angka"),
    ("latitude", "91", "latitude", "antara"),
    ("latitude", "nan", "latitude", "antara"),
    ("latitude", "1e999", "latitude", "antara"),
    ("longitude", "-181", "longitude", "antara"),
    ("longitude", "9" * 40, "longitude", "angka"),
    ("latitude", "0", "location", "di luar"),  # a real place, but not in the city
]


@pytest.mark.parametrize(("field", "value", "named", "words"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_on_every_field_gets_a_clear_error(client: FlaskClient, field: str, value: str, named: str,
                                                     words: str | None) -> None:
    data = form(client, **{field: value})
    if field == "latitude" and value == "0":
        data["longitude"] = "0"
    page = client.post("/lapor", data=data)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert f'data-error-for="{named}">' in html
    if words:
        assert words in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    answer = client.post("/lapor", data=form(client, **{field: value}) | (
        {"longitude": "0"} if field == "latitude" and value == "0" else {}), headers=JSON)
    assert answer.status_code == 400 and answer.json["field"] == named and answer.json["message"]
    assert db.session.scalar(select(db.func.count()).select_from(Incident)) == 0


def test_wrong_types_and_missing_fields_never_give_a_500(client: FlaskClient) -> None:
    token = form(client)["csrf_token"]
    for data in ({"csrf_token": token}, {"csrf_token": token, "category": ["fire", "medical"]},
                 {"csrf_token": token, "category": "fire", "description": "api", "latitude": "-3.98"},
                 {"csrf_token": token, "category": "fire", "description": "api", "photos": "not a file"}):
        answer = client.post("/lapor", data=data, headers=JSON)
        assert answer.status_code == 400 and answer.json["message"], data
    assert client.post("/lapor", data="{}", content_type="application/json").status_code == 400
    raw = (b"csrf_token=" + token.encode()
           + b"&category=fire&description=%ED%A0%80%FF%FE+api&latitude=-3.98&longitude=122.5")
    answer = client.post("/lapor", data=raw, content_type="application/x-www-form-urlencoded", headers=JSON)
    assert answer.status_code in (201, 400)  # bad UTF-8 is replaced by werkzeug, never a 500
    no_csrf = client.post("/lapor", data={"category": "fire"})
    assert no_csrf.status_code == 400 and "Muat ulang" in no_csrf.get_data(as_text=True)


def test_an_address_without_a_map_position_is_taken_and_flagged(client: FlaskClient) -> None:
    answer = client.post("/lapor", data=form(client, latitude="", longitude="", address="Pasar Sentral Kota Lama"),
                         headers=JSON)
    assert answer.status_code == 201
    incident = db.session.scalar(select(Incident))
    assert incident.latitude is None and incident.address == "Pasar Sentral Kota Lama"
    assert db.session.get(ReportOrigin, incident.id).reasons == ["no_location"]
    nowhere = client.post("/lapor", data=form(client, latitude="", longitude="", address=""), headers=JSON)
    assert nowhere.status_code == 400 and nowhere.json["field"] == "location"


def test_photos_are_re_encoded_without_exif_or_gps(client: FlaskClient) -> None:
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the upload does carry a position
    png = photo_with_gps("PNG", (300, 200))
    answer = client.post("/lapor", data=form(client, photos=[(io.BytesIO(original), "a.jpg"),
                                                             (io.BytesIO(png), "b.png")]),
                         content_type="multipart/form-data", headers=JSON)
    assert answer.status_code == 201, answer.json
    incident = db.session.scalar(select(Incident))
    stored = db.session.scalars(select(ReportPhoto).where(ReportPhoto.incident_id == incident.id)).all()
    assert len(stored) == 2
    for photo in stored:
        data = photo_store.path_of(photo).read_bytes()
        assert data != original and data[:3] == b"\xff\xd8\xff" and photo.bytes == len(data)
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and not image.getexif() and "exif" not in image.info
        assert b"Exif" not in data and b"PhoneMaker" not in data and b"GPS" not in data
        assert "icc_profile" not in image.info
    first = Image.open(photo_store.path_of(stored[0]))
    assert first.size == (480, 640)  # turned upright by its orientation tag before the tag was dropped
    assert b"photos" not in answer.data


@pytest.mark.parametrize(("payload", "words"), [
    (b"%PDF-1.4 not an image at all", "JPEG, PNG"),
    (b"\xff\xd8\xff" + b"\x00" * 2000, "tidak dapat dibaca"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "JPEG, PNG"),
    (b"", None),  # an empty file input is no photo, not an error
])
def test_photos_that_are_not_images_are_refused(client: FlaskClient, payload: bytes, words: str | None) -> None:
    answer = client.post("/lapor", data=form(client, photos=[(io.BytesIO(payload), "x.jpg")]),
                         content_type="multipart/form-data", headers=JSON)
    if words is None:
        assert answer.status_code == 201
        return
    assert answer.status_code == 400 and answer.json["field"] == "photos" and words in answer.json["message"]
    assert db.session.scalar(select(db.func.count()).select_from(Incident)) == 0


def test_a_decompression_bomb_is_refused(client: FlaskClient) -> None:
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG", optimize=True)  # 400 megapixels, a few hundred KB
    answer = client.post("/lapor", data=form(client, photos=[(io.BytesIO(out.getvalue()), "bomb.png")]),
                         content_type="multipart/form-data", headers=JSON)
    assert answer.status_code == 400 and "terlalu banyak piksel" in answer.json["message"]


def test_a_50_mb_photo_gets_a_clear_413(client: FlaskClient) -> None:
    big = b"\xff\xd8\xff" + b"\x00" * (50 * 1024 * 1024)
    page = client.post("/lapor", data=form(client, photos=[(io.BytesIO(big), "huge.jpg")]),
                       content_type="multipart/form-data")
    assert page.status_code == 413
    assert "10 MB" in page.get_data(as_text=True)
    answer = client.post("/lapor", data=form(client, photos=[(io.BytesIO(big), "huge.jpg")]),
                         content_type="multipart/form-data", headers=JSON)
    assert answer.status_code == 413 and answer.json["field"] == "photos" and "10 MB" in answer.json["message"]
    # under the request limit but over the per-photo limit: the same clear message
    eleven = b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024)
    answer = client.post("/lapor", data=form(client, photos=[(io.BytesIO(eleven), "big.jpg")]),
                         content_type="multipart/form-data", headers=JSON)
    assert answer.status_code == 400 and "10 MB" in answer.json["message"]
    too_many = [(io.BytesIO(photo_with_gps(size=(20, 20))), f"{i}.jpg") for i in range(4)]
    answer = client.post("/lapor", data=form(client, photos=too_many), content_type="multipart/form-data",
                         headers=JSON)
    assert answer.status_code == 400 and "3 foto" in answer.json["message"]


def test_the_honeypot_and_a_too_fast_form_flag_the_report_but_keep_it(client: FlaskClient) -> None:
    import time

    answer = client.post("/lapor", data=form(client, website="http://spam.example", started=str(int(time.time()))),
                         headers=JSON)
    assert answer.status_code == 201  # the robot learns nothing
    incident = db.session.scalar(select(Incident))
    assert incident.status == "new"  # in the operators' queue like any report
    assert _kinds(incident) == [RECEIVED, FLAGGED]
    flagged = db.session.scalar(select(IncidentEvent).where(IncidentEvent.kind == FLAGGED))
    assert flagged.data["reasons"] == ["honeypot", "too_fast"]
    origin = db.session.get(ReportOrigin, incident.id)
    assert origin.suspicious and origin.remote_addr == "127.0.0.1"


def test_links_in_the_description_are_flagged(client: FlaskClient) -> None:
    answer = client.post("/lapor", data=form(client, description="lihat www.contoh.test untuk hadiah"),
                         headers=JSON)
    assert answer.status_code == 201
    assert db.session.scalar(select(ReportOrigin)).reasons == ["link"]


def test_english_on_request(client: FlaskClient) -> None:
    answer = client.post("/lapor?lang=en", data=form(client, latitude="0", longitude="0"), headers=JSON)
    assert answer.status_code == 400 and "outside Kota Kendari" in answer.json["message"]
    assert "Report to 112" in client.get("/lapor?lang=en").get_data(as_text=True)


def test_inside_is_the_city_area(client: FlaskClient) -> None:
    assert client.post("/lapor", data=form(client, **INSIDE), headers=JSON).status_code == 201


def test_a_photo_the_disk_cannot_take_costs_the_photo_not_the_report(client: FlaskClient,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(_clean: object) -> tuple[str, object]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(photo_store, "write", full_disk)
    answer = client.post("/lapor", data=form(client, photos=[(io.BytesIO(photo_with_gps()), "a.jpg")]),
                         content_type="multipart/form-data", headers=JSON)
    assert answer.status_code == 201
    incident = db.session.scalar(select(Incident))
    assert _kinds(incident) == [RECEIVED, "note"]
    assert db.session.scalar(select(db.func.count()).select_from(ReportPhoto)) == 0
