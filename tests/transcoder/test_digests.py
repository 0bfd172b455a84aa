"""Exports without waiting for hashes or a second pass: held segments hashed ahead (and hashed again when they
changed), the moov written into a reserve at the front (with +faststart when the reserve is too small), packets
copied unconverted only when the sources share their sample descriptions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.recordings import make_segments
from tests.support.tools import require_tool, wait_for
from tests.transcoder.fakes import Factory
from tests.transcoder.test_worker import FakePortal
from transcoder import export
from transcoder.config import WorkerConfig
from transcoder.digests import Digests
from transcoder.export import ExportJob, Report, layout_for, run_export
from transcoder.holds import HoldList
from transcoder.mp4 import file_fragments, layout
from transcoder.worker import Worker

START = dt.datetime(2026, 11, 30, 2, 0, 0, tzinfo=dt.UTC)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def job_for(made: list[Any], start: dt.datetime, end: dt.datetime, job_id: int = 1) -> ExportJob:
    sources = [{"path": p, "start": a.isoformat(), "end": b.isoformat()} for p, a, b, _, _ in made]
    return ExportJob.from_api({"id": job_id, "camera_id": 3, "start": start.isoformat(), "end": end.isoformat(),
                               "output": f"exports/9/e{job_id}.mp4", "sources": sources})


def held_span(start: dt.datetime, end: dt.datetime, camera: int = 3) -> HoldList:
    return HoldList.from_api([], [{"camera_id": camera, "start": start.isoformat(), "end": end.isoformat()}],
                             margin_s=4)


def test_held_segments_are_hashed_ahead_and_a_changed_one_is_hashed_again(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg", reason="exports run ffmpeg")
    made = make_segments(tmp_path, 3, START, 5, seconds=4)
    make_segments(tmp_path, 4, START, 2, seconds=4)  # another camera, not held
    held = held_span(START + dt.timedelta(seconds=5), START + dt.timedelta(seconds=11))
    assert held.on_disk(tmp_path) == [m[0] for m in made[1:3]]  # 4-8 s and 8-12 s; the margin reaches back 4 s
    digests = Digests(tmp_path)
    assert digests.fill(held.on_disk(tmp_path)) == 2 and digests.fill(held.on_disk(tmp_path)) == 0
    stored = json.loads((tmp_path / "recordings/.sha256.json").read_text())["files"]
    assert {p: v[-1] for p, v in stored.items()} == {m[0]: sha(tmp_path / m[0]) for m in made[1:3]}

    # the export takes the stored digests: nothing of the two held segments is hashed again
    job = job_for(made[1:3], START + dt.timedelta(seconds=5), START + dt.timedelta(seconds=11))
    report = run_export(job, tmp_path, ffmpeg, Report(1, job.output), digests=Digests(tmp_path))
    assert report.state == "done"
    assert [s["sha256"] for s in report.sources] == [sha(tmp_path / m[0]) for m in made[1:3]]
    again = Digests(tmp_path)  # as a restarted worker: from the file
    assert again.known(made[1][0]) == (sha(tmp_path / made[1][0]), made[1][3])

    # one byte changed in place, size and modification time put back: the stored digest is not used
    target = tmp_path / made[2][0]
    before = target.stat()
    with target.open("r+b") as handle:
        handle.seek(before.st_size // 2)
        byte = handle.read(1)
        handle.seek(before.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size and target.stat().st_mtime_ns == before.st_mtime_ns
    assert again.known(made[2][0]) is None
    second = run_export(job_for(made[1:3], job.start, job.end, job_id=2), tmp_path, ffmpeg,
                        Report(2, "exports/9/e2.mp4"), digests=again)
    assert second.state == "done"
    assert second.sources[1]["sha256"] == sha(target) != report.sources[1]["sha256"]
    assert again.hashed_total == 1, "only the changed segment was hashed again"


def test_the_moov_goes_into_a_reserve_at_the_front_and_a_small_reserve_falls_back_to_faststart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ffmpeg = require_tool("ffmpeg", reason="exports run ffmpeg")
    made = make_segments(tmp_path, 3, START, 3, seconds=4)
    job = job_for(made, START + dt.timedelta(seconds=1), START + dt.timedelta(seconds=11))
    shape = layout_for([tmp_path / m[0] for m in made], 10.0)
    assert shape.samples == 3 * 100 and shape.auto_convert is False  # 25 frames/s, one clip's descriptions
    report = run_export(job, tmp_path, ffmpeg, Report(1, job.output))
    out = tmp_path / job.output
    boxes = layout(out)
    assert report.state == "done" and boxes[:3] == [b"ftyp", b"moov", b"free"] and boxes[-1] == b"mdat"
    assert report.sha256 == sha(out)

    monkeypatch.setattr(export, "MOOV_BASE_BYTES", 200)
    monkeypatch.setattr(export, "MOOV_BYTES_PER_SAMPLE", 0)
    runs: list[list[str]] = []
    real_run = export._run_ffmpeg

    def recorded(argv: list[str], *args: Any) -> Any:
        runs.append(argv)
        return real_run(argv, *args)

    monkeypatch.setattr(export, "_run_ffmpeg", recorded)
    small = job_for(made, job.start, job.end, job_id=2)
    fallback = run_export(small, tmp_path, ffmpeg, Report(2, small.output))
    assert fallback.state == "done", fallback.error
    assert [("-moov_size" in a, "+faststart" in a) for a in runs] == [(True, False), (False, True)]
    out2 = tmp_path / small.output
    boxes2 = layout(out2)
    assert boxes2.index(b"moov") < boxes2.index(b"mdat") and fallback.sha256 == sha(out2)
    ffprobe = require_tool("ffprobe", reason="checks the exported file")
    duration = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                               str(out2)], capture_output=True, text=True, check=True).stdout
    assert abs(float(duration) - 10.0) <= 1.0


def test_sources_with_other_sample_descriptions_keep_the_concat_conversion(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg", reason="makes a segment of another resolution")
    made = make_segments(tmp_path, 3, START, 1, seconds=4)
    other = tmp_path / "other.mp4"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "25", "-bf", "0", "-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
                    str(other)], check=True)
    first, second = file_fragments(tmp_path / made[0][0]), file_fragments(other)
    assert first is not None and second is not None and first.descriptions != second.descriptions
    assert layout_for([tmp_path / made[0][0], other], 6.0).auto_convert is True
    assert layout_for([tmp_path / made[0][0], tmp_path / made[0][0]], 8.0).auto_convert is False
    plain = tmp_path / "plain.mp4"
    plain.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00")  # not fragmented: the reserve is guessed
    guessed = layout_for([plain], 10.0)
    assert guessed.samples is None and guessed.auto_convert is True
    assert guessed.moov_reserve >= 10 * export.PACKETS_PER_S_GUESS * export.MOOV_BYTES_PER_SAMPLE


def test_the_worker_hashes_held_segments_when_it_learns_the_hold(tmp_path: Path) -> None:
    made = make_segments(tmp_path, 3, START, 7, seconds=4)
    config = WorkerConfig.from_env({"PANTAU_WORKER_CREDENTIAL": "t", "PANTAU_MEDIA_ROOT": str(tmp_path),
                                    "PANTAU_WORKER_NAME": "w1", "PANTAU_WORKER_METRICS": "off"})
    worker = Worker(config, client=FakePortal(), factory=Factory(), ffmpeg="ffmpeg")  # type: ignore[arg-type]
    try:
        # held: the first segment by its path, and by time a span in the last (a segment's end is not in its
        # name, so the worker's margin also holds those that started up to 19 s before: the 3rd to the 7th)
        worker.apply_assignment({"settings": {"segment_seconds": 2, "record_segment_seconds": 4},
                                 "held_segments": [made[0][0]],
                                 "holds": [{"camera_id": 3, "start": made[6][1].isoformat(),
                                            "end": made[6][2].isoformat()}], "cameras": []}, 0.0)
        expected = [made[0][0], *(m[0] for m in made[2:])]

        def hashed() -> list[str]:
            digests = Digests(tmp_path)
            return [m[0] for m in made if digests.known(m[0]) is not None]

        wait_for(lambda: hashed() == expected, timeout=10, message="the held segments were not hashed")
        digests = Digests(tmp_path)
        assert digests.known(made[1][0]) is None, "a segment outside every hold is not hashed"
        assert digests.known(made[6][0]) == (sha(tmp_path / made[6][0]), made[6][3])
    finally:
        worker._digest_pool.shutdown(wait=True)
        worker._pool.shutdown(wait=True)
        worker._sync_pool.shutdown(wait=True)
