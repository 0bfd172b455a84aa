"""What the public does during the soak: one watcher per camera sampling its live playlist through nginx every
second (the availability figure), and bursts of viewers who open the pages and watch (playlists and segments)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bench.soak.measure import Sample, newest_segment

FOLLOW_EVERY_S = 2.5  # the player's status poll while playing (static/js/player.js POLL_PLAYING_MS)
NUDGE_EVERY_S = 0.5  # at most this often when nudged by a refused playlist


class Follower:
    """Where one camera's live playlist is now, as an open player learns it: beside the playback, its own thread
    asks ``status.json`` (``hls_url``, on the media node that runs the camera) every ``FOLLOW_EVERY_S``, with a
    session of its own; playback reads the last known address at once and keeps it while the portal is away (a
    slow or refused status never delays a playlist request, as in the browser, where the poll runs beside
    hls.js)."""

    def __init__(self, status_url: str) -> None:
        self.status_url = status_url
        self.hls_url: str | None = None
        self.lookups: Counter[str] = Counter()  # status answers by HTTP status ("error": no answer)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._known = threading.Event()
        self._thread = threading.Thread(target=self._run, name="follower", daemon=True)

    def start(self) -> Follower:
        self._thread.start()
        return self

    def _lookup(self, session: requests.Session) -> None:
        try:
            answer = session.get(self.status_url, timeout=10)
            self.lookups[str(answer.status_code)] += 1
            if answer.status_code == 200:
                self.hls_url = str(answer.json()["hls_url"])
                self._known.set()
        except (requests.RequestException, ValueError, KeyError, TypeError):
            self.lookups["error"] += 1

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                began = time.monotonic()
                self._lookup(session)
                # until the first address is known, ask again soon (a player's first status comes with its page)
                pause = FOLLOW_EVERY_S if self._known.is_set() else 0.5
                self._wake.clear()
                if self._wake.wait(max(0.0, pause - (time.monotonic() - began))):  # nudged: ask at once, but
                    self._stop.wait(max(0.0, NUDGE_EVERY_S - (time.monotonic() - began)))  # not too often

    def nudge(self) -> None:
        """The playlist was refused or unreachable: ask where the camera is now (the player does, on a 404 or 410
        for its playlist and when it stalls), without waiting for the next poll."""
        self._wake.set()

    def url(self, wait_s: float = 0.0) -> str | None:
        """The last known playlist address (waiting up to ``wait_s`` for the first one)."""
        if self.hls_url is None and wait_s > 0:
            self._known.wait(wait_s)
        return self.hls_url

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)


class Sampler:
    """Every ``interval_s``, GET each camera's playlist where it runs now (one keep-alive session per camera, 2 s
    timeout), following it from node to node as the player does (:class:`Follower`)."""

    def __init__(self, status_urls: Sequence[str], interval_s: float = 1.0) -> None:
        self.followers = [Follower(u) for u in status_urls]
        self.first_wait_s = 5.0  # the first sample waits this long for the first address
        self.urls = list(status_urls)
        self.interval_s = interval_s
        self.samples: list[list[Sample]] = [[] for _ in self.urls]
        self._sessions = [requests.Session() for _ in self.urls]
        self._pool = ThreadPoolExecutor(max_workers=len(self.urls), thread_name_prefix="sampler")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self.late_ticks = 0  # ticks started more than one interval late (the machine was too busy)

    def start(self) -> Sampler:
        for follower in self.followers:
            follower.start()
        for follower in self.followers:
            follower.url(wait_s=self.first_wait_s)
        self._thread.start()
        return self

    def _one(self, index: int) -> None:
        began = time.time()
        url = self.followers[index].url()
        if url is None:
            self.samples[index].append(Sample(began, None, None))
            return
        try:
            answer = self._sessions[index].get(url, timeout=2)
            newest = newest_segment(answer.text) if answer.status_code == 200 else None
            sample = Sample(began, answer.status_code, newest)
        except requests.RequestException:
            sample = Sample(began, None, None)
        if sample.status != 200:
            self.followers[index].nudge()
        self.samples[index].append(sample)

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            futures = [self._pool.submit(self._one, i) for i in range(len(self.urls))]
            for future in futures:
                future.result()
            next_tick += self.interval_s
            delay = next_tick - time.monotonic()
            if delay < -self.interval_s:
                self.late_ticks += 1
                next_tick = time.monotonic()
            elif delay > 0:
                self._stop.wait(delay)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)
        for follower in self.followers:
            follower.stop()
        for session in self._sessions:
            session.close()


class ViewerBurst:
    """``count`` public viewers for ``duration_s``: each opens the home page, the list, a camera's page and the
    GeoJSON, then watches that camera where it runs now (its playlist and newest segment every second, its status
    every few seconds, as the player does)."""

    def __init__(self, base_url: str, cameras: Sequence[int], count: int, duration_s: float) -> None:
        self.base_url = base_url
        self.cameras = list(cameras)  # camera ids
        self.count = count
        self.duration_s = duration_s
        self.statuses: Counter[str] = Counter()
        self.errors = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _note(self, status: int | None, count: int = 1) -> None:
        with self._lock:
            if status is None:
                self.errors += count
            else:
                self.statuses[str(status)] += count

    def _get(self, session: requests.Session, path: str, absolute: bool = False) -> requests.Response | None:
        try:
            answer = session.get(path if absolute else self.base_url + path, timeout=10)
        except requests.RequestException:
            self._note(None)
            return None
        self._note(answer.status_code)
        return answer

    def _viewer(self, n: int, until: float) -> None:
        cam_id = self.cameras[n % len(self.cameras)]
        follower = Follower(f"{self.base_url}/kamera/{cam_id}/status.json")
        with requests.Session() as session:
            for path in ("/", "/kamera", f"/kamera/{cam_id}", "/api/v1/cameras.geojson"):
                self._get(session, path)
            follower.start()
            follower.url(wait_s=10.0)
            while time.monotonic() < until:
                playlist = follower.url()
                answer = self._get(session, playlist, absolute=True) if playlist else None
                if answer is None or answer.status_code != 200:
                    follower.nudge()
                newest = newest_segment(answer.text) if answer is not None and answer.status_code == 200 else None
                if playlist and newest is not None:
                    self._get(session, playlist.rsplit("/", 1)[0] + "/" + newest, absolute=True)
                time.sleep(1.0)
            follower.stop()
            for status, n in follower.lookups.items():
                self._note(None if status == "error" else int(status), count=n)

    def start(self) -> ViewerBurst:
        until = time.monotonic() + self.duration_s
        for n in range(self.count):
            thread = threading.Thread(target=self._viewer, args=(n, until), name=f"viewer-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def join(self) -> dict[str, object]:
        for thread in self._threads:
            thread.join(timeout=self.duration_s + 30)
        total = sum(self.statuses.values())
        return {"viewers": self.count, "duration_s": self.duration_s, "requests": total, "errors": self.errors,
                "statuses": dict(self.statuses),
                "server_errors": sum(n for s, n in self.statuses.items() if s.startswith("5"))}


def run_later(delay_s: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(delay_s, action)
    timer.daemon = True
    timer.start()
    return timer


class ReportBurst:
    """``count`` public reports sent at once through nginx, as the /lapor form sends them (a CSRF token from
    /lapor/token, the form fields, JSON answers), ``parallel`` at a time; keeps the tracking codes accepted."""

    def __init__(self, base_url: str, count: int, parallel: int = 8, category: str = "fire",
                 place: tuple[float, float] = (-3.9719, 122.5147)) -> None:
        self.base_url = base_url
        self.count = count
        self.parallel = parallel
        self.category = category
        self.place = place
        self.accepted: list[str] = []
        self.statuses: Counter[str] = Counter()
        self.errors = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.started_at = 0.0

    def _send(self, n: int) -> None:
        stamp = int(time.time())
        with requests.Session() as session:
            # each reporter on an address of its own (127.0.1.x), as people are: one address sending many
            # reports is what the portal's repeat flag and per-address limit are for
            session.mount("http://", _FromAddress(f"127.0.1.{n % 250 + 1}"))
            try:
                token = session.get(self.base_url + "/lapor/token", timeout=15)
                cookie = token.cookies.get("pantau_session")  # Secure in production: sent by hand over http
                headers = {"Accept": "application/json"}
                if cookie:
                    headers["Cookie"] = f"pantau_session={cookie}"
                answer = session.post(
                    self.base_url + "/lapor", timeout=30, headers=headers,
                    data={"csrf_token": token.json()["csrf_token"], "category": self.category,
                          "description": f"Kebakaran uji soak nomor {n}, asap tebal dekat pasar",
                          "latitude": str(self.place[0]), "longitude": str(self.place[1]),
                          "address": f"Jl. Uji Soak {n}", "reporter_name": f"Pelapor {n}",
                          "reporter_phone": f"+62812{stamp % 100000:05d}{n:03d}", "website": "",
                          "started": str(stamp - 60), "client_ref": f"soak-{stamp}-{n}"})
            except (requests.RequestException, ValueError, KeyError):
                with self._lock:
                    self.errors += 1
                return
        with self._lock:
            self.statuses[str(answer.status_code)] += 1
            if answer.status_code == 201:
                try:
                    self.accepted.append(str(answer.json()["tracking_code"]))
                except (ValueError, KeyError):
                    self.errors += 1

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="report") as pool:
            list(pool.map(self._send, range(self.count)))

    def start(self) -> ReportBurst:
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name="reports", daemon=True)
        self._thread.start()
        return self

    def join(self) -> dict[str, object]:
        if self._thread is not None:
            self._thread.join(timeout=300)
        return {"reports": self.count, "accepted": len(self.accepted), "statuses": dict(self.statuses),
                "errors": self.errors}


class _FromAddress(HTTPAdapter):
    """Connections from a given loopback source address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)
