"""Export jobs: cut an asked span of a camera's recorded segments into one MP4, on the worker that has them.

The portal lists jobs in the sync reply (``exports``, docs/worker-api.md); each job names the segments to use.
ffmpeg's concat demuxer reads them in order, ``inpoint``/``outpoint`` trim the first and last to the asked
seconds, and the streams are copied (no re-encode) into an MP4 whose index (``moov``) comes before the media, as
``+faststart`` makes it. Two things keep this close to a bare concat:

- the ``moov`` is written in one pass into space reserved at the front (``-moov_size``, sized from the samples
  the sources' fragments hold, with a wide margin) instead of ``+faststart``'s second pass that rewrites the
  whole file; when ffmpeg says the reserve was too small, the export runs again with ``+faststart``;
- when every source has the same sample descriptions (one camera, one stream setup), the concat demuxer copies
  the H.264 packets as they are (``auto_convert`` off) instead of converting them to Annex B and back.

The SHA-256 of each source segment is usually known before the export starts (:mod:`transcoder.digests`: the
worker hashes held segments when it learns of the hold); the others are hashed while ffmpeg reads them. The
result is hashed once written, and everything goes back to the portal in the next syncs (``exports`` of the
request) until one of them succeeded; the portal signs the manifest. A segment missing on disk is reported,
never silently skipped: the portal lists it as a gap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_graph

from contract import worker_api
from transcoder.digests import Digests
from transcoder.mp4 import file_fragments
from transcoder.process import _set_parent_death_signal
from transcoder.redact import redact

log = logging.getLogger("pantau.transcoder")
_SOURCE = re.compile(r"recordings/(?P<camera>[0-9]{1,10})/[0-9]{8}/[0-9]{6}(-[0-9]{1,4})?\.mp4")
_OUTPUT = re.compile(rf"{worker_api.EXPORTS_DIR}/[A-Za-z0-9_-]{{1,64}}/[A-Za-z0-9][A-Za-z0-9_.-]{{0,127}}\.mp4")
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-nostats", "-y", "-loglevel", "error", "-progress", "pipe:1")
STDERR_LINES = 20
# the moov reserve: per sample at most stsz 4 + stts 8 + ctts 8 + stco 8 + stsc 12 bytes (a chunk per sample at
# worst) and a keyframe's stss 4, so 48 with room; plus the boxes around them and the metadata
MOOV_BYTES_PER_SAMPLE = 48
MOOV_BASE_BYTES = 64 << 10
PACKETS_PER_S_GUESS = 120  # sources that are not fragmented MP4: up to 60 frames/s of video and 60 audio packets
RESERVE_TOO_SMALL = "reserved_moov_size is too small"
TRAILER_FAILED = "Error writing trailer"  # the file is unfinished, though ffmpeg may exit with 0


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an ISO 8601 time")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{what} must carry an offset")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Source:
    path: str  # relative to the media root
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ExportJob:
    id: int
    camera_id: int
    start: datetime
    end: datetime
    output: str  # relative to the media root
    sources: tuple[Source, ...]

    @classmethod
    def from_api(cls, data: Any) -> ExportJob:
        """A job from the sync reply; anything malformed or pointing outside its folders raises ValueError."""
        if not isinstance(data, dict):
            raise ValueError("an export job must be an object")
        job_id, camera_id, output = data.get("id"), data.get("camera_id"), data.get("output")
        if not isinstance(job_id, int) or isinstance(job_id, bool) or job_id < 1:
            raise ValueError("export job id must be a positive integer")
        if not isinstance(camera_id, int) or isinstance(camera_id, bool) or camera_id < 1:
            raise ValueError(f"export {job_id}: camera_id must be a positive integer")
        if not isinstance(output, str) or not _OUTPUT.fullmatch(output):
            raise ValueError(f"export {job_id}: output must be a file name under {worker_api.EXPORTS_DIR}/")
        start, end = _time(data.get("start"), "start"), _time(data.get("end"), "end")
        if end <= start:
            raise ValueError(f"export {job_id}: the span ends before it starts")
        sources = []
        for item in data.get("sources") or []:
            path = item.get("path") if isinstance(item, dict) else None
            match = _SOURCE.fullmatch(path) if isinstance(path, str) else None
            if match is None or int(match["camera"]) != camera_id:
                raise ValueError(f"export {job_id}: sources must be recordings of camera {camera_id}")
            assert isinstance(path, str)
            sources.append(Source(path, _time(item.get("start"), "source start"), _time(item.get("end"), "source end")))
        sources.sort(key=lambda s: s.start)
        return cls(job_id, camera_id, start, end, output, tuple(sources))

    @property
    def span_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Plan:
    """What ffmpeg will read: the sources found on disk, with the trim of the first and last, and the missing."""

    used: tuple[Source, ...]
    missing: tuple[str, ...]
    inpoint_s: float
    outpoint_s: float | None
    expected_s: float

    def concat_text(self, media_root: Path) -> str:
        lines = ["ffconcat version 1.0"]
        for index, source in enumerate(self.used):
            path = str(media_root / source.path).replace("'", "'\\''")
            lines.append(f"file '{path}'")
            if index == 0 and self.inpoint_s > 0:
                lines.append(f"inpoint {self.inpoint_s:.3f}")
            if index == len(self.used) - 1 and self.outpoint_s is not None:
                lines.append(f"outpoint {self.outpoint_s:.3f}")
        return "\n".join(lines) + "\n"


def plan(job: ExportJob, media_root: Path) -> Plan:
    relevant = [s for s in job.sources if s.end > job.start and s.start < job.end]
    used = tuple(s for s in relevant if (media_root / s.path).is_file())
    missing = tuple(s.path for s in relevant if s not in used)
    if not used:
        return Plan((), missing, 0.0, None, 0.0)
    first, last = used[0], used[-1]
    inpoint = max(0.0, (job.start - first.start).total_seconds())
    outpoint = (job.end - last.start).total_seconds() if job.end < last.end else None
    if len(used) == 1 and outpoint is not None and outpoint <= inpoint:
        outpoint = None
    expected = sum((min(s.end, job.end) - max(s.start, job.start)).total_seconds() for s in used)
    return Plan(used, missing, inpoint, outpoint, max(expected, 0.001))


def build_argv(ffmpeg: str, list_path: Path, output: Path, *, creation_time: datetime, title: str,
               moov_reserve: int | None = None, auto_convert: bool = True) -> list[str]:
    """Concat demuxer in, stream copy out, index at the front (in space reserved for it when ``moov_reserve`` is
    given, else by ``+faststart``'s second pass); the input list names absolute paths we built."""
    inputs: dict[str, str] = {"f": "concat", "safe": "0", "protocol_whitelist": "file"}
    if not auto_convert:
        inputs["auto_convert"] = "0"
    front = {"moov_size": str(moov_reserve)} if moov_reserve else {"movflags": "+faststart"}
    stream = ffmpeg_graph.input(str(list_path), **inputs)
    out = stream.output(
        str(output), c="copy", map="0", f="mp4", avoid_negative_ts="make_zero", **front,
        **{"metadata": f"creation_time={creation_time.strftime('%Y-%m-%dT%H:%M:%S.000000Z')}",
           "metadata:g": f"title={title}"},
    )
    return [ffmpeg, *GLOBAL_ARGS, *out.get_args()]


@dataclass(frozen=True)
class Layout:
    """How the sources are copied: the ``moov`` reserve and whether packets need the concat's conversion."""

    moov_reserve: int
    auto_convert: bool
    samples: int | None  # counted in the sources' fragments; None when guessed from the span


def layout_for(paths: Iterable[Path], expected_s: float) -> Layout:
    """Count the samples of the sources' fragments (their ``moof`` headers only) for the ``moov`` reserve, and see
    whether they share their sample descriptions (then no packet needs converting)."""
    found = [file_fragments(p) for p in paths]
    if not found or any(f is None for f in found):
        guess = int(max(expected_s, 1.0) * PACKETS_PER_S_GUESS)
        return Layout(MOOV_BASE_BYTES + 2 * MOOV_BYTES_PER_SAMPLE * guess, True, None)
    samples = sum(f.samples for f in found if f is not None)
    same = len({f.descriptions for f in found if f is not None}) == 1
    return Layout(MOOV_BASE_BYTES + MOOV_BYTES_PER_SAMPLE * samples, not same, samples)


def sha256_files(paths: Iterable[Path]) -> list[tuple[str, int]]:
    """SHA-256 and size of each file (``hashlib.file_digest``: one buffer, the GIL released while hashing)."""
    found = []
    for path in paths:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
            size = handle.tell()
        found.append((digest.hexdigest(), size))
    return found


_VERSION: dict[str, str] = {}


def ffmpeg_version(ffmpeg: str) -> str:
    if ffmpeg not in _VERSION:
        try:
            out = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True, timeout=10)
            first = out.stdout.splitlines()[0] if out.stdout else ""
        except (OSError, subprocess.TimeoutExpired):
            first = ""
        _VERSION[ffmpeg] = first.removeprefix("ffmpeg version ").split(" Copyright")[0][:80] or "unknown"
    return _VERSION[ffmpeg]


@dataclass
class Report:
    """A job's state as the worker reports it (``EXPORT_REPORT_FIELDS``)."""

    id: int
    output: str
    state: str = "queued"
    progress: float = 0.0
    bytes: int | None = None
    sha256: str | None = None
    duration_s: float | None = None
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    error: str | None = None
    ffmpeg_version: str | None = None

    @property
    def final(self) -> bool:
        return self.state in worker_api.EXPORT_FINAL_STATES

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id, "state": self.state, "progress": round(self.progress, 4), "output": self.output,
            "bytes": self.bytes, "sha256": self.sha256, "duration_s": self.duration_s,
            "actual_start": self.actual_start.isoformat() if self.actual_start else None,
            "actual_end": self.actual_end.isoformat() if self.actual_end else None,
            "sources": self.sources, "missing": self.missing, "error": self.error,
            "ffmpeg_version": self.ffmpeg_version,
        }


def run_export(job: ExportJob, media_root: Path, ffmpeg: str, report: Report,
               on_progress: Callable[[float], None] | None = None,
               running: set[subprocess.Popen[str]] | None = None, digests: Digests | None = None) -> Report:
    """Run one job to its end (in a worker thread); fills and returns ``report``. ``digests``: the SHA-256 of
    segments hashed ahead (when the hold was placed); without it every source is hashed now."""
    steps = plan(job, media_root)
    report.missing = list(steps.missing)
    report.ffmpeg_version = ffmpeg_version(ffmpeg)
    if not steps.used:
        report.state, report.progress = "empty", 1.0
        return report
    output = media_root / job.output
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.part")
    listing = output.with_name(f".{output.name}.ffconcat")
    listing.write_text(steps.concat_text(media_root))
    first, last = steps.used[0], steps.used[-1]
    actual_start = max(first.start, job.start)
    actual_end = min(last.end, job.end)
    title = f"Pantau export {job.id} camera {job.camera_id}"
    digests = digests or Digests(media_root)
    hashes: dict[str, tuple[str, int]] = {}
    for source in steps.used:
        if (known := digests.known(source.path)) is not None:
            hashes[source.path] = known
    unknown = [s.path for s in steps.used if s.path not in hashes]
    hash_error: list[BaseException] = []

    def hash_sources() -> None:  # alongside ffmpeg: both read the same files, the second from the page cache
        try:
            for path in unknown:
                hashes[path] = digests.digest(path)
        except OSError as exc:
            hash_error.append(exc)

    hasher = threading.Thread(target=hash_sources, name=f"export-{job.id}-hash", daemon=True)
    if unknown:
        hasher.start()
    report.state = "running"
    try:
        shape = layout_for((media_root / s.path for s in steps.used), steps.expected_s)
        argv = build_argv(ffmpeg, listing, partial, creation_time=actual_start, title=title,
                          moov_reserve=shape.moov_reserve, auto_convert=shape.auto_convert)
        try:
            out_s, tail = _run_ffmpeg(argv, steps.expected_s, report, on_progress, running)
        except FfmpegFailed as exc:  # ffmpeg 5.1 exits 0 after a failed trailer: _follow raises on its message too
            if not any(RESERVE_TOO_SMALL in line for line in exc.tail):
                raise
            log.info("export %s: the moov reserve of %d bytes was too small; writing it with +faststart",
                     job.id, shape.moov_reserve)
            argv = build_argv(ffmpeg, listing, partial, creation_time=actual_start, title=title,
                              auto_convert=shape.auto_convert)
            out_s, tail = _run_ffmpeg(argv, steps.expected_s, report, on_progress, running)
        if unknown:
            hasher.join()
        if hash_error:
            raise OSError(f"a source segment could not be read: {hash_error[0]}")
        if not partial.is_file() or partial.stat().st_size == 0:
            raise RuntimeError("ffmpeg wrote nothing: " + " | ".join(tail[-3:]))
        digest, size = sha256_files([partial])[0]
        os.replace(partial, output)
    except Exception as exc:  # noqa: BLE001 - reported to the portal, the job fails
        if unknown:
            hasher.join()
        partial.unlink(missing_ok=True)
        report.state, report.error = "failed", redact(str(exc))[:2000]
        log.warning("export %s failed: %s", job.id, report.error)
        return report
    finally:
        listing.unlink(missing_ok=True)
    if unknown:
        digests.save()
    report.sources = [{"path": s.path, "bytes": hashes[s.path][1], "sha256": hashes[s.path][0]} for s in steps.used]
    report.bytes, report.sha256, report.duration_s = size, digest, round(out_s, 3)
    report.actual_start, report.actual_end = actual_start, actual_end
    report.state, report.progress = "done", 1.0
    return report


class FfmpegFailed(RuntimeError):
    """ffmpeg exited with an error; ``tail`` holds the last lines it wrote to stderr."""

    def __init__(self, code: int, tail: list[str]) -> None:
        super().__init__(f"ffmpeg exited with {code}: " + " | ".join(tail[-3:]))
        self.tail = list(tail)


def _run_ffmpeg(argv: list[str], expected_s: float, report: Report, on_progress: Callable[[float], None] | None,
                running: set[subprocess.Popen[str]] | None) -> tuple[float, list[str]]:
    """Run ffmpeg, following ``-progress`` on stdout; returns the output duration (s) and stderr's last lines.
    ffmpeg runs in its own session and dies with this thread's process (pdeathsig)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env={**os.environ, "TZ": "UTC"}, start_new_session=True,
                            preexec_fn=_set_parent_death_signal(os.getpid()))  # noqa: PLW1509
    if running is not None:
        running.add(proc)
    try:
        return _follow(proc, expected_s, report, on_progress)
    finally:
        if running is not None:
            running.discard(proc)


def _follow(proc: subprocess.Popen[str], expected_s: float, report: Report,
            on_progress: Callable[[float], None] | None) -> tuple[float, list[str]]:
    tail: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.rstrip()[:500])
            del tail[:-STDERR_LINES]

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    out_s = 0.0
    assert proc.stdout is not None
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            out_s = max(out_s, int(value) / 1e6)
            report.progress = min(0.99, out_s / expected_s)
            if on_progress is not None:
                on_progress(report.progress)
    code = proc.wait()
    reader.join(timeout=5)
    if code != 0 or any(TRAILER_FAILED in line for line in tail):
        raise FfmpegFailed(code, tail)
    return out_s, tail


class Exporter:
    """The worker's export jobs: started as the portal lists them, one at a time, reported until delivered."""

    def __init__(self, media_root: Path, ffmpeg: str, pool: Executor,
                 clock: Callable[[], float] = time.monotonic, digests: Digests | None = None) -> None:
        self.media_root = media_root
        self.digests = digests or Digests(media_root)
        self.ffmpeg = ffmpeg
        self.pool = pool
        self.clock = clock
        self.reports: dict[int, Report] = {}
        self.deleted: list[str] = []
        self.finished_total = 0
        self.failed_total = 0
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[str]] = set()
        self._stopping = False

    def apply(self, jobs: Any, expired: Any) -> None:
        """Start the jobs of a sync reply that are new to this worker; delete the expired files it names."""
        for item in jobs if isinstance(jobs, list) else []:
            try:
                job = ExportJob.from_api(item)
            except ValueError as exc:
                log.warning("export job refused: %s", exc)
                continue
            with self._lock:
                if job.id in self.reports:
                    continue
                self.reports[job.id] = Report(job.id, job.output)
            log.info("export %s: camera %s, %s to %s, %d segments", job.id, job.camera_id,
                     job.start.isoformat(), job.end.isoformat(), len(job.sources))
            self.pool.submit(self._run, job)
        for path in expired if isinstance(expired, list) else []:
            if isinstance(path, str) and _OUTPUT.fullmatch(path) and path not in self.deleted:
                self.pool.submit(self._delete, path)

    def _run(self, job: ExportJob) -> None:
        report = self.reports[job.id]
        started = self.clock()
        try:
            run_export(job, self.media_root, self.ffmpeg, report, running=self._procs, digests=self.digests)
        except Exception as exc:  # noqa: BLE001 - never lose the report
            report.state, report.error = "failed", redact(str(exc))[:2000]
            log.exception("export %s failed", job.id)
        if self._stopping and report.state == "failed":  # killed by our own shutdown: not the job's fault
            report.state, report.progress, report.error = "queued", 0.0, None
            return
        if report.state == "failed":
            self.failed_total += 1
        else:
            self.finished_total += 1
            log.info("export %s: %s in %.1f s (%s bytes, %d segments missing)", job.id, report.state,
                     self.clock() - started, report.bytes, len(report.missing))

    def _delete(self, path: str) -> None:
        target = self.media_root / path
        target.unlink(missing_ok=True)
        try:
            target.parent.rmdir()
        except OSError:
            pass
        with self._lock:
            self.deleted.append(path)

    def body(self) -> tuple[list[dict[str, Any]], list[str], tuple[list[int], int]]:
        """What the next sync carries: every report, the deletions, and a receipt for :meth:`delivered`."""
        with self._lock:
            reports = [r.to_api() for r in self.reports.values()]
            final = [r.id for r in self.reports.values() if r.final]
            return reports, list(self.deleted), (final, len(self.deleted))

    def delivered(self, receipt: tuple[list[int], int]) -> None:
        """A sync carrying these final reports and deletions succeeded: forget them."""
        final, deleted = receipt
        with self._lock:
            for job_id in final:
                self.reports.pop(job_id, None)
            del self.deleted[:deleted]

    def stop(self) -> None:
        """At shutdown: stop a running export (the portal lists it again and it runs from the start)."""
        self._stopping = True
        for proc in list(self._procs):
            if proc.poll() is None:
                proc.kill()

    @property
    def running(self) -> int:
        return sum(1 for r in self.reports.values() if r.state == "running")
