"""The camera state machine, replayed with a fake clock, fake processes and a fake playlist: no sleeping."""

from __future__ import annotations

import pytest

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
        factory.last.stderr = ["[tcp @ 0x1] [error] Connection to tcp://127.0.0.5:554 failed: Connection refused"]
        factory.last.code = 1
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


def test_wrong_password_waits_minutes_growing_so_the_camera_sees_a_handful_of_logins_an_hour() -> None:
    camera, factory, _, _ = make_camera(T)
    now = 0.0
    for _ in range(3600 * 2):  # two hours of a camera whose password changed, probed as often as the worker does
        camera.probe_result(True)  # the probe never logs in: it only sees the camera is there
        camera.transition(now)
        if camera.state is State.STARTING and factory.last.code is None:
            factory.last.stderr = ["[rtsp @ 0x1] [error] method DESCRIBE failed: 401 Unauthorized"]
            factory.last.code = 1
            camera.transition(now)
            assert camera.state is State.BACKOFF and camera.status == "auth_failed" and camera.reason == "auth"
        if now == 3600:
            assert len(factory.started) <= 5, "at most a handful of failed logins in the first hour"
        now += 1
    assert len(factory.started) <= 8
    camera.update(CameraSpec(id=7, key="00000abc", source_url="rtsp://admin:new@127.0.0.5/stream1"), now)
    camera.transition(now + 0.5)
    assert camera.state is State.STARTING, "new credentials are tried at once"


def test_a_long_outage_costs_probes_not_restarts_and_the_camera_returns_at_once() -> None:
    camera, factory, progress, _ = make_camera(T)
    now = run_until_running(camera, progress)
    factory.last.stderr = ["[tcp @ 0x1] [error] Connection to tcp://127.0.0.5:554 failed: Connection refused"]
    factory.last.code = 1
    camera.transition(now)
    assert camera.status == "offline" and camera.reason == "unreachable"
    for step in range(1, 2 * 90):  # 90 s away, probed every half second
        camera.probe_result(False)
        camera.transition(now + step / 2)
    assert len(factory.started) == 1, "no restart while the probe says the camera is away"
    camera.probe_result(True)
    camera.transition(now + 90.2)
    assert camera.state is State.STARTING and len(factory.started) == 2


def test_stall_deadline_follows_the_cameras_keyframe_interval() -> None:
    slow, factory, progress, _ = make_camera(T)
    slow.transition(0)
    now = 11.0  # a 10 s-GOP camera: the first segment after about 11 s, then one every 10 s
    for _ in range(6 * 60 * 3):  # three hours
        progress.advance()
        slow.transition(now)
        slow.transition(now + 9.9)
        now += 10
    assert slow.state is State.RUNNING and len(factory.started) == 1, "a 10 s GOP is not a stall"
    assert 29 <= slow.stall_deadline <= 31
    fast, factory, progress, _ = make_camera(Timing())  # the least deadline: 4 s
    fast.transition(0)
    for t in range(2, 12):  # 1 s GOP
        progress.advance()
        fast.transition(float(t))
    assert fast.stall_deadline == 4.0
    fast.transition(11 + 3.0)
    assert fast.state is State.RUNNING
    fast.transition(11 + 4.4)  # frozen: no new segment since 11 s (the fake ffmpeg says nothing of its input)
    assert fast.state is State.STOPPING and fast.reason == "stalled"


def test_an_ffmpeg_still_reading_its_input_is_slow_not_stalled() -> None:
    camera, factory, progress, _ = make_camera(Timing())
    camera.transition(0)
    for t in range(2, 12):  # 1 s GOP, then a CPU spike: no segment, but ffmpeg keeps reading the camera
        progress.advance()
        camera.transition(float(t))
    factory.last.read = 1000
    now = 11.0
    while now < 11 + 10.0:  # 10 s without a segment while the input grows: slow, not stalled
        now += 0.5
        factory.last.read += 5000
        camera.transition(now)
        assert camera.state is State.RUNNING, f"killed a reading ffmpeg after {now - 11:.1f} s"
    while camera.state is State.RUNNING:  # the grace ends at three times the deadline
        now += 0.5
        factory.last.read += 5000
        camera.transition(now)
    assert camera.reason == "stalled" and 11 + 12.0 < now <= 11 + 12.6
    frozen, factory, progress, _ = make_camera(Timing())
    frozen.transition(0)
    for t in range(2, 12):
        progress.advance()
        frozen.transition(float(t))
    factory.last.read = 7000  # frozen: nothing more read
    now = 11.0
    while frozen.state is State.RUNNING:
        now += 0.5
        frozen.transition(now)
    assert frozen.reason == "stalled" and now <= 11 + 4.6, "a frozen camera is still caught at the deadline"


def test_a_codec_the_portal_cannot_serve_is_unsupported_and_waits_for_a_person() -> None:
    camera, factory, progress, _ = make_camera(T)
    camera.transition(0)
    factory.last.stderr = ["[info]   Stream #0:0: Video: mjpeg (Baseline), yuvj420p(pc), 1280x720, 25 fps, 90k tbn"]
    progress.advance()
    camera.transition(1)
    camera.transition(1.1)
    assert camera.state is State.BACKOFF and camera.status == "unsupported" and "mjpeg" in (camera.error or "")
    assert camera.retry_at - 1.1 >= 90


@pytest.mark.parametrize(("lines", "code", "reason", "status"), [
    (["[rtsp @ 0x1] [error] method DESCRIBE failed: 401 Unauthorized"], 1, "auth", "auth_failed"),
    (["[tcp @ 0x1] [error] Connection to tcp://127.0.0.1:9 failed: Connection refused"], 1, "unreachable", "offline"),
    (["[tcp @ 0x1] [error] Connection to tcp://127.0.0.1:9 failed: Connection timed out"], 1, "timeout", "offline"),
    (["[in#0 @ 0x1] [error] Error opening input: Invalid data found when processing input"], 1, "no_media",
     "offline"),
    (["[info]   Stream #0:0: Video: h264 (High), yuv420p, 1280x720, 25 fps", "[error] Conversion failed!"], 1,
     "ffmpeg", "error"),
    (["[info]   Stream #0:0: Video: h264 (High), yuv420p, 1280x720, 25 fps"], 0, "ended", "offline"),
    (["[error] Protocol 'file' not on whitelist 'rtsp,rtp,udp,tcp'!"], 1, "source_refused", "error"),
])
def test_why_a_run_ended_is_a_reason_an_operator_can_act_on(lines: list[str], code: int, reason: str,
                                                            status: str) -> None:
    camera, factory, _, _ = make_camera(T)
    camera.transition(0)
    factory.last.stderr = lines
    factory.last.code = code
    camera.transition(1)
    assert (camera.reason, camera.status) == (reason, status)


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


def test_a_b_frame_stream_mpegts_refuses_is_started_again_at_once_as_fmp4() -> None:
    camera, factory, progress, exits = make_camera(T)
    camera.transition(0)
    factory.last.stderr = ["[info]   Stream #0:0: Video: h264 (High), yuv420p, 1920x1080, 25 fps",
                           "[mpegts @ 0x1] [error] first pts and dts value must be set",
                           "[error] av_interleaved_write_frame(): Invalid data found when processing input"]
    factory.last.code = 1
    camera.transition(1.2)
    assert camera.state is State.STARTING and factory.last.argv[-1] == "fmp4" and len(factory.started) == 2
    assert camera.failures == 0 and camera.status == "starting", "learning the layout is not a failure"
    assert exits == [camera] and camera.run_segments == 0  # the worker discards what the failed run recorded
    progress.advance()
    camera.transition(2.5)
    assert camera.state is State.RUNNING


def test_refused_source_fails_without_starting_ffmpeg() -> None:
    def refuse(spec, hints):  # type: ignore[no-untyped-def]
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
    camera.transition(camera.retry_at)  # the scheduled retry waits while the probe says it is away
    assert camera.state is State.BACKOFF and len(factory.started) == 1
    camera.probe_result(True)  # back (after being seen down): at once
    camera.transition(camera.retry_at + 0.1)
    assert camera.state is State.STARTING
    factory.last.code = 1  # but it fails again at once
    camera.transition(camera.since + 0.1)
    assert camera.state is State.BACKOFF and camera.retry_at - camera.since > 6
    camera.probe_result(True)  # still "seen down" in this outage: no need to see it down again
    camera.transition(camera.since + 0.5)
    assert camera.state is State.STARTING and len(factory.started) == 3
    progress.advance()
    camera.transition(camera.since + 1)
    assert camera.state is State.RUNNING and not camera.probe_saw_down


def test_a_restart_of_a_known_camera_that_gets_no_media_is_retried_soon() -> None:
    camera, factory, progress, _ = make_camera(Timing())
    camera.transition(0)
    assert camera.start_deadline == 20.0, "a camera never seen running gets the whole start timeout"
    for t in range(2, 12):  # 1 s GOP
        progress.advance()
        camera.transition(float(t))
    factory.last.code = 1  # the camera goes away; ffmpeg exits
    now = 12.0
    while camera.state is not State.STARTING or len(factory.started) < 2:
        now += 0.5
        camera.probe_result(True)
        camera.transition(now)
        assert now < 120
    restarted = now
    assert camera.start_deadline == 9.0
    while camera.state is State.STARTING:  # connected, but no segment ever comes
        now += 0.5
        camera.transition(now)
    assert 9.0 < now - restarted <= 9.6 and camera.state is State.STOPPING
