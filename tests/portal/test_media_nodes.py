"""Media on many nodes: a worker's media address in the sync, viewers sent to the node that runs the camera now,
the node's access check refusing cameras it no longer runs. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from contract.media import normalize_media_url
from portal.models import (
    Camera,
    CameraGroup,
    CameraGroupMember,
    CameraLease,
    CameraStatus,
    LeaseRelease,
    Worker,
    db,
)
from portal.settings import Settings, SettingsError
from tests.conftest import WorkerAuth, add_camera, login_as, make_settings, migrated_app
from transcoder.config import ConfigError, WorkerConfig

NODE_A = "http://127.0.0.1:18081"
NODE_B = "http://127.0.0.2:18082"
ORIGINS = f"{NODE_A}, {NODE_B}/"
_auth = WorkerAuth()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def node_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    _auth.credentials.clear()
    overrides: dict[str, object] = {"media_origins": ORIGINS}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    application = migrated_app(make_settings(tmp_path, **overrides))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def web(node_app: Flask) -> FlaskClient:
    return node_app.test_client()


def sync(client: FlaskClient, name: str, media_url: object = None, **body: object):  # type: ignore[no-untyped-def]
    worker: dict[str, object] = {"name": name, "capacity": 200}
    if media_url is not None:
        worker["media_url"] = media_url
    return client.post("/api/worker/v1/sync", json={"worker": worker, **body}, headers=_auth(name))


def report_online(client: FlaskClient, name: str, media_url: str | None, camera: Camera):  # type: ignore[no-untyped-def]
    return sync(client, name, media_url, cameras=[{"id": camera.id, "state": "running", "status": "online"}])


def move(camera: Camera, to: str) -> None:
    """Hand the camera's lease to another worker (as when its old worker's lease ran out)."""
    db.session.query(CameraLease).filter_by(camera_id=camera.id).delete()
    worker = db.session.query(Worker).filter_by(name=to).one()
    db.session.add(CameraLease(camera_id=camera.id, worker_id=worker.id,
                               expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)))
    db.session.commit()


def test_the_address_a_worker_reports_reaches_every_viewer_page(web: FlaskClient) -> None:
    cam = add_camera(name="Simpang Empat")
    assert report_online(web, "a", NODE_A + "/", cam).status_code == 200
    assert report_online(web, "a", NODE_A + "/", cam).status_code == 200
    assert db.session.query(Worker).filter_by(name="a").one().media_url == NODE_A
    key = cam.media_key
    hls, snap = f"{NODE_A}/media/hls/{key}/index.m3u8", f"{NODE_A}/media/snapshots/{key}.jpg"

    status = web.get(f"/kamera/{cam.id}/status.json").json
    assert status["hls_url"] == hls and status["snapshot_url"] == snap
    page = web.get(f"/kamera/{cam.id}").get_data(as_text=True)
    assert f'data-src="{hls}"' in page and f'poster="{snap}"' in page
    assert f'<meta property="og:image" content="{snap}">' in page
    assert f'data-src="{hls}"' in web.get(f"/embed/{cam.id}").get_data(as_text=True)
    assert f'data-src="{hls}"' in web.get(f"/multiview?ids={cam.id}").get_data(as_text=True)
    assert f'src="{snap}"' in web.get("/kamera").get_data(as_text=True)
    feature = web.get("/api/v1/cameras.geojson").json["features"][0]["properties"]
    assert feature["hls_url"] == hls and feature["snapshot_url"] == snap
    csv = web.get("/api/v1/cameras.csv").get_data(as_text=True)
    assert f",{snap},{hls}" in csv and "http://localhost" + NODE_A not in csv

    # the page may load media from the node: CSP lists the allowed origins
    policy = web.get("/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    for name in ("media-src", "connect-src", "img-src"):
        assert NODE_A in directives[name].split() and NODE_B in directives[name].split(), name


def test_no_address_means_the_portals_own_media_as_on_one_machine(web: FlaskClient) -> None:
    cam = add_camera()
    assert report_online(web, "solo", None, cam).status_code == 200
    assert report_online(web, "solo", "", cam).status_code == 200
    assert db.session.query(Worker).one().media_url is None
    status = web.get(f"/kamera/{cam.id}/status.json").json
    assert status["hls_url"] == f"/media/hls/{cam.media_key}/index.m3u8"
    assert status["snapshot_url"] == f"/media/snapshots/{cam.media_key}.jpg"
    assert f'data-src="/media/hls/{cam.media_key}/index.m3u8"' in web.get(f"/kamera/{cam.id}").get_data(as_text=True)


def test_a_camera_that_moves_changes_address_within_one_sync(web: FlaskClient) -> None:
    cam = add_camera()
    report_online(web, "a", NODE_A, cam)
    assert sync(web, "b", NODE_B).status_code == 200
    assert web.get(f"/kamera/{cam.id}/status.json").json["hls_url"].startswith(NODE_A + "/")
    staff = web.application.test_client()
    login_as(staff, "admin")
    health = staff.get("/admin/kesehatan").get_data(as_text=True)
    assert f"<span class=\"sub\" data-media-url>{NODE_A}</span>" in health and NODE_B in health
    move(cam, "b")  # a's lease ran out; b's next sync holds it
    answer = sync(web, "b", NODE_B)
    assert [c["id"] for c in answer.json["cameras"]] == [cam.id]
    assert web.get(f"/kamera/{cam.id}/status.json").json["hls_url"] == \
        f"{NODE_B}/media/hls/{cam.media_key}/index.m3u8"
    props = web.get("/api/v1/cameras.geojson").json["features"][0]["properties"]
    assert props["hls_url"].startswith(NODE_B + "/")


def test_a_node_is_refused_the_cameras_it_does_not_run_now(web: FlaskClient) -> None:
    cam = add_camera()
    report_online(web, "a", NODE_A, cam)
    sync(web, "b", NODE_B)
    ask = f"/_auth/media/{cam.media_key}"
    assert web.get(ask).status_code == 204  # the front door (no node named): as before
    assert web.get(ask, headers={"X-Pantau-Media-Node": NODE_A}).status_code == 204
    assert web.get(ask, headers={"X-Pantau-Media-Node": NODE_A + "/"}).status_code == 204
    assert web.get(ask, headers={"X-Pantau-Media-Node": NODE_B}).status_code == 401
    move(cam, "b")
    assert web.get(ask, headers={"X-Pantau-Media-Node": NODE_A}).status_code == 401  # a's stale folder
    assert web.get(ask, headers={"X-Pantau-Media-Node": NODE_B}).status_code == 204
    for junk in ("", "nonsense", "javascript:alert(1)", "http://" + "x" * 300):
        assert web.get(ask, headers={"X-Pantau-Media-Node": junk}).status_code == 401
    db.session.query(CameraLease).delete()
    db.session.commit()
    assert web.get(ask, headers={"X-Pantau-Media-Node": NODE_B}).status_code == 401  # nobody runs it
    private = add_camera(public=False)
    assert web.get(f"/_auth/media/{private.media_key}", headers={"X-Pantau-Media-Node": NODE_B}).status_code == 403


def test_the_node_a_camera_left_serves_its_last_segments_a_few_seconds_then_refuses(web: FlaskClient) -> None:
    from contract.worker_api import HANDOVER_SERVE_S
    from portal.models import LeaseRelease

    cam = add_camera()
    report_online(web, "a", NODE_A, cam)
    sync(web, "b", NODE_B)
    ask, node_a = f"/_auth/media/{cam.media_key}", {"X-Pantau-Media-Node": NODE_A}
    left = web.post("/api/worker/v1/sync", json={"worker": {"name": "a", "media_url": NODE_A, "leaving": True}},
                    headers=_auth("a"))
    assert left.json["released"] == 1
    assert [c["id"] for c in sync(web, "b", NODE_B).json["cameras"]] == [cam.id]
    assert web.get(f"/kamera/{cam.id}/status.json").json["hls_url"].startswith(NODE_B + "/")
    # open players still on a's address keep its last segments while they learn b's (their next status poll)
    assert web.get(ask, headers=node_a).status_code == 204
    assert web.get(ask, headers={"X-Pantau-Media-Node": NODE_B}).status_code == 204
    db.session.query(LeaseRelease).update(
        {"released_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=HANDOVER_SERVE_S + 1)})
    db.session.commit()
    assert web.get(ask, headers=node_a).status_code == 401  # then a's folder is stale: never served as live


def test_the_wall_plays_public_cameras_from_their_node_and_private_ones_through_the_portal(
        node_app: Flask, web: FlaskClient) -> None:
    public, private = add_camera(name="Publik"), add_camera(name="Privat", public=False)
    sync(web, "a", NODE_A, cameras=[])
    assert {lease.camera_id for lease in db.session.query(CameraLease)} == {public.id, private.id}
    db.session.add(CameraGroup(name="Dinding", members=[CameraGroupMember(camera_id=public.id, position=0),
                                                       CameraGroupMember(camera_id=private.id, position=1)]))
    db.session.commit()
    group = db.session.query(CameraGroup).one()
    staff = node_app.test_client()
    login_as(staff, "admin")
    wall = staff.get(f"/admin/grup/{group.id}").get_data(as_text=True)
    assert f'data-src="{NODE_A}/media/hls/{public.media_key}/index.m3u8"' in wall
    # the node cannot see the portal's cookie: a private camera gets a media pass in its path
    found = re.search(rf'data-src="{re.escape(NODE_A)}/media/p/([0-9]{{10}})/([A-Za-z0-9_-]{{32}})/hls/'
                      rf'{private.media_key}/index\.m3u8"', wall)
    assert found is not None, wall
    expires, sig = found.groups()
    assert 3600 <= int(expires) - time.time() <= 7200
    assert staff.get(f"/admin/kamera/{public.id}/status.json").json["hls_url"].startswith(NODE_A + "/media/hls/")
    assert staff.get(f"/admin/kamera/{private.id}/status.json").json["hls_url"] == \
        f"{NODE_A}/media/p/{expires}/{sig}/hls/{private.media_key}/index.m3u8"
    assert "/media/p/" not in web.get(f"/kamera/{public.id}").get_data(as_text=True)
    assert web.get(f"/kamera/{private.id}/status.json").status_code == 404

    # the node's check: anyone holding the pass may read that camera there, nothing else
    ask = f"/_auth/media/{private.media_key}"
    node = {"X-Pantau-Media-Node": NODE_A}
    assert web.get(ask, headers=node).status_code == 403  # no session, no pass
    assert web.get(f"{ask}?expires={expires}&sig={sig}", headers=node).status_code == 204
    assert "X-Pantau-Cache" not in web.get(f"{ask}?expires={expires}&sig={sig}", headers=node).headers
    assert web.get(f"{ask}?expires={expires}&sig={sig}", headers={"X-Pantau-Media-Node": NODE_B}).status_code == 401
    tampered = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    later = str(int(expires) + 3600)
    for query in (f"expires={expires}&sig={tampered}", f"expires={later}&sig={sig}", f"expires={expires}",
                  f"sig={sig}", f"expires=1&sig={sig}", f"expires={expires}&sig={sig}x", "expires=&sig="):
        assert web.get(f"{ask}?{query}", headers=node).status_code == 403, query
    assert web.get(f"/_auth/media/{public.media_key}?expires={expires}&sig={sig}", headers=node).status_code == 204
    other = add_camera(name="Lain", public=False)
    assert web.get(f"/_auth/media/{other.media_key}?expires={expires}&sig={sig}").status_code == 403


def test_a_media_pass_expires(node_app: Flask) -> None:
    from portal.media import passes

    with node_app.test_request_context():
        prefix = passes.issue("0123456789abcdef", now=1_800_000_000)
        _, expires, sig, _ = prefix.split("/")
        assert passes.valid("0123456789abcdef", expires, sig, now=1_800_000_000 + 3599)
        assert not passes.valid("0123456789abcdef", expires, sig, now=int(expires))
        assert not passes.valid("0123456789abcdef", expires, sig, now=1_800_000_000 - 4 * 3600)  # too far ahead
        assert not passes.valid("fedcba9876543210", expires, sig, now=1_800_000_000)
        assert prefix == passes.issue("0123456789abcdef", now=1_800_000_000 + 10)  # one URL per hour for all


@pytest.mark.parametrize("bad", [
    "ftp://127.0.0.1:18081", "http://", "127.0.0.1:18081", "http://user:pw@127.0.0.1:18081",
    "http://127.0.0.1:18081/?a=1", "http://127.0.0.1:18081/#x", "http://127.0.0.1:99999",
    "http://127.0.0.1:18081/a b", "http://127.0.0.1:18081/../x", "http://127.0.0.1:18081/\u00e9",
    "http://127.0.0.1:18081/" + "x" * 250, 42, ["http://127.0.0.1:18081"], {"url": NODE_A},
    "http://127.0.0.3:18081",  # a well-formed address the portal does not allow
    "https://127.0.0.1:18081",  # the allowed host, another scheme: another origin
])
def test_a_bad_or_unlisted_address_is_a_clear_400(web: FlaskClient, bad: object) -> None:
    cam = add_camera()
    response = report_online(web, "a", bad, cam)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert response.json["error"] == "bad_request" and "worker.media_url" in response.json["detail"]
    assert db.session.get(CameraStatus, cam.id) is None  # nothing of the body was stored


def test_settings_take_origins_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, media_origins=ORIGINS)
    assert settings.media_origin_list == (NODE_A, NODE_B)
    assert make_settings(tmp_path).media_origin_list == ()
    for bad in ("http://127.0.0.1:1/media", "ftp://127.0.0.1", "nonsense", "http://127.0.0.1 b"):
        with pytest.raises(SettingsError, match="PANTAU_MEDIA_ORIGINS"):
            Settings.from_env({"PANTAU_MEDIA_ORIGINS": bad})
    assert Settings.from_env({"PANTAU_MEDIA_ORIGINS": "HTTP://127.0.0.1:1"}).media_origin_list == ("http://127.0.0.1:1",)


def test_the_worker_reads_and_checks_its_media_address() -> None:
    base = {"PANTAU_WORKER_CREDENTIAL": "pantau_w_secret"}
    assert WorkerConfig.from_env(base).media_url == ""
    assert WorkerConfig.from_env({**base, "PANTAU_MEDIA_URL": NODE_A + "/"}).media_url == NODE_A
    assert WorkerConfig.from_env({**base, "PANTAU_MEDIA_URL": "https://Media1.Pantau.Example/cdn/"}).media_url == \
        "https://media1.pantau.example/cdn"
    for bad in ("media1", "ftp://x", "http://u:p@127.0.0.1", "http://127.0.0.1/?q"):
        with pytest.raises(ConfigError, match="PANTAU_MEDIA_URL"):
            WorkerConfig.from_env({**base, "PANTAU_MEDIA_URL": bad})
    assert normalize_media_url(" http://127.0.0.1:8081 ") == "http://127.0.0.1:8081"


def leases() -> dict[int, tuple[str, str | None]]:
    """camera id -> (holder, successor) as the database has them now."""
    db.session.expire_all()
    return {lease.camera_id: (lease.worker.name, lease.successor.name if lease.successor else None)
            for lease in db.session.query(CameraLease)}


def run_ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(c["id"] for c in response.json["cameras"])


def online(*cams: Camera) -> list[dict[str, object]]:
    return [{"id": c.id, "state": "running", "status": "online"} for c in cams]


def test_a_worker_that_joins_takes_cameras_warm_viewers_stay_until_it_is_live(web: FlaskClient) -> None:
    """Rebalancing between media nodes is make-before-break: the holder runs the camera until the taker reports it
    live, and viewers are sent to the taker only then; the old holder stops it at its next sync."""
    cams = [add_camera(name=f"Warm {i}") for i in range(4)]
    ids = sorted(c.id for c in cams)
    assert run_ids(sync(web, "a", NODE_A, cameras=online())) == ids
    assert run_ids(sync(web, "a", NODE_A, cameras=online(*cams))) == ids
    assert run_ids(sync(web, "b", NODE_B)) == []  # nothing free: a holds more than its share
    # a hands its excess over, and keeps running all four meanwhile
    assert run_ids(sync(web, "a", NODE_A, cameras=online(*cams))) == ids
    moving = [i for i, (holder, _) in leases().items() if holder == "a"][2:]
    assert len(moving) == 2 and all(db.session.get(CameraLease, i).handover_since for i in moving)
    # b warms them up: it runs them, but a still holds them, and b's "starting" is not the cameras' status
    starting = [{"id": i, "state": "starting", "status": "starting"} for i in moving]
    assert run_ids(sync(web, "b", NODE_B, cameras=starting)) == moving
    assert all(leases()[i] == ("a", "b") for i in moving)
    for i in moving:
        assert web.get(f"/kamera/{i}/status.json").json["hls_url"].startswith(NODE_A)
        assert db.session.get(CameraStatus, i).status == "online"
    assert run_ids(sync(web, "a", NODE_A, cameras=online(*cams))) == ids  # a still runs them
    # b's playlist is live: the leases are b's, viewers go to b
    by_id = {c.id: c for c in cams}
    assert run_ids(sync(web, "b", NODE_B, cameras=online(*(by_id[i] for i in moving)))) == moving
    assert all(leases()[i] == ("b", None) for i in moving)
    for i in moving:
        hls = web.get(f"/kamera/{i}/status.json").json["hls_url"]
        assert hls == f"{NODE_B}/media/hls/{by_id[i].media_key}/index.m3u8"
        assert db.session.get(CameraStatus, i).worker_id == leases_worker_id("b")
    # a's next sync no longer gives it those (it stops them); nothing moves after that
    kept = run_ids(sync(web, "a", NODE_A, cameras=online(*cams)))
    assert kept == sorted(set(ids) - set(moving))
    for _ in range(2):
        assert run_ids(sync(web, "a", NODE_A, cameras=online(*(by_id[i] for i in kept)))) == kept
        assert run_ids(sync(web, "b", NODE_B, cameras=online(*(by_id[i] for i in moving)))) == moving
    # a's footage of the moved cameras, recorded while it held them, is still indexed from a
    released = db.session.query(LeaseRelease).filter_by(worker_id=leases_worker_id("a"))
    assert {r.camera_id for r in released} == set(moving)


def leases_worker_id(name: str) -> int:
    return db.session.query(Worker).filter_by(name=name).one().id


def test_a_warm_handover_completes_without_a_live_picture_and_survives_its_holder_leaving(web: FlaskClient) -> None:
    from portal.workers import leases as lease_rules

    cams = [add_camera(name=f"Cold {i}") for i in range(2)]
    sync(web, "a", NODE_A)
    assert len(run_ids(sync(web, "a", NODE_A))) == 2
    sync(web, "b", NODE_B)
    sync(web, "a", NODE_A)  # hands one over
    moving = next(i for i, (_, s) in leases().items() if db.session.get(CameraLease, i).handover_since)
    assert run_ids(sync(web, "b", NODE_B)) == [moving]
    # its source is down at b too: b takes it anyway once the handover is older than HANDOVER_MAX_S
    lease = db.session.get(CameraLease, moving)
    lease.handover_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=lease_rules.HANDOVER_MAX_S + 1)
    db.session.commit()
    assert run_ids(sync(web, "b", NODE_B)) == [moving]
    assert leases()[moving] == ("b", None)

    # the other camera, in the middle of a warm handover to b, when a leaves (stops, or dies and its watcher says
    # so): b, which runs it already, keeps it
    other = next(c.id for c in cams if c.id != moving)
    lease = db.session.get(CameraLease, other)
    assert lease.worker.name == "a"
    lease.handover_since = dt.datetime.now(dt.UTC)
    lease.successor_id = leases_worker_id("b")
    db.session.commit()
    left = web.post("/api/worker/v1/sync", json={"worker": {"name": "a", "media_url": NODE_A, "leaving": True}},
                    headers=_auth("a"))
    assert left.status_code == 200 and left.json["cameras"] == []
    assert leases()[other] == ("b", None)
    assert run_ids(sync(web, "b", NODE_B)) == sorted(c.id for c in cams)
    # a holder that dies with no word at all mid-handover: when its lease runs out, the successor keeps it
    assert sync(web, "a", NODE_A).status_code == 200  # a is back, and is to take one over from b
    lease = db.session.get(CameraLease, other)
    lease.handover_since = dt.datetime.now(dt.UTC)
    lease.successor_id = leases_worker_id("a")
    lease.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.session.commit()
    assert sync(web, "a", NODE_A).status_code == 200  # (any sync notices the lapsed lease)
    assert leases()[other] == ("a", None)


def test_a_handover_nobody_can_take_warm_is_let_go_as_before(web: FlaskClient) -> None:
    """A taker without a media node of its own (it shares the portal's folder) never runs a camera beside its
    holder: the holder lets it go after HANDOVER_MAX_S and the taker takes it the old way."""
    from portal.workers import leases as lease_rules

    cams = [add_camera(name=f"Shared {i}") for i in range(2)]
    sync(web, "a", NODE_A)
    assert len(run_ids(sync(web, "a", NODE_A))) == 2
    assert run_ids(sync(web, "plain")) == []
    sync(web, "a", NODE_A)
    offered = [i for i in leases() if db.session.get(CameraLease, i).handover_since]
    assert len(offered) == 1
    assert run_ids(sync(web, "plain")) == [], "no warm handover to a worker without a node of its own"
    db.session.get(CameraLease, offered[0]).handover_since = (
        dt.datetime.now(dt.UTC) - dt.timedelta(seconds=lease_rules.HANDOVER_MAX_S + 1))
    db.session.commit()
    assert len(run_ids(sync(web, "a", NODE_A))) == 1  # let go
    assert run_ids(sync(web, "plain")) == offered
    assert sorted(leases()) == sorted(c.id for c in cams)
