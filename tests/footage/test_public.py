"""Residents ask to keep footage (never seeing it; rate-limited; taken over by a police request) and anyone
verifies an exported file on /verifikasi; the CLI verifies the same way."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from portal.cli import cli
from portal.footage import asking, evidence
from portal.footage.exports import tick
from portal.models import AuditEntry, LegalHold, ResidentHoldRequest, db, utcnow
from tests.footage.conftest import People, add_camera
from tests.footage.test_requests import local_input


def resident_form(cameras: list[int], start: dt.datetime, end: dt.datetime, phone: str = "0812-3456 7890") -> dict:  # type: ignore[type-arg]
    return {"cameras": [str(c) for c in cameras], "start": local_input(start), "end": local_input(end),
            "phone": phone, "police_report_number": "LP/B/55/XI/2026", "description": "Motor saya dicuri."}


def test_a_resident_asks_to_keep_footage_and_never_sees_it(app: Flask, people: People) -> None:
    cam = add_camera(name="Pasar Sentral")
    private = add_camera(name="Gudang", public=False)
    client = app.test_client()
    page = client.get(f"/simpan-rekaman?kamera={cam.id}").get_data(as_text=True)
    assert "Pasar Sentral" in page and "Gudang" not in page and "14 hari" in page
    end = utcnow().replace(microsecond=0) - dt.timedelta(hours=3)
    start = end - dt.timedelta(hours=1)
    assert client.post("/simpan-rekaman", data=resident_form([private.id], start, end)).status_code == 400
    bad_phone = client.post("/simpan-rekaman", data=resident_form([cam.id], start, end, phone="12345"))
    assert bad_phone.status_code == 400 and "nomor telepon Indonesia" in bad_phone.get_data(as_text=True)
    assert db.session.scalar(select(LegalHold.id)) is None
    response = client.post("/simpan-rekaman", data=resident_form([cam.id], start, end))
    assert response.status_code == 303
    resident = db.session.scalars(select(ResidentHoldRequest)).one()
    assert resident.phone == "+6281234567890" and resident.camera_ids == [cam.id]
    hold = db.session.scalars(select(LegalHold)).one()
    assert (hold.kind, hold.camera_id, hold.start_at, hold.end_at) == ("resident", cam.id, start, end)
    assert hold.keep_until - utcnow() > dt.timedelta(days=13, hours=23)
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert resident.code in done and "<video" not in done and "m3u8" not in done and "/unduh/" not in done
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "footage.resident_hold_created")).one()
    assert entry.ip == "127.0.0.1" and entry.detail["phone"] == "*********7890" and entry.actor == "anonymous"
    assert "6281234567890" not in json.dumps(entry.detail)
    # the police take it over: the hold now lives as long as their request needs it
    request = asking.ask_police(people.police, [cam.id], start, end, case_number="LP/B/55", legal_basis="KUHAP",
                                reason="pencurian motor", resident_codes=[resident.code.lower()], now=utcnow(),
                                actor="bripka.andi")
    db.session.commit()
    db.session.refresh(hold)
    assert hold.footage_request_id == request.id and resident.taken_over_by_id == request.id
    assert tick(hold.keep_until + dt.timedelta(days=1))["released"] == 0  # pending request: still held
    with pytest.raises(asking.AskError):
        asking.ask_police(people.police, [cam.id], start, end, case_number="X/1", legal_basis="KUHAP",
                          reason="kode salah", resident_codes=["SR-NOPE"], now=utcnow())


def test_an_unclaimed_resident_hold_ends_by_itself(app: Flask) -> None:
    cam = add_camera()
    end = utcnow() - dt.timedelta(hours=1)
    resident = asking.ask_resident([cam.id], end - dt.timedelta(minutes=30), end, phone="+6281200000000", name="",
                                   police_report_number="", description="", ip="127.0.0.1", now=utcnow())
    db.session.commit()
    assert tick(resident.keep_until - dt.timedelta(minutes=1))["released"] == 0
    assert tick(resident.keep_until + dt.timedelta(minutes=1))["released"] == 1
    db.session.commit()
    assert db.session.scalars(select(LegalHold)).one().release_reason == "the hold's end date passed"


def test_the_resident_form_is_rate_limited(tmp_path: Path) -> None:
    from tests.footage.conftest import make_footage_app

    app = make_footage_app(tmp_path, resident_rate_limit="2 per hour")
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        cam = add_camera()
        end = utcnow() - dt.timedelta(hours=1)
        client = app.test_client()
        codes = [client.post("/simpan-rekaman", data=resident_form([cam.id], end - dt.timedelta(minutes=5), end,
                                                                   phone=f"08129999000{n}")).status_code
                 for n in range(3)]
        assert codes == [303, 303, 429]
        assert db.session.scalar(select(db.func.count()).select_from(ResidentHoldRequest)) == 2
        # one phone number: at most 3 a day, from any address
        for n in range(4):
            response = client.post("/simpan-rekaman", data=resident_form([cam.id], end - dt.timedelta(minutes=5), end,
                                                                         phone="081277778888"),
                                   environ_base={"REMOTE_ADDR": f"127.0.0.{10 + n}"})
            assert response.status_code == (303 if n < 3 else 429)
        db.session.remove()
        db.engine.dispose()


def signed_manifest(app: Flask, file_bytes: bytes) -> bytes:
    key = evidence.load_private_key(app.config["PANTAU"].evidence_key_path)
    body = {"case": {"case_number": "LP/1"}, "issued_at": "2026-11-30T10:00:00+08:00",
            "files": [{"file": "a.mp4", "sha256": hashlib.sha256(file_bytes).hexdigest(), "gaps": [],
                       "actual": {"start": "x", "end": "y"}}]}
    return evidence.sign(body, key)


def test_changing_one_byte_of_the_manifest_or_the_file_fails(app: Flask) -> None:
    video = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4
    manifest = signed_manifest(app, video)
    key = evidence.city_public_key(app.config["PANTAU"].evidence_key_path)
    assert evidence.verify(manifest, hashlib.sha256(video).hexdigest(), key).ok
    for i in range(len(manifest)):
        changed = bytearray(manifest)
        changed[i] ^= 0x01
        assert not evidence.verify(bytes(changed), hashlib.sha256(video).hexdigest(), key).ok, i
    for i in range(0, len(video), 97):
        changed = bytearray(video)
        changed[i] ^= 0x80
        assert not evidence.verify(manifest, hashlib.sha256(changed).hexdigest(), key).ok
    stranger = evidence.Ed25519PrivateKey.generate()
    forged = evidence.sign(json.loads(manifest), stranger)
    verdict = evidence.verify(forged, hashlib.sha256(video).hexdigest(), key)
    assert verdict.problems == ["key_is_city", "signature_valid"]


def test_the_verification_page_and_the_command_line(app: Flask, tmp_path: Path) -> None:
    video = b"rekaman" * 1000
    manifest = signed_manifest(app, video)
    client = app.test_client()
    page = client.get("/verifikasi").get_data(as_text=True)
    key = evidence.city_public_key(app.config["PANTAU"].evidence_key_path)
    assert evidence.fingerprint(key) in page and "BEGIN PUBLIC KEY" in page and "PRIVATE" not in page
    pem = client.get("/verifikasi/kunci-publik.pem")
    assert pem.data.decode() == evidence.public_pem(key)

    def post(manifest_bytes: bytes, **extra: object) -> str:
        data = {"manifest": (io.BytesIO(manifest_bytes), "m.json"), **extra}
        return client.post("/verifikasi", data=data, content_type="multipart/form-data").get_data(as_text=True)

    ok = post(manifest, file=(io.BytesIO(video), "a.mp4"))
    assert 'data-verdict="ok"' in ok and "Terverifikasi" in ok
    assert 'data-verdict="ok"' in post(manifest, sha256=hashlib.sha256(video).hexdigest().upper())
    bad = post(manifest, file=(io.BytesIO(video + b"\x00"), "a.mp4"))
    assert 'data-verdict="bad"' in bad and "Berkas ini bukan yang tercantum" in bad
    altered = manifest.replace(b'"LP/1"', b'"LP/2"')
    assert "Tanda tangan tidak cocok" in post(altered, sha256=hashlib.sha256(video).hexdigest())
    assert "64 digit" in post(manifest, sha256="abc")
    # offline, with the published key only
    (tmp_path / "v.mp4").write_bytes(video)
    (tmp_path / "m.json").write_bytes(manifest)
    (tmp_path / "k.pem").write_text(evidence.public_pem(key))
    env = {"PANTAU_INSTANCE_PATH": str(tmp_path / "elsewhere"), "PANTAU_ENV": "test", "PANTAU_SECRET_KEY": "x"}
    args = ["evidence", "verify", str(tmp_path / "v.mp4"), str(tmp_path / "m.json"), "--public-key",
            str(tmp_path / "k.pem")]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0 and "VERIFIED" in result.output
    (tmp_path / "v.mp4").write_bytes(video[:-1] + b"X")
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1 and "NOT VERIFIED" in result.output and "FAIL" in result.output
    tick = CliRunner().invoke(cli, ["footage", "tick"], env={**env, **{
        "PANTAU_INSTANCE_PATH": app.config["PANTAU"].instance_path,
        "PANTAU_DATABASE_URL": app.config["PANTAU"].database_url}})
    assert tick.exit_code == 0 and json.loads(tick.output) == {"expired": 0, "released": 0}
