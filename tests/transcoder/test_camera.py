"""The camera state machine, replayed with a fake clock, fake processes and a fake playlist: no sleeping."""

from __future__ import annotations

from tests.transcoder.fakes import SPEC, make_camera
from transcoder.camera import State, Timing
from transcoder.ffmpeg import CameraSpec, SourceRefused

T = Timing(stall_s=6, start_timeout_s=20, stop_timeout_s=5, backoff_base_s=1, backoff_max_s=60,
           restart_budget_per_hour=5)


def run_until_running(camera, progress, now: float = 0.0) -> float:  # type: ignore[no-untyped-def]
    camera.transition(now)
    assert camera.state is State.STARTING and camera.status == "starting"
    progress.advance()
    camera.transition(now + 2)
    assert camera.state is State.RUNNING and camera.status == "online"
    return now + 2


def test_starts_and_runs_when_segments_appear() -> None:
    camera, factory, progress, _ = make_camera(T)
    assert camera.state is State.STOPPED
    run_until_running(camera, progress)
    assert len(factory.started) == 1
    assert camera.error is None
    assert camera.restarts_last_hour(2) == 0


def test_stall_is_detected_from_segment_age_and_restarted_with_backoff() -> None:
    camera, factory, progress, exits = make_camera(T)
    now = run_until_running(camera, progress)
    for step in range(1, 4):  # segments keep coming: no stall
        progress.advance()
        camera.transition(now + step * 2)
    now += 6
    camera.transition(now + 5.9)
    assert camera.state is State.RUNNING
    camera.transition(now + 6.1)  # newest segment older than stall_s
    assert camera.state is State.STOPPING and factory.last.signals == ["TERM"]
    camera.transition(now + 6.1)  # the next turn of the loop finds it gone
    assert camera.state is State.BACKOFF
    assert camera.failure is not None and camera.failure.startswith("stalled")
    assert camera.status == "offline"
    assert exits == [camera]
    assert camera.retry_at - (now + 6.1) <= 1.2  # first backoff about 1 s (with jitter)
    camera.transition(camera.retry_at + 0.01)
    assert camera.state is State.STARTING and len(factory.started) == 2
    assert camera.status == "offline", "a restarting camera that failed is not 'starting' to the public"
    assert camera.restarts_last_hour(camera.retry_at) == 1


def test_a_stalled_ffmpeg_that_ignores_sigterm_is_killed_after_two_seconds() -> None:
    camera, factory, progress, _ = make_camera(T)
    factory.exits_on_term = False
    now = run_until_running(camera, progress)
    camera.transition(now + 6.5)
    assert camera.state is State.STOPPING and factory.last.signals == ["TERM"]
    camera.transition(now + 6.7)
    assert factory.last.signals == ["TERM"]
    camera.transition(now + 6.9)  # a second SIGTERM on a later turn: ffmpeg stuck in a read acts on it
    assert factory.last.signals == ["TERM", "TERM"]
    camera.transition(now + 8.4)
    assert factory.last.signals == ["TERM", "TERM"]
    camera.transition(now + 8.6)
    assert factory.last.signals == ["TERM", "TERM", "KILL"]
    camera.transition(now + 8.7)
    assert camera.state is State.BACKOFF


def test_sigkill_after_the_stop_deadline_without_blocking() -> None:
    camera, factory, progress, _ = make_camera(T)
    factory.exits_on_term = False  # an ffmpeg that ignores SIGTERM
    now = run_until_running(camera, progress)
    camera.stop()
    camera.transition(now + 1)
    assert camera.state is State.STOPPING and factory.last.signals == ["TERM"]
    camera.transition(now + 5.9)
    assert factory.last.signals == ["TERM"]
    camera.transition(now + 6.1)
    assert factory.last.signals == ["TERM", "KILL"]
    camera.transition(now + 6.2)
    assert camera.state is State.STOPPED and camera.proc is None


def test_exponential_backoff_with_jitter_and_a_cap() -> None:
    timing = Timing(backoff_base_s=1, backoff_max_s=8, restart_budget_per_hour=100)
    camera, factory, _, _ = make_camera(timing)
    now = 0.0
    delays = []
    for _ in range(7):
        camera.transition(now)
        assert camera.state is State.STARTING
        factory.last.code = 1  # connection refused
        camera.transition(now + 0.1)
        assert camera.state is State.BACKOFF
        delays.append(camera.retry_at - (now + 0.1))
        now = camera.retry_at
    for expected, got in zip([1, 2, 4, 8, 8, 8, 8], delays, strict=True):
        assert 0.8 * expected <= got <= 1.2 * expected
    assert len(set(delays)) == len(delays), "jitter makes each delay different"


def test_restart_budget_per_hour_then_failed_until_the_hour_frees_a_slot() -> None:
    camera, factory, _, _ = make_camera(T)
    now = 0.0
    while camera.state is not State.FAILED:
        camera.transition(now)
        if camera.state is State.STARTING:
            factory.last.code = 1
        now += 0.5
        assert now < 3600
    assert len(factory.started) == 1 + T.restart_budget_per_hour
    assert camera.status == "error" and "restarts in an hour" in (camera.error or "")
    started = len(factory.started)
    camera.transition(now + 60)
    assert camera.state is State.FAILED and len(factory.started) == started
    camera.transition(3600 + 60)  # the first restart has left the window
    assert camera.state is State.STARTING and len(factory.started) == started + 1


def test_process_that_exits_is_offline_with_the_reason_and_credentials_removed() -> None:
    camera, factory, progress, _ = make_camera(T)
    now = run_until_running(camera, progress)
    factory.last.stderr = ["[tcp @ 0x1] [error] Connection to tcp://admin:s3cret@127.0.0.1:9 failed: refused"]
    factory.last.code = 1
    camera.transition(now + 1)
    assert camera.state is State.BACKOFF and camera.status == "offline"
    assert "s3cret" not in (camera.error or "") and "s3cret" not in " ".join(camera.log.tail())
    assert "refused" in (camera.error or "")


def test_authentication_failure_is_an_error_not_offline() -> None:
    camera, factory, _, _ = make_camera(T)
    camera.transition(0)
    factory.last.stderr = ["[rtsp @ 0x1] [error] method DESCRIBE failed: 401 Unauthorized"]
    factory.last.code = 1
    camera.transition(1)
    assert camera.state is State.BACKOFF and camera.status == "error"


def test_no_segment_in_time_after_start_is_a_failure() -> None:
    camera, factory, _, _ = make_camera(T)
    camera.transition(0)
    camera.transition(19)
    assert camera.state is State.STARTING
    camera.transition(21)
    assert camera.state is State.STOPPING and factory.last.signals == ["TERM"]
    camera.transition(21.5)
    assert camera.state is State.BACKOFF
    assert "no segment" in (camera.error or "")


def test_probe_seeing_the_camera_return_cuts_the_backoff_short() -> None:
    timing = Timing(backoff_base_s=30, backoff_max_s=60)
    camera, factory, progress, _ = make_camera(timing)
    now = run_until_running(camera, progress)
    factory.last.code = 0
    camera.transition(now + 1)
    assert camera.state is State.BACKOFF and camera.retry_at > now + 20
    camera.probe_result(True)  # up without having been seen down: no shortcut
    camera.transition(now + 2)
    assert camera.state is State.BACKOFF
    camera.probe_result(False)
    camera.transition(now + 3)
    assert camera.state is State.BACKOFF
    camera.probe_result(True)
    camera.transition(now + 4)
    assert camera.state is State.STARTING and len(factory.started) == 2


def test_unassigned_camera_is_stopped_and_stays_stopped() -> None:
    camera, factory, progress, exits = make_camera(T)
    now = run_until_running(camera, progress)
    camera.stop()
    camera.transition(now + 1)
    assert camera.state is State.STOPPING
    camera.transition(now + 1.1)
    assert camera.state is State.STOPPED and exits == [camera]
    camera.transition(now + 100)
    assert camera.state is State.STOPPED and len(factory.started) == 1


def test_backoff_camera_that_is_unassigned_stops_without_starting() -> None:
    camera, factory, _, _ = make_camera(T)
    camera.transition(0)
    factory.last.code = 1
    camera.transition(1)
    camera.stop()
    camera.transition(100)
    assert camera.state is State.STOPPED and len(factory.started) == 1


def test_changed_assignment_restarts_with_the_new_source() -> None:
    camera, factory, progress, _ = make_camera(T)
    now = run_until_running(camera, progress)
    camera.update(SPEC, now)  # same spec: nothing happens
    camera.transition(now + 0.5)
    assert camera.state is State.RUNNING and len(factory.started) == 1
    new = CameraSpec(id=7, key="00000abc", source_url="rtsp://127.0.0.1:10/stream1")
    camera.update(new, now + 1)
    assert camera.state is State.STOPPING
    camera.transition(now + 1.1)
    assert camera.state is State.STARTING and factory.last.argv[2] == "rtsp://127.0.0.1:10/stream1"


def test_hevc_camera_is_restarted_once_with_the_hevc_layout() -> None:
    camera, factory, progress, _ = make_camera(T)
    camera.transition(0)
    factory.last.stderr = ["[info]   Stream #0:0: Video: hevc (Main), yuv420p(tv), 1920x1080, 25 fps, 25 tbr, 90k tbn"]
    progress.advance()
    camera.transition(1)
    assert camera.log.info.codec == "hevc" and camera.log.info.width == 1920
    camera.transition(1.1)
    assert factory.last.argv[-1] == "hevc" and len(factory.started) == 2
    factory.last.stderr = ["[info]   Stream #0:0: Video: hevc (Main), yuv420p(tv), 1920x1080, 25 fps, 25 tbr, 90k tbn"]
    progress.advance()
    camera.transition(2)
    progress.advance()
    camera.transition(3)
    assert camera.state is State.RUNNING and len(factory.started) == 2


def test_refused_source_fails_without_starting_ffmpeg() -> None:
    def refuse(spec, hint):  # type: ignore[no-untyped-def]
        raise SourceRefused("protocol 'gopher' is not allowed (rtsp, rtsps, http, https)")

    camera, factory, _, _ = make_camera(T, argv=refuse)
    camera.transition(0)
    assert camera.state is State.FAILED and camera.status == "error" and factory.started == []
    camera.transition(10_000)
    assert camera.state is State.FAILED and factory.started == []


def test_a_process_that_cannot_start_is_an_error_with_backoff() -> None:
    camera, _, _, _ = make_camera(T)

    def broken(argv, env):  # type: ignore[no-untyped-def]
        raise FileNotFoundError(2, "No such file or directory")

    camera._factory = broken
    camera.transition(0)
    assert camera.state is State.BACKOFF and camera.status == "error"
    assert "could not start ffmpeg" in (camera.error or "")


def test_a_camera_seen_down_is_retried_as_soon_as_it_answers_even_after_a_failed_retry() -> None:
    timing = Timing(backoff_base_s=4, backoff_max_s=60)
    camera, factory, progress, _ = make_camera(timing)
    now = run_until_running(camera, progress)
    factory.last.code = 0
    camera.transition(now + 1)
    camera.probe_result(False)  # the camera is away
    camera.transition(camera.retry_at)  # a scheduled retry: still away, ffmpeg fails at once
    assert camera.state is State.STARTING
    factory.last.code = 1
    camera.transition(camera.retry_at + 0.1)
    assert camera.state is State.BACKOFF and camera.retry_at - camera.since > 6
    camera.probe_result(True)  # back: no need to see it down again in this backoff
    camera.transition(camera.since + 0.5)
    assert camera.state is State.STARTING and len(factory.started) == 3
    progress.advance()
    camera.transition(camera.since + 1)
    assert camera.state is State.RUNNING and not camera.probe_saw_down
