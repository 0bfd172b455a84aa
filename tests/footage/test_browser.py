"""The footage pages in Chromium: the police find a camera on the map or by name, read its day, play archived
footage (hls.js on byte ranges of the recorded segments) and ask for it; another person (an admin) approves;
the export's progress shows on the request page until the file downloads; anyone verifies it on /verifikasi.
Every page under the app's Content-Security-Policy (no refusal allowed), and on a phone."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from contract import worker_api
from portal.footage.evidence import sha256_file
from portal.models import FootageExport, FootageRequest, RecordingSegment, db, utcnow
from tests.browser.conftest import watch_csp
from tests.conftest import STAFF_PASSWORD, issue_credential
from tests.e2e.conftest import serve
from tests.footage.conftest import add_camera, make_footage_app, make_user
from tests.support.recordings import make_segments
from tests.support.tools import require_tool
from transcoder.export import Exporter

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class FakeWorker:
    """The worker's side of the sync, in this process: asks for jobs, runs them with the real exporter."""

    def __init__(self, app: Any, media: Path, credential: str) -> None:
        self.client, self.headers = app.test_client(), {"Authorization": f"Bearer {credential}"}
        self.pool = ThreadPoolExecutor(1)
        self.exporter = Exporter(media, require_tool("ffmpeg", reason="exports"), self.pool)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        while not self.stop.is_set():
            reports, deleted, receipt = self.exporter.body()
            reply = self.client.post(worker_api.SYNC_PATH, json={"worker": {"name": "w1"}, "exports": reports,
                                                                 "deleted_exports": deleted}, headers=self.headers)
            if reply.status_code == 200:
                self.exporter.delivered(receipt)
                self.exporter.apply(reply.get_json()["exports"], reply.get_json()["expired_exports"])
            self.stop.wait(0.5)


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    app = make_footage_app(tmp_path)
    server, url = serve(app)
    media = app.config["PANTAU"].media_path
    with app.app_context():
        police, admin = make_user("police", "bripka.andi"), make_user("admin", "admin.dina")
        cam = add_camera(name="Pasar Sentral", district="Mandonga", latitude=-3.98, longitude=122.52)
        add_camera(name="Gudang Dishub", public=False, district="Kadia", latitude=-3.99, longitude=122.51)
        credential = issue_credential("w1")
        start = (utcnow() - dt.timedelta(minutes=30)).replace(microsecond=0)
        made = make_segments(media, cam.id, start, 6, seconds=4)
        worker_id = db.session.execute(db.text("SELECT id FROM workers WHERE name = 'w1'")).scalar()
        for path, a, b, size, init in made:
            db.session.add(RecordingSegment(camera_id=cam.id, worker_id=worker_id, path=path, start_at=a, end_at=b,
                                            bytes=size, init_bytes=init))
        db.session.commit()
        info = {"app": app, "url": url, "police": police.username, "admin": admin.username, "camera": cam.id,
                "start": start,
                "media": media, "credential": credential}
    worker = FakeWorker(app, media, credential)
    try:
        yield {**info, "worker": worker}
    finally:
        worker.stop.set()
        worker.pool.shutdown(wait=True)
        server.shutdown()
        with app.app_context():
            db.engine.dispose()


def person(browser: Any, site: dict[str, Any], username: str | None, **context: Any) -> tuple[Any, Any, list[str]]:
    """A browser of its own, signed in through the sign-in page (no second factor outside production)."""
    ctx = browser.new_context(accept_downloads=True, **({"viewport": {"width": 1280, "height": 900}} | context))
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    refused = watch_csp(page)
    if username is not None:
        page.goto(f"{site['url']}/masuk")
        page.fill("#username", username)
        page.fill("#password", STAFF_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/masuk" not in page.url, page.url
    return ctx, page, refused


def test_police_find_play_ask_admin_approves_download_and_verify(browser: Any, site: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    url = site["url"]
    ctx, page, refused = person(browser, site, site["police"])
    try:
        page.goto(f"{url}/polisi/")
        page.wait_for_selector('#police-map[data-loaded="2"]')  # both cameras, the private one too
        page.fill("#q", "Pasar")
        page.wait_for_function("() => !document.querySelector('#camera-results').textContent.includes('Gudang')")
        page.click("#camera-results a:has-text('Pasar Sentral')")
        page.wait_for_selector("svg.timeline-bar rect.tl-rec")
        assert "WITA" in page.inner_text("#timeline")
        page.click(".stretches a:has-text('Putar')")
        page.wait_for_selector('[data-archive-player][data-state="playing"]', timeout=20_000)
        page.wait_for_function("() => document.querySelector('[data-archive-player] video').currentTime > 1")
        page.click("a:has-text('Minta rekaman ini')")
        assert page.is_checked(f'input[name="cameras"][value="{site["camera"]}"]')
        assert page.input_value("#start") and page.input_value("#end")
        page.fill("#case_number", "LP/B/77/XI/2026/Polresta Kendari")
        page.fill("#legal_basis", "KUHAP pasal 7")
        page.fill("#reason", "Pencurian sepeda motor di Pasar Sentral, rekaman untuk penyidikan.")
        page.click("button:has-text('Kirim permintaan')")
        page.wait_for_selector("#request-status[data-status='pending']")
        request_url = page.url
        with site["app"].app_context():
            request_id = db.session.scalars(select(FootageRequest.id)).one()
        # another person decides
        actx, admin, admin_refused = person(browser, site, site["admin"])
        try:
            admin.goto(f"{url}/admin/rekaman/")
            admin.click(f"a[href='/admin/rekaman/{request_id}']")
            admin.fill("#note", "Sesuai surat perintah penyidikan.")
            admin.click("button[value='approve']")
            admin.wait_for_selector("#request-status[data-status='approved']")
            assert not admin_refused
        finally:
            actx.close()
        site["worker"].thread.start()
        page.goto(request_url)
        page.wait_for_selector("#request-status[data-status='ready']", timeout=45_000)  # htmx polling
        assert "siap diunduh" in page.inner_text("#request-status")
        with page.expect_download() as download_info:
            page.click(".export a:has-text('Unduh')")
        video = tmp_path / "bukti.mp4"
        download_info.value.save_as(video)
        with page.expect_download() as manifest_info:
            page.click("a:has-text('Unduh manifes')")
        manifest = tmp_path / "manifest.json"
        manifest_info.value.save_as(manifest)
        with site["app"].app_context():
            export = db.session.scalars(select(FootageExport)).one()
            assert sha256_file(video) == export.sha256
        assert not refused, refused[:3]
    finally:
        ctx.close()
    # anyone checks the file: hashed in the browser, only the hash is sent
    vctx, verify, verify_refused = person(browser, site, None, viewport={"width": 390, "height": 844},
                                          is_mobile=True, has_touch=True)
    try:
        verify.goto(f"{url}/verifikasi")
        verify.set_input_files("#manifest", str(manifest))
        verify.set_input_files("#file", str(video))
        verify.wait_for_selector("#verify-form[data-hashed='1']")
        verify.click("button:has-text('Verifikasi')")
        verify.wait_for_selector("[data-verdict='ok']")
        assert verify.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert not verify_refused, verify_refused[:3]
    finally:
        vctx.close()
