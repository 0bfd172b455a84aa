"""Public pages and media: public cameras are shown, private ones never are."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from flask_babel import refresh

from portal.models import db
from tests.conftest import add_camera


def _media(app: Flask, key: str) -> Path:
    folder = app.config["PANTAU"].media_path / "hls" / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n")
    (folder / "seg_1.ts").write_bytes(b"\x47" * 188)
    snaps = app.config["PANTAU"].media_path / "snapshots"
    snaps.mkdir(parents=True, exist_ok=True)
    (snaps / f"{key}.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    return folder


def test_map_page_is_indonesian_with_local_assets_only(client: FlaskClient) -> None:
    add_camera(name="Tugu MTQ")
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="id">' in page
    assert "Peta kamera publik" in page
    assert "/static/vendor/leaflet/leaflet.js" in page
    assert "cdn.jsdelivr" not in page and "unpkg" not in page and "bootstrap" not in page
    assert "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png" in page
    refresh()  # the test's app context outlives requests; drop its cached catalogue
    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Public camera map" in english


def test_geojson_lists_public_cameras_only_without_secrets(client: FlaskClient) -> None:
    pub = add_camera(name="Kendari Beach", latitude=-3.9664, longitude=122.5931)
    add_camera(name="Rahasia", public=False)
    add_camera(name="Mati", enabled=False)
    data = client.get("/api/v1/cameras.geojson").json
    assert [f["properties"]["name"] for f in data["features"]] == ["Kendari Beach"]
    feature = data["features"][0]
    assert feature["geometry"]["coordinates"] == [122.5931, -3.9664]
    assert feature["properties"]["url"] == f"/kamera/{pub.id}"
    text = client.get("/api/v1/cameras.geojson").get_data(as_text=True)
    assert "s3cret" not in text and "rtsp" not in text and "Rahasia" not in text


def test_camera_page_plays_public_and_hides_private(app: Flask, client: FlaskClient) -> None:
    pub = add_camera(name="Kali Kadia")
    priv = add_camera(name="Rahasia", public=False)
    page = client.get(f"/kamera/{pub.id}").get_data(as_text=True)
    assert f"/media/hls/{pub.media_key}/index.m3u8" in page and "hls.min.js" in page
    assert "s3cret" not in page and "kadia-s1" not in page
    assert client.get(f"/kamera/{priv.id}").status_code == 404
    assert client.get("/kamera/9999").status_code == 404


def test_private_hls_and_snapshots_are_refused(app: Flask, client: FlaskClient) -> None:
    pub = add_camera(name="Publik")
    priv = add_camera(name="Rahasia", public=False)
    for cam in (pub, priv):
        _media(app, cam.media_key)
    ok = client.get(f"/media/hls/{pub.media_key}/index.m3u8")
    assert ok.status_code == 200 and ok.mimetype == "application/vnd.apple.mpegurl"
    assert client.get(f"/media/hls/{pub.media_key}/seg_1.ts").mimetype == "video/mp2t"
    assert client.get(f"/media/snapshots/{pub.media_key}.jpg").status_code == 200
    assert client.get(f"/media/hls/{priv.media_key}/index.m3u8").status_code == 403
    assert client.get(f"/media/hls/{priv.media_key}/seg_1.ts").status_code == 403
    assert client.get(f"/media/snapshots/{priv.media_key}.jpg").status_code == 403
    assert client.get(f"/_auth/media/{pub.media_key}").status_code == 204
    assert client.get(f"/_auth/media/{priv.media_key}").status_code == 403
    assert client.get("/_auth/media/deadbeefdeadbeef").status_code == 403
    assert client.get(f"/media/hls/{pub.media_key}/..%2F..%2Fetc%2Fpasswd").status_code == 404
    # Made private: refused from the next request on.
    pub.public = False
    db.session.commit()
    assert client.get(f"/media/hls/{pub.media_key}/index.m3u8").status_code == 403
    assert client.get(f"/_auth/media/{pub.media_key}").status_code == 403
