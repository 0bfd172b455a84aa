"""The list, camera, embed and multi-view pages, the status endpoint and the effective status rule."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import refresh

from portal.models import Camera, CameraStatus, db
from portal.public.catalogue import effective_status
from portal.settings import Settings, SettingsError
from tests.conftest import add_camera

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def report(camera: Camera, status: str = "online", ago_s: float = 0) -> None:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago_s)
    db.session.add(CameraStatus(camera_id=camera.id, status=status, updated_at=at,
                                last_online_at=at if status == "online" else None))
    db.session.commit()


def cards(html: str) -> list[str]:
    return re.findall(r'<span class="card-name">([^<]+)</span>', html)


@pytest.mark.parametrize(("status", "age_s", "expected"), [
    (None, None, "unknown"),
    ("online", 5, "online"),
    ("online", 29, "online"),
    ("online", 31, "offline"),  # the worker stopped reporting: its lease (30 s) ran out
    ("starting", 1, "starting"),
    ("error", 1, "error"),
    ("error", 3600, "offline"),
    ("bogus", 1, "unknown"),
])
def test_effective_status(status: str | None, age_s: float | None, expected: str) -> None:
    updated = NOW - dt.timedelta(seconds=age_s) if age_s is not None else None
    assert effective_status(status, updated, now=NOW, lease_seconds=30) == expected


def test_effective_status_is_used_by_pages_geojson_and_status(client: FlaskClient) -> None:
    cam = add_camera(name="Stale")
    report(cam, "online", ago_s=120)
    assert client.get(f"/kamera/{cam.id}/status.json").json["status"] == "offline"
    assert client.get("/api/v1/cameras.geojson").json["features"][0]["properties"]["status"] == "offline"
    assert "status-offline" in client.get(f"/kamera/{cam.id}").get_data(as_text=True)
    assert cards(client.get("/kamera?status=offline").get_data(as_text=True)) == ["Stale"]
    assert cards(client.get("/kamera?status=online").get_data(as_text=True)) == []


def test_list_searches_and_filters_with_get_parameters(client: FlaskClient) -> None:
    report(add_camera(name="Kendari Beach", district="Kendari", category="beach"))
    report(add_camera(name="Pantai Nambo", district="Nambo", category="beach"), "error")
    report(add_camera(name="Kali Kadia", district="Kadia", category="river"), ago_s=3600)
    add_camera(name="Pasar 100%_Kadia", district="Kadia", category="market")
    add_camera(name="Rahasia Kadia", district="Kadia", public=False)
    add_camera(name="Mati Kadia", district="Kadia", enabled=False)
    page = client.get("/kamera").get_data(as_text=True)
    assert cards(page) == ["Kali Kadia", "Kendari Beach", "Pantai Nambo", "Pasar 100%_Kadia"]
    assert "4 kamera ditemukan" in page
    assert cards(client.get("/kamera?q=PANTAI").get_data(as_text=True)) == ["Pantai Nambo"]
    assert cards(client.get("/kamera?q=100%25_").get_data(as_text=True)) == ["Pasar 100%_Kadia"]
    assert cards(client.get("/kamera?q=%25").get_data(as_text=True)) == ["Pasar 100%_Kadia"]  # % is literal
    assert cards(client.get("/kamera?district=Kadia").get_data(as_text=True)) == ["Kali Kadia", "Pasar 100%_Kadia"]
    assert cards(client.get("/kamera?category=beach").get_data(as_text=True)) == ["Kendari Beach", "Pantai Nambo"]
    assert cards(client.get("/kamera?status=error").get_data(as_text=True)) == ["Pantai Nambo"]
    assert cards(client.get("/kamera?status=unknown").get_data(as_text=True)) == ["Pasar 100%_Kadia"]
    assert cards(client.get("/kamera?category=beach&status=online").get_data(as_text=True)) == ["Kendari Beach"]
    assert cards(client.get("/kamera?category=nonsense&status=nonsense&page=x").get_data(as_text=True)) == cards(page)
    districts = re.findall(r'<option value="([^"]+)"', page.split('id="district"')[1].split("</select>")[0])
    assert districts == ["Kadia", "Kendari", "Nambo"]  # only districts of public cameras


def test_list_is_a_page_or_an_htmx_fragment(client: FlaskClient) -> None:
    add_camera(name="Tugu MTQ")
    full = client.get("/kamera?q=tugu")
    assert full.headers["Vary"] == "HX-Request" or "HX-Request" in full.headers["Vary"]
    assert "<html" in full.get_data(as_text=True) and 'id="grid"' in full.get_data(as_text=True)
    assert 'hx-swap-oob' not in full.get_data(as_text=True)
    fragment = client.get("/kamera?q=tugu", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'id="grid"' in body and cards(body) == ["Tugu MTQ"]
    assert '<span id="result-count" hx-swap-oob="innerHTML">1 kamera ditemukan</span>' in body
    assert "HX-Request" in fragment.headers["Vary"]
    restore = client.get("/kamera?q=tugu", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_list_pages_through_many_cameras(client: FlaskClient) -> None:
    for i in range(30):
        add_camera(name=f"Kamera {i:02d}")
    first = client.get("/kamera").get_data(as_text=True)
    assert len(cards(first)) == 24 and "halaman 1 dari 2" in first and 'rel="next"' in first
    second = client.get("/kamera?page=2").get_data(as_text=True)
    assert cards(second) == [f"Kamera {i:02d}" for i in range(24, 30)] and 'rel="prev"' in second
    assert cards(client.get("/kamera?page=99").get_data(as_text=True)) == cards(second)


def test_camera_page_has_player_share_embed_map_and_nearby(client: FlaskClient) -> None:
    here = add_camera(name="Tugu MTQ", latitude=-3.98195, longitude=122.51868, description="Eks MTQ.")
    report(here)
    add_camera(name="Jauh", latitude=-4.2, longitude=122.9)
    add_camera(name="Dekat", latitude=-3.9825, longitude=122.5190)
    add_camera(name="Sedang", latitude=-3.9900, longitude=122.5300)
    add_camera(name="Rahasia", latitude=-3.98196, longitude=122.51869, public=False)
    page = client.get(f"/kamera/{here.id}").get_data(as_text=True)
    assert 'id="live-video"' in page and 'preload="none"' in page and "autoplay" not in page.split("<video")[1][:400]
    assert f'poster="/media/snapshots/{here.media_key}.jpg"' in page
    assert f'data-status-url="/kamera/{here.id}/status.json"' in page and 'data-timeout="300"' in page
    assert f'value="http://localhost/kamera/{here.id}"' in page
    assert f"&lt;iframe src=&#34;http://localhost/embed/{here.id}&#34;" in page
    assert 'id="minimap"' in page and 'data-lat="-3.98195"' in page
    nearby = page.split('id="nearby-title"')[1]
    assert cards(nearby) == ["Dekat", "Sedang", "Jauh"] and "Rahasia" not in page
    assert "70 m" in nearby and "km" in nearby


def test_offline_camera_page_says_when_last_seen_instead_of_play(client: FlaskClient) -> None:
    cam = add_camera(name="Pantai Nambo")
    report(cam, "online", ago_s=7200)
    page = client.get(f"/kamera/{cam.id}").get_data(as_text=True)
    assert 'data-state="offline"' in page and "Kamera ini sedang tidak aktif." in page
    assert "Terakhir terlihat" in page and "WITA" in page and "2 jam yang lalu" in page
    assert re.search(r'class="player-play"[^>]*\n?\s*hidden', page)
    never = add_camera(name="Baru")
    page = client.get(f"/kamera/{never.id}").get_data(as_text=True)
    assert "Kamera ini belum melaporkan statusnya." in page and "Belum pernah aktif" in page


def test_status_json_answers_404_when_not_public(client: FlaskClient) -> None:
    cam = add_camera(name="Kali Kadia")
    report(cam)
    ok = client.get(f"/kamera/{cam.id}/status.json")
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "no-store"
    assert ok.json["status"] == "online" and ok.json["playable"] is True and ok.json["status_label"] == "Aktif"
    assert "source" not in ok.get_data(as_text=True) and "rtsp" not in ok.get_data(as_text=True)
    cam.public = False
    db.session.commit()
    gone = client.get(f"/kamera/{cam.id}/status.json")
    assert gone.status_code == 404 and gone.json["error"] == "not_found" and gone.json["message"]
    assert client.get("/kamera/424242/status.json").status_code == 404
    cam.public, cam.enabled = True, False
    db.session.commit()
    assert client.get(f"/kamera/{cam.id}/status.json").status_code == 404


def test_status_json_speaks_the_readers_language(client: FlaskClient) -> None:
    cam = add_camera(name="Kali Kadia")
    report(cam, ago_s=600)
    refresh()
    data = client.get(f"/kamera/{cam.id}/status.json?lang=en").json
    assert data["status_label"] == "Offline" and data["last_seen"].startswith("Last seen ")
    assert "minutes ago" in data["last_seen"]


def test_embed_may_be_framed_and_nothing_else_may(client: FlaskClient) -> None:
    cam = add_camera(name="Kendari Beach")
    embed = client.get(f"/embed/{cam.id}")
    assert embed.status_code == 200 and "X-Frame-Options" not in embed.headers
    assert 'id="live-video"' in embed.get_data(as_text=True) and "topbar" not in embed.get_data(as_text=True)
    for url in ("/", "/kamera", f"/kamera/{cam.id}", f"/multiview?ids={cam.id}", f"/kamera/{cam.id}/status.json"):
        assert client.get(url).headers["X-Frame-Options"] == "SAMEORIGIN", url
    assert client.get(f"/embed/{add_camera(name='Rahasia', public=False).id}").status_code == 404
    assert 'data-autoplay="1"' in client.get(f"/embed/{cam.id}?autoplay=1").get_data(as_text=True)


def test_multiview_shows_up_to_nine_chosen_public_cameras(client: FlaskClient) -> None:
    cams = [add_camera(name=f"Kamera {i}") for i in range(12)]
    secret = add_camera(name="Rahasia", public=False)
    ids = ",".join(str(c.id) for c in cams[:4])
    page = client.get(f"/multiview?ids={ids},{secret.id},abc,{cams[0].id}").get_data(as_text=True)
    assert page.count('class="tile"') == 4 and "multiview-4" in page and "Rahasia" not in page
    assert [f"live-video-{c.id}" for c in cams[:4]] == re.findall(r'id="(live-video-\d+)"', page)
    repeated = client.get("/multiview?" + "&".join(f"ids={c.id}" for c in cams[:6])).get_data(as_text=True)
    assert repeated.count('class="tile"') == 6 and "multiview-9" in repeated
    many = client.get("/multiview?ids=" + ",".join(str(c.id) for c in cams)).get_data(as_text=True)
    assert many.count('class="tile"') == 9
    empty = client.get("/multiview").get_data(as_text=True)
    assert 'class="tile"' not in empty and "Pilih hingga 9 kamera" in empty


def test_not_found_is_translated_for_people_and_json_for_programs(client: FlaskClient) -> None:
    page = client.get("/tidak-ada")
    assert page.status_code == 404 and "Tidak ditemukan" in page.get_data(as_text=True)
    assert client.get("/api/v1/nothing").json["error"] == "not_found"


def test_every_public_page_is_translated(app: Flask, client: FlaskClient) -> None:
    cam = add_camera(name="Kendari Beach")
    report(cam)
    add_camera(name="Pantai Nambo")
    english = ("Watch live", "Search by name", "Multi-view", "Nearby cameras", "Share", "Public camera map",
               "Open data", "Not found", "Choose cameras")
    indonesian = ("Tonton langsung", "Cari berdasarkan nama", "Tampilan ganda", "Kamera terdekat", "Bagikan",
                  "Peta kamera publik", "Data terbuka", "Tidak ditemukan", "Pilih kamera")
    urls = ["/", "/kamera", f"/kamera/{cam.id}", f"/embed/{cam.id}", "/multiview", f"/multiview?ids={cam.id}",
            "/nope"]
    pages_id = " ".join(client.get(u).get_data(as_text=True) for u in urls)
    for word in english:
        assert word not in pages_id, word
    for word in indonesian:
        assert word in pages_id, word
    refresh()
    pages_en = " ".join(client.get(u + ("&" if "?" in u else "?") + "lang=en").get_data(as_text=True) for u in urls)
    for word in english:
        assert word in pages_en, word


def test_language_links_keep_the_search(client: FlaskClient) -> None:
    page = client.get("/kamera?q=pantai&district=Kadia").get_data(as_text=True)
    assert 'href="/kamera?q=pantai&amp;district=Kadia&amp;lang=en"' in page


def test_settings_for_the_player() -> None:
    assert Settings.from_env({"PANTAU_LIVE_TIMEOUT_S": "120"}).live_timeout_s == 120
    assert Settings.from_env({}).live_timeout_s == 300 and Settings.from_env({}).timezone == "Asia/Makassar"
    assert Settings.from_env({"PANTAU_TIMEZONE": "Asia/Jayapura"}).timezone == "Asia/Jayapura"
    with pytest.raises(SettingsError, match="LIVE_TIMEOUT_S"):
        Settings.from_env({"PANTAU_LIVE_TIMEOUT_S": "-1"})
    with pytest.raises(SettingsError, match="TIMEZONE"):
        Settings.from_env({"PANTAU_TIMEZONE": "Mars/Olympus"})


def test_indonesian_catalogue_is_complete() -> None:
    from babel.messages.pofile import read_po

    from portal.i18n import TRANSLATIONS

    with (TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    untranslated = [m.id for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple)
                                                                         and not all(m.string)))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated and not fuzzy, (untranslated, fuzzy)
