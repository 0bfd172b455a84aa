"""Export jobs on the worker, with real ffmpeg on real fragmented-MP4 segments: trimmed to the second, stream
copied, hashed, a missing segment reported, and the job's life through the sync (reported until delivered)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.recordings import make_segments
from tests.support.tools import require_tool, wait_for
from transcoder.export import Exporter, ExportJob, Report, plan, run_export

START = dt.datetime(2026, 11, 30, 2, 0, 0, tzinfo=dt.UTC)


def job_for(made: list[tuple[str, dt.datetime, dt.datetime, int, int]], start: dt.datetime, end: dt.datetime,
            job_id: int = 1, extra: list[dict[str, str]] | None = None) -> ExportJob:
    sources = [{"path": p, "start": a.isoformat(), "end": b.isoformat()} for p, a, b, _, _ in made]
    return ExportJob.from_api({"id": job_id, "camera_id": 3, "start": start.isoformat(), "end": end.isoformat(),
                               "output": f"exports/9/pantau-r9-kamera3-e{job_id}.mp4",
                               "sources": sources + (extra or [])})


def probe_duration(path: Path) -> float:
    ffprobe = require_tool("ffprobe", reason="checks the exported file")
    out = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format=duration:stream=codec_name",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert [s["codec_name"] for s in data["streams"]] == ["h264"]
    return float(data["format"]["duration"])


def test_an_export_is_trimmed_to_the_second_copied_and_hashed(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg", reason="exports run ffmpeg")
    made = make_segments(tmp_path, 3, START, 4, seconds=4)
    job = job_for(made, START + dt.timedelta(seconds=2), START + dt.timedelta(seconds=13))
    report = run_export(job, tmp_path, ffmpeg, Report(job.id, job.output))
    assert report.state == "done" and report.missing == [] and report.progress == 1.0
    out = tmp_path / job.output
    assert report.sha256 == hashlib.sha256(out.read_bytes()).hexdigest() and report.bytes == out.stat().st_size
    assert abs(probe_duration(out) - 11.0) <= 1.0  # keyframes every second: trimmed to the second
    assert abs(report.duration_s - 11.0) <= 1.0
    assert [s["path"] for s in report.sources] == [m[0] for m in made[:4]]
    assert [s["sha256"] for s in report.sources] == [
        hashlib.sha256((tmp_path / m[0]).read_bytes()).hexdigest() for m in made[:4]]
    assert out.read_bytes()[4:8] == b"ftyp" and out.read_bytes().find(b"moov") < out.read_bytes().find(b"mdat")
    second = dt.timedelta(seconds=1)
    assert (report.actual_start, report.actual_end) == (START + 2 * second, START + 13 * second)
    assert not list(out.parent.glob(".*")), "no temporary files left"


def test_a_missing_segment_is_reported_not_hidden(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg", reason="exports run ffmpeg")
    made = make_segments(tmp_path, 3, START, 3, seconds=4)
    (tmp_path / made[1][0]).unlink()
    job = job_for(made, START, START + dt.timedelta(seconds=12))
    report = run_export(job, tmp_path, ffmpeg, Report(job.id, job.output))
    assert report.state == "done" and report.missing == [made[1][0]]
    assert [s["path"] for s in report.sources] == [made[0][0], made[2][0]]
    assert abs(probe_duration(tmp_path / job.output) - 8.0) <= 1.0
    nothing = job_for([], START, START + dt.timedelta(seconds=5), job_id=2,
                      extra=[{"path": made[1][0], "start": made[1][1].isoformat(), "end": made[1][2].isoformat()}])
    empty = run_export(nothing, tmp_path, ffmpeg, Report(2, nothing.output))
    assert empty.state == "empty" and empty.missing == [made[1][0]]


def test_jobs_pointing_outside_their_folders_are_refused(tmp_path: Path) -> None:
    good = {"id": 1, "camera_id": 3, "start": START.isoformat(), "end": (START + dt.timedelta(seconds=5)).isoformat(),
            "output": "exports/9/a.mp4", "sources": []}
    ExportJob.from_api(good)
    for bad in ({"output": "../etc/x.mp4"}, {"output": "exports/9/../../x.mp4"}, {"output": "/tmp/x.mp4"},
                {"sources": [{"path": "recordings/4/20261130/020000.mp4", "start": START.isoformat(),
                              "end": START.isoformat()}]},
                {"sources": [{"path": "recordings/3/../../etc/passwd", "start": START.isoformat(),
                              "end": START.isoformat()}]},
                {"end": START.isoformat()}, {"id": True}):
        with pytest.raises(ValueError):
            ExportJob.from_api({**good, **bad})
    steps = plan(ExportJob.from_api(good), tmp_path)
    assert steps.used == () and steps.missing == ()


def test_the_exporter_reports_until_a_sync_delivered_the_result_and_deletes_expired_files(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg", reason="exports run ffmpeg")
    made = make_segments(tmp_path, 3, START, 2, seconds=4)
    pool = ThreadPoolExecutor(max_workers=1)
    exporter = Exporter(tmp_path, ffmpeg, pool)
    job = {"id": 7, "camera_id": 3, "start": START.isoformat(), "end": (START + dt.timedelta(seconds=8)).isoformat(),
           "output": "exports/9/pantau-r9-kamera3-e7.mp4",
           "sources": [{"path": p, "start": a.isoformat(), "end": b.isoformat()} for p, a, b, _, _ in made]}
    try:
        exporter.apply([job, {"id": "bad"}], [])
        exporter.apply([job], [])  # listed again while running: not started twice
        wait_for(lambda: exporter.body()[0][0]["state"] == "done", timeout=30, message="export did not finish")
        reports, deleted, receipt = exporter.body()
        assert [r["id"] for r in reports] == [7] and deleted == [] and receipt == ([7], 0)
        assert exporter.finished_total == 1
        exporter.delivered(receipt)
        assert exporter.body()[0] == []
        (tmp_path / "exports/9/stale.mp4").write_bytes(b"x")
        exporter.apply([], ["exports/9/pantau-r9-kamera3-e7.mp4", "../escape.mp4"])
        wait_for(lambda: exporter.body()[1] == ["exports/9/pantau-r9-kamera3-e7.mp4"], timeout=10,
                 message="expired file not deleted")
        assert not (tmp_path / "exports/9/pantau-r9-kamera3-e7.mp4").exists()
        exporter.delivered(exporter.body()[2])
        assert exporter.body()[1] == []
    finally:
        pool.shutdown(wait=True)
