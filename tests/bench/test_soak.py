"""The soak harness's own logic, without a stack: the fault plan, the actions it turns into, and the figures."""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.soak import Runner, load, measure, schedule
from bench.soak.measure import Sample
from tests.support.tools import wait_for


def test_plan_for_twenty_cameras_has_every_fault_and_leaves_the_end_for_recovery() -> None:
    plan = schedule.plan(600, 20, seed=13)
    kinds = {f.kind for f in plan.faults}
    assert kinds == {schedule.CAMERA_DROP, schedule.CAMERA_FREEZE, schedule.FFMPEG_KILL, schedule.WORKER_KILL,
                     schedule.PORTAL_RESTART, schedule.POSTGRES_RESTART, schedule.VIEWER_BURST}
    assert [f.at for f in plan.faults] == sorted(f.at for f in plan.faults)
    assert all(0 < f.at and f.end <= 0.9 * 600 for f in plan.faults)
    drops, freezes = plan.of_kind(schedule.CAMERA_DROP), plan.of_kind(schedule.CAMERA_FREEZE)
    assert (len(drops), len(freezes)) == (6, 4)
    targets = [f.target for f in drops + freezes]
    assert len(set(targets)) == len(targets), "a camera is dropped or frozen at most once"
    assert plan.frozen_cameras() == {f.target for f in freezes}
    assert all(5 <= f.duration_s <= 60 for f in drops + freezes)
    assert len(plan.of_kind(schedule.FFMPEG_KILL)) == 4
    outages = plan.source_outages()
    for kill in plan.of_kind(schedule.FFMPEG_KILL):  # an ffmpeg is killed on a camera that is up, so it runs
        assert not any(a - 5 <= kill.at <= b + 15 for a, b in outages.get(int(kill.target or 0), []))
    [worker] = plan.of_kind(schedule.WORKER_KILL)
    assert worker.target == "w1" and worker.duration_s == 20
    infra = [plan.of_kind(k)[0].at for k in (schedule.PORTAL_RESTART, schedule.WORKER_KILL,
                                             schedule.POSTGRES_RESTART, schedule.VIEWER_BURST)]
    assert infra == sorted(infra) and min(b - a for a, b in zip(infra, infra[1:], strict=False)) >= 60


def test_plan_is_repeatable_scales_down_and_adds_jobs_and_reports_when_asked() -> None:
    assert schedule.plan(600, 20, seed=5) == schedule.plan(600, 20, seed=5)
    assert schedule.plan(600, 20, seed=5) != schedule.plan(600, 20, seed=6)
    small = schedule.plan(90, 4, jobs=True, reports=True, viewers=10)
    assert len(small.of_kind(schedule.CAMERA_DROP)) == len(small.of_kind(schedule.CAMERA_FREEZE)) == 1
    assert all(f.end <= 81 and f.duration_s <= 9 for f in small.faults)
    assert small.of_kind(schedule.JOBS_RESTART) and small.of_kind(schedule.REPORT_BURST)
    assert small.of_kind(schedule.VIEWER_BURST)[0].count == 10
    with pytest.raises(ValueError):
        schedule.plan(20, 4)
    with pytest.raises(ValueError):
        schedule.plan(600, 1)


@dataclass
class FakeStack:
    calls: list[str] = field(default_factory=list)
    media_root: Path = Path("/nonexistent-soak-media")
    worker_procs: dict[str, object] = field(default_factory=dict)

    def drop(self, cam: int) -> None:
        self.calls.append(f"drop {cam}")

    def undrop(self, cam: int) -> None:
        self.calls.append(f"undrop {cam}")

    def freeze(self, cam: int) -> None:
        self.calls.append(f"freeze {cam}")

    def thaw(self, cam: int) -> None:
        self.calls.append(f"thaw {cam}")

    def kill_ffmpeg(self, cam: int) -> int:
        self.calls.append(f"kill {cam}")
        return 1


def test_runner_turns_faults_into_timed_actions_and_records_the_outages_as_applied() -> None:
    plan = schedule.Plan(60, 3, (schedule.Fault(5, schedule.CAMERA_DROP, 2, 10),
                                 schedule.Fault(8, schedule.CAMERA_FREEZE, 3, 2),
                                 schedule.Fault(9, schedule.FFMPEG_KILL, 1),
                                 schedule.Fault(12, schedule.REPORT_BURST, count=5)))
    stack = FakeStack()
    runner = Runner(stack, plan)  # type: ignore[arg-type]
    events = runner.events()
    assert [(at, label) for at, label, _ in events] == [(5, "drop 2"), (8, "freeze 3"), (9, "kill ffmpeg 1"),
                                                        (10, "thaw 3"), (12, "report_burst"), (15, "undrop 2")]
    for _, _, action in events:
        action()
    assert stack.calls == ["drop 2", "freeze 3", "kill 1", "thaw 3", "undrop 2"]
    assert set(runner.outages) == {2, 3} and all(a <= b for a, b in runner.outages[2] + runner.outages[3])
    assert runner.log[-2]["skipped"] == "not available in this portal"


def samples(statuses: list[int | None], newest: list[str | None], t0: float = 1000.0) -> list[Sample]:
    return [Sample(t0 + i, s, n) for i, (s, n) in enumerate(zip(statuses, newest, strict=True))]


def test_availability_counts_advancing_playlists_only_while_the_source_is_up() -> None:
    steady = samples([200] * 10, [f"s{i}.ts" for i in range(10)])
    assert measure.camera_availability(steady, [], 1000, 1010, 4)["availability"] == 1.0
    # the playlist stops advancing at t=1003: live until 4 s later, then not
    stuck = samples([200] * 10, ["s0", "s1", "s2", "s3", "s3", "s3", "s3", "s3", "s3", "s3"])
    result = measure.camera_availability(stuck, [], 1000, 1010, 4)
    assert result["samples_available"] == 8 and result["unavailable"] == [(1008.0, 1009.0, 2.0)]
    assert result["why"] == [{"stale": 2}]
    # the source was down 1003-1008: those samples don't count; the answer 500 and the timeout do
    failing = samples([200, 200, 500, 200, 200, 200, 200, 200, None, 200], [f"s{i}" for i in range(10)])
    out = measure.camera_availability(failing, [(1003.0, 1008.0)], 1000, 1010, 4)
    assert out["samples_source_up"] == 5 and out["samples_available"] == 3 and out["availability"] == 0.6
    assert out["why"] == [{"500": 1}, {"no_answer": 1}]
    assert measure.camera_availability([], [], 0, 10, 4)["availability"] is None


def test_newest_segment_reads_the_last_uri_of_a_playlist() -> None:
    text = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:1.0,\nindex41.ts\n#EXTINF:1.0,\nindex42.ts\n"
    assert measure.newest_segment(text) == "index42.ts"
    assert measure.newest_segment("#EXTM3U\n") is None


def test_recording_gaps_beyond_the_outage_plus_the_allowance() -> None:
    segments = [(0.0, 60.0), (60.5, 120.0), (150.0, 200.0), (199.0, 260.0), (262.0, 300.0)]
    # 120-150 is a 30 s hole; a 27 s source outage inside it leaves 3 s: within the allowance
    assert measure.recording_gaps(segments, [(121.0, 148.0)], 0, 300, 5.0) == []
    [gap] = measure.recording_gaps(segments, [(121.0, 131.0)], 0, 300, 5.0)
    assert gap == {"start": 120.0, "end": 150.0, "seconds": 30.0, "outage_s": 10.0, "excess_s": 20.0}
    # footage must cover the window's ends too
    [tail] = measure.recording_gaps([(0.0, 100.0)], [], 0, 120, 5.0)
    assert (tail["start"], tail["end"]) == (100.0, 120.0)
    assert measure.recording_gaps([], [], 0, 3, 5.0) == []


LOG = """\
127.0.0.1 - - [01/Dec/2026:03:00:00 +0000] "GET /media/hls/abc/index.m3u8 HTTP/1.1" 200 300 "-" "python"
127.0.0.1 - - [01/Dec/2026:03:00:01 +0000] "GET /media/hls/abc/index.m3u8 HTTP/1.1" 500 170 "-" "python"
127.0.0.1 - - [01/Dec/2026:03:00:02 +0000] "POST /api/worker/v1/sync HTTP/1.1" 502 150 "-" "pantau"
127.0.0.1 - - [01/Dec/2026:03:00:30 +0000] "GET /kamera HTTP/1.1" 503 10 "-" "python"
127.0.0.1 - - [01/Dec/2026:04:00:00 +0000] "GET / HTTP/1.1" 500 10 "-" "python"
garbage line
"""


def test_server_errors_from_nginx_access_log_by_class_and_fault_window() -> None:
    entries = measure.access_entries(LOG)
    assert len(entries) == 5
    start = entries[0][0]
    out = measure.server_errors(entries, start, start + 60, {"portal_restart": [(start, start + 5)]})
    assert out["requests"] == 4 and out["total"] == 3
    assert out["by_class"] == {"media": 1, "worker_api": 1, "portal": 1}
    assert out["by_status"] == {"500": 1, "502": 1, "503": 1}
    assert out["by_fault_window"] == {"portal_restart": 2, "outside_faults": 1}


def test_holds_and_reports_outcomes() -> None:
    assert measure.held_deleted({"a.mp4", "b.mp4"}, {"a.mp4", "c.mp4"}) == ["b.mp4"]
    outcome = measure.report_outcome(["r1", "r2", "r3"], ["r1", "r1", "r2", "zz"])
    assert outcome == {"sent": 3, "delivered": 2, "lost": 1, "delivered_twice": 1, "unknown_delivered": 1}
    assert measure.summary([0.99, 1.0, 0.98]) == {"min": 0.98, "p50": 0.99, "mean": 0.99}


def test_recovery_is_the_first_new_segment_after_the_source_returns() -> None:
    newest = ["s0", "s1", "s2", "s2", "s2", "s2", "s2", "s2", "s3", "s4"]
    statuses: list[int | None] = [200, 200, 200, 200, None, 500, 200, 200, 200, 200]
    # the source was down 1002.5-1005.5: back at 1005.5, the first new segment is seen at 1008
    assert measure.recoveries(samples(statuses, newest), [(1002.5, 1005.5)]) == [2.5]
    assert measure.recoveries(samples([200] * 3, ["s0"] * 3), [(1000.0, 1001.0)]) == [None]


def test_the_stale_auth_experiment_still_finds_its_place_in_the_nginx_template() -> None:
    from bench.soak.stack import STALE_AFTER, TEMPLATE

    text = TEMPLATE.read_text()
    auth = text.index("location = /_pantau_auth")
    assert text.index(STALE_AFTER) > auth and text.index(STALE_AFTER) < text.index("location = /_pantau_archive_auth")


def test_a_slow_status_feed_never_delays_the_playlist_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """The follower asks status.json beside the playback: while the portal hangs (a database restart), the last
    known address is answered at once; a refused playlist nudges it to ask at once rather than at the next poll."""
    monkeypatch.setattr(load, "FOLLOW_EVERY_S", 120.0)  # no second lookup but the nudged one
    release = threading.Event()
    asked = threading.Event()
    answers = iter(["http://127.0.0.1:9/a/index.m3u8", "http://127.0.0.1:9/b/index.m3u8"])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if asked.is_set():
                release.wait(30)  # the second question hangs until the test lets it go
            asked.set()
            body = json.dumps({"hls_url": next(answers, "http://127.0.0.1:9/b/index.m3u8")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    follower = load.Follower(f"http://127.0.0.1:{server.server_port}/kamera/1/status.json").start()
    try:
        assert follower.url(wait_s=10) == "http://127.0.0.1:9/a/index.m3u8"
        wait_for(lambda: follower.lookups["200"] == 1, timeout=10, message="no first lookup")
        follower.nudge()  # the second lookup hangs in the portal
        began = time.monotonic()
        for _ in range(50):  # meanwhile the address is answered at once
            assert follower.url() == "http://127.0.0.1:9/a/index.m3u8"
        assert time.monotonic() - began < 0.5
        release.set()
        wait_for(lambda: follower.url() == "http://127.0.0.1:9/b/index.m3u8", timeout=15, message="not followed")
    finally:
        release.set()
        follower.stop()
        server.shutdown()
        server.server_close()
