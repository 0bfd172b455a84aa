"""Recordings built by the worker from the live fMP4 segments, with real ffmpeg writing the live output: no gap
across playlist rolls (segments taken after they left the playlist), files cut on the clock, each starting at
zero and as long as the list says, an export over them as long as asked, G.711 audio recorded as AAC, and an
earlier run's playlist never taken into a new run's recording."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.clip import make_test_clip
from tests.support.tools import require_tool
from transcoder import recorder as recorder_module
from transcoder.export import ExportJob, Report, run_export
from transcoder.ffmpeg import INIT_SEGMENT, CameraSpec, MediaPaths, OutputSettings, build_argv, ffmpeg_env
from transcoder.recorder import LiveRecorder, parse_playlist
from transcoder.recordings import Segment, collect


def probe(path: Path) -> dict[str, Any]:
    ffprobe = require_tool("ffprobe", reason="checks the recordings")
    entries = "format=duration,start_time:stream=codec_name,codec_type,duration"
    out = subprocess.run([ffprobe, "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
                         capture_output=True, text=True, check=True, timeout=60)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def video_pts(path: Path) -> list[float]:
    ffprobe = require_tool("ffprobe", reason="checks the recordings")
    out = subprocess.run([ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True, timeout=60)
    return sorted(float(line.strip(",")) for line in out.stdout.split() if line.strip(","))


def record_live(media_root: Path, source: Path, *, seconds: float, poll_every: float, list_size: int,
                record_s: int, audio: str = "drop") -> tuple[LiveRecorder, list[Segment], MediaPaths]:
    """Run the worker's ffmpeg argv on a looping file for ``seconds`` while a recorder takes its live segments
    every ``poll_every`` seconds (the worker's loop, slow on purpose), then stop it as the worker does."""
    ffmpeg = require_tool("ffmpeg", reason="writes the live segments")
    spec = CameraSpec(id=7, key="0000beef", source_url=str(source), audio=audio)
    out = OutputSettings(segment_seconds=1, hls_list_size=list_size, record_segment_seconds=record_s,
                         allow_file_sources=True)
    paths = MediaPaths(media_root, spec.key, spec.id)
    paths.make_dirs()
    recorder = LiveRecorder(paths)
    recorder.begin_run(time.time(), record_s)
    proc = subprocess.Popen(build_argv(ffmpeg, spec, out, media_root), env=ffmpeg_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + seconds + 60  # a loaded machine may start ffmpeg slowly
        live_since: float | None = None  # timed from the first live segment, not from ffmpeg's start
        while time.monotonic() < deadline and (live_since is None or time.monotonic() - live_since < seconds):
            try:
                recorder.poll(paths.playlist.stat().st_mtime_ns)
                live_since = live_since or time.monotonic()
            except FileNotFoundError:
                pass
            time.sleep(poll_every)  # the worker's turn, slow on purpose: segments leave the playlist meanwhile
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    recorder.end_run()
    return recorder, collect(paths, final=True), paths


@pytest.fixture(scope="module")
def clip() -> Path:
    require_tool("ffmpeg", reason="makes the test clip")
    return make_test_clip(width=320, height=240, fps=25, bitrate="300k", keyint=25, container="mp4")


def test_no_gap_across_playlist_rolls_files_cut_on_the_clock_and_an_export_as_long_as_asked(
        tmp_path: Path, clip: Path) -> None:
    # a playlist of 3 one-second segments, read every 4 s: most segments have left it before the recorder looks
    recorder, made, paths = record_live(tmp_path, clip, seconds=13, poll_every=4.0, list_size=3, record_s=4)
    assert recorder.lost_segments == 0
    assert len(made) >= 3
    for segment in made:
        info = probe(tmp_path / segment.path)
        assert [s["codec_name"] for s in info["streams"]] == ["h264"]
        assert float(info["format"]["start_time"]) == 0.0, "each recording starts at zero"
        listed = (segment.end - segment.start).total_seconds()
        assert abs(float(info["format"]["duration"]) - listed) <= 0.1
        assert segment.init_bytes is not None and segment.init_bytes > 0
        pts = video_pts(tmp_path / segment.path)
        steps = [b - a for a, b in zip(pts, pts[1:], strict=False)]
        assert steps and max(steps) <= 0.041, "every frame of every live segment is in the file"
        assert abs(len(pts) / 25 - listed) <= 0.05
    for before, after in zip(made, made[1:], strict=False):
        # names are to the second (as ffmpeg's were): a file starts within a second of where the one before ended
        assert -1.0 <= (after.start - before.end).total_seconds() <= 1.0, "the files abut"
        if after is not made[-1] and before is not made[0]:
            # cut on the clock, every record_segment_seconds (a fragment starting less than CUT_EARLY_S before the
            # boundary opens the file: its name, to the second, is then the second before)
            assert after.start.timestamp() % 4 in (0.0, 3.0), "cut on the clock, every record_segment_seconds"
    total = sum((s.end - s.start).total_seconds() for s in made)
    assert total >= 13 - 2, "the run is recorded, from its first live segment on"
    assert not list(paths.incoming_dir.glob("*.mp4"))

    # an export over the files (ffmpeg's concat demuxer) lasts the span asked, within one live segment
    ffmpeg = require_tool("ffmpeg", reason="exports run ffmpeg")
    start = made[0].start + dt.timedelta(seconds=1)
    end = made[-1].end - dt.timedelta(seconds=1)
    job = ExportJob.from_api({"id": 1, "camera_id": 7, "start": start.isoformat(), "end": end.isoformat(),
                              "output": "exports/1/e1.mp4",
                              "sources": [{"path": s.path, "start": s.start.isoformat(), "end": s.end.isoformat()}
                                          for s in made]})
    report = run_export(job, tmp_path, ffmpeg, Report(job.id, job.output))
    assert report.state == "done" and report.missing == []
    asked = (end - start).total_seconds()
    assert abs(float(probe(tmp_path / job.output)["format"]["duration"]) - asked) <= 1.0


def test_g711_audio_is_recorded_as_aac(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "HEAD_READ", 100)  # every moof ends past the first read: read again
    ffmpeg = require_tool("ffmpeg", reason="makes a camera clip with G.711 audio")
    source = tmp_path / "alaw.mkv"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000",
                    "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "0", "-c:a",
                    "pcm_alaw", "-ar", "8000", "-ac", "1", str(source)], check=True, timeout=120)
    recorder, made, _ = record_live(tmp_path / "media", source, seconds=7, poll_every=0.5, list_size=6,
                                    record_s=60, audio="aac")
    assert recorder.lost_segments == 0 and made
    for segment in made:
        info = probe(tmp_path / "media" / segment.path)
        assert sorted(s["codec_name"] for s in info["streams"]) == ["aac", "h264"]
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        # the list gives the video's length; AAC frames (128 ms at 8 kHz) may run a little past it
        assert abs(float(video["duration"]) - (segment.end - segment.start).total_seconds()) <= 0.1
        assert abs(float(info["format"]["duration"]) - (segment.end - segment.start).total_seconds()) <= 0.5
    assert sum((s.end - s.start).total_seconds() for s in made) >= 7 - 2


def test_a_new_run_never_takes_what_an_earlier_run_left(tmp_path: Path) -> None:
    paths = MediaPaths(tmp_path, "0000beef", 7)
    paths.make_dirs()
    paths.playlist.write_text("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1.0,\n"
                              "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T05:28:12.741+0000\n9999999999.m4s\n")
    (paths.hls_dir / INIT_SEGMENT).write_bytes(b"stale")
    (paths.hls_dir / "9999999999.m4s").write_bytes(b"stale")
    recorder = LiveRecorder(paths)
    recorder.begin_run(time.time(), 60)
    recorder.poll(paths.playlist.stat().st_mtime_ns)  # the run's ffmpeg has not written its playlist yet
    recorder.end_run()  # and it died before it did
    assert not list(paths.incoming_dir.glob("*.mp4")) and not paths.recording_list.exists()
    assert recorder.lost_segments == 0 and recorder.files_closed == 0
    assert [(x.number, x.program_time) for x in parse_playlist(paths.playlist.read_text())] == [
        (9999999999, dt.datetime(2026, 12, 1, 5, 28, 12, 741000, tzinfo=dt.UTC).timestamp())]
