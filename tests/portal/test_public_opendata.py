"""Open data (GeoJSON, CSV, OpenAPI) and the rule that a private camera never shows anywhere public."""

from __future__ import annotations

import csv
import gzip
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.models import db
from tests.conftest import add_camera


def test_csv_lists_public_cameras_only_without_secrets(client: FlaskClient) -> None:
    pub = add_camera(name="Kendari Beach", latitude=-3.9664, longitude=122.5931, district="Kendari",
                     category="beach", description="Pantai, lalu lintas \"ramai\".")
    add_camera(name="Rahasia", public=False)
    add_camera(name="Mati", enabled=False)
    response = client.get("/api/v1/cameras.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    text = response.get_data(as_text=True)
    assert "s3cret" not in text and "rtsp" not in text and "kadia-s1" not in text and "Rahasia" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == str(pub.id) and row["name"] == "Kendari Beach" and row["district"] == "Kendari"
    assert row["description"] == 'Pantai, lalu lintas "ramai".'
    assert (row["latitude"], row["longitude"]) == ("-3.9664", "122.5931")
    assert row["status"] == "unknown" and row["last_online_at"] == ""
    assert row["url"] == f"http://localhost/kamera/{pub.id}"
    assert row["snapshot_url"] == f"http://localhost/media/snapshots/{pub.media_key}.jpg"
    assert row["hls_url"] == f"http://localhost/media/hls/{pub.media_key}/index.m3u8"


def test_csv_cells_never_run_as_spreadsheet_formulas(client: FlaskClient) -> None:
    add_camera(name="=HYPERLINK(\"http://evil.example\")", description="+1")
    row = next(csv.DictReader(io.StringIO(client.get("/api/v1/cameras.csv").get_data(as_text=True))))
    assert row["name"].startswith("'=") and row["description"] == "'+1"


def test_open_data_is_compressed_and_revalidated(client: FlaskClient) -> None:
    for i in range(20):
        add_camera(name=f"Kamera {i}")
    plain = client.get("/api/v1/cameras.geojson")
    assert plain.mimetype == "application/geo+json" and "Content-Encoding" not in plain.headers
    packed = client.get("/api/v1/cameras.geojson", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 3
    assert plain.headers["ETag"] != packed.headers["ETag"]
    again = client.get("/api/v1/cameras.geojson", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304
    add_camera(name="Baru")
    changed = client.get("/api/v1/cameras.geojson", headers={"If-None-Match": plain.headers["ETag"]})
    assert changed.status_code == 200
    csv_packed = client.get("/api/v1/cameras.csv", headers={"Accept-Encoding": "gzip"})
    assert csv_packed.headers["Content-Encoding"] == "gzip"


def test_openapi_document_describes_the_open_data(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    documented = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") or rule.endpoint == "public.camera_status":
            path = rule.rule.replace("<int:camera_id>", "{camera_id}")
            assert path in documented, path
    schema = doc["components"]["schemas"]["CameraProperties"]
    add_camera(name="Kendari Beach")
    props = client.get("/api/v1/cameras.geojson").json["features"][0]["properties"]
    assert set(props) == set(schema["properties"])
    assert "source_url" not in str(doc) and "rtsp" not in str(doc)


def test_openapi_document_is_valid(client: FlaskClient) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(client.get("/api/v1/openapi.json").json)


def test_open_data_validates_against_its_schema(client: FlaskClient) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    add_camera(name="Kendari Beach")
    doc = client.get("/api/v1/openapi.json").json
    schema = {"$ref": "#/components/schemas/CameraCollection", "components": doc["components"]}
    jsonschema.validate(client.get("/api/v1/cameras.geojson").json, schema)


def test_a_private_camera_never_appears_in_public(app: Flask, client: FlaskClient) -> None:
    """Every public surface, before and after a public camera is made private."""
    pub = add_camera(name="Publik Kadia", district="Kadia")
    secret = add_camera(name="Rahasia Kadia", district="Rahasia-District", public=False,
                        latitude=-3.9701, longitude=122.5101)
    folder = app.config["PANTAU"].media_path
    for cam in (pub, secret):
        (folder / "hls" / cam.media_key).mkdir(parents=True, exist_ok=True)
        (folder / "hls" / cam.media_key / "index.m3u8").write_text("#EXTM3U\n")
        (folder / "snapshots").mkdir(parents=True, exist_ok=True)
        (folder / "snapshots" / f"{cam.media_key}.jpg").write_bytes(b"\xff\xd8\xff\xd9")

    def surfaces() -> str:
        for search in ("/kamera?q=rahasia", "/kamera?district=Rahasia-District"):
            assert 'class="card-name"' not in client.get(search).get_data(as_text=True)
        urls = ["/", "/kamera", f"/kamera/{pub.id}",
                f"/multiview?ids={pub.id},{secret.id}", f"/embed/{pub.id}", "/api/v1/cameras.geojson",
                "/api/v1/cameras.csv"]
        return " ".join(client.get(u).get_data(as_text=True) for u in urls)

    text = surfaces()
    assert "Publik Kadia" in text
    assert "Rahasia" not in text and secret.media_key not in text
    for url in (f"/kamera/{secret.id}", f"/kamera/{secret.id}/status.json", f"/embed/{secret.id}"):
        assert client.get(url).status_code == 404, url
    for url in (f"/media/hls/{secret.media_key}/index.m3u8", f"/media/snapshots/{secret.media_key}.jpg",
                f"/_auth/media/{secret.media_key}"):
        assert client.get(url).status_code == 403, url

    pub.public = False
    db.session.commit()
    text = surfaces().replace(f"/kamera/{pub.id}", "")
    assert "Publik Kadia" not in text and pub.media_key not in text
    for url in (f"/kamera/{pub.id}", f"/kamera/{pub.id}/status.json", f"/embed/{pub.id}"):
        assert client.get(url).status_code == 404, url
    for url in (f"/media/hls/{pub.media_key}/index.m3u8", f"/media/snapshots/{pub.media_key}.jpg"):
        assert client.get(url).status_code == 403, url
