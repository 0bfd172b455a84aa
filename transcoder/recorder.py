"""Recordings built from the live segments, by the worker, instead of a second muxer in each ffmpeg.

The live output of a camera that records (and has no substream) is fragmented MP4: ``init.mp4`` (ftyp+moov) and
one ``moof``+``mdat`` per ``<n>.m4s``. The head followed by the fragments of one ffmpeg run is a valid
fragmented MP4, so the worker appends each finished live segment to the open recording file
(``recordings/<id>/incoming/<UTC start>.mp4``): the fragment's ``moof`` is rewritten (its decode times lowered so
the recording starts at zero, as every recording does) and its ``mdat`` copied in the kernel
(``os.copy_file_range``). A file is closed on the first fragment at or after each multiple of
``record_segment_seconds`` of the clock, at the end of a run, and when a live segment was lost; closing it lists
it in ``incoming/segments.csv`` (``name,0,duration``), the very file ffmpeg's segment muxer wrote, so
:func:`transcoder.recordings.collect` hands it to the portal as before.

Writing the recording in ffmpeg cost a third of a camera's CPU (a second muxer interleaving every packet); the
copy costs the worker a read of a few kB and a ``copy_file_range`` a second.

- Finished segments: ffmpeg writes ``<n>.m4s`` whole (``temp_file``) and numbers them from the clock, one up
  from the last; every segment up to the newest one the playlist names is finished, and ffmpeg keeps each on
  disk after it left the playlist (``hls_delete_threshold`` segments, at most the playlist's length: six
  seconds more by default), the worker's slack when it is slow.
- A run's segments are numbered from its start (``hls_start_number_source=epoch``), so what an earlier run left
  is never taken; its ``init.mp4`` is read with its first segment.
- Times: the wall clock of a fragment is the playlist's program date-time of the run's first segment taken plus
  the camera's own decode time since, so a run's recordings abut exactly.
- A segment that is gone before it was taken (the worker stalled longer than the slack) closes the file: the
  archive shows a gap, never a file that hides one.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

from transcoder.ffmpeg import INIT_SEGMENT, MediaPaths
from transcoder.mp4 import Fragment, ReadMore, Track, fragments, shifted_moof, tracks
from transcoder.snapshots import read_quietly

log = logging.getLogger("pantau.transcoder")
NAME_FORMAT = "%Y%m%dT%H%M%SZ.mp4"
HEAD_READ = 16 * 1024  # a live segment's styp, sidx and moof (it grows with the samples: ~12 bytes each)
CUT_EARLY_S = 0.1  # a fragment starting this close before a clock boundary already opens the next file


@dataclass(frozen=True)
class Listed:
    number: int
    program_time: float | None  # EXT-X-PROGRAM-DATE-TIME, seconds since the epoch


def parse_playlist(text: str) -> list[Listed]:
    """The segments a live playlist names (``<n>.m4s``), with their program date-times."""
    found: list[Listed] = []
    program_time: float | None = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            try:
                program_time = datetime.fromisoformat(line.split(":", 1)[1].strip()).timestamp()
            except ValueError:
                program_time = None
        elif line and not line.startswith("#"):
            stem, _, suffix = line.partition(".")
            if suffix == "m4s" and stem.isdigit():
                found.append(Listed(int(stem), program_time))
            program_time = None
    return found


def copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """``count`` bytes of ``src`` from ``offset`` appended to ``dst``, in the kernel where it can."""
    while count > 0:
        try:
            done = os.copy_file_range(src, dst, count, offset)
        except OSError:
            done = 0
        if done <= 0:  # a file system or kernel without it: through user space
            data = os.pread(src, count, offset)
            if not data:
                raise OSError(f"live segment shorter than expected ({count} bytes missing)")
            os.write(dst, data)
            done = len(data)
        offset += done
        count -= done


@dataclass
class OpenFile:
    name: str
    fd: int
    start: float  # wall clock of its first fragment
    video_start: int  # decode time of its first video sample (the video track's timescale)
    shift: dict[int, int]  # what each track's decode times are lowered by
    video_end: int = 0
    size: int = 0


@dataclass
class Run:
    first_number: int  # segments numbered below this belong to an earlier run
    record_seconds: float
    stale_mtime: int | None  # the playlist as an earlier run left it: nothing in it is this run's
    last: int | None = None
    init: bytes | None = None
    tracks: dict[int, Track] = field(default_factory=dict)
    video: Track | None = None
    anchor: float | None = None  # wall clock at video decode time zero


class LiveRecorder:
    """One camera's recording, from its live fMP4 segments (driven by the worker's loop)."""

    def __init__(self, paths: MediaPaths) -> None:
        self.paths = paths
        self.run: Run | None = None
        self.file: OpenFile | None = None
        self.playlist_mtime: int | None = None
        self.lost_segments = 0
        self.files_closed = 0

    def begin_run(self, started: float, record_seconds: float) -> None:
        """A new ffmpeg run is about to start (its segments are numbered from ``started``, the wall clock)."""
        self.end_run()
        try:
            stale: int | None = os.stat(self.paths.playlist).st_mtime_ns
        except OSError:
            stale = None
        self.run = Run(first_number=int(started), record_seconds=max(1.0, record_seconds), stale_mtime=stale)
        self.playlist_mtime = stale

    def end_run(self) -> None:
        """The run's ffmpeg is gone: take what its last playlist names and close the file."""
        if self.run is not None:
            try:
                self.step(ending=True)
            except Exception:  # noqa: BLE001 - a broken segment must not keep the file open
                log.exception("camera %s: reading the last live segments failed", self.paths.camera_id)
        self.close()
        self.run = None

    def poll(self, mtime_ns: int | None) -> None:
        """Called with the playlist's mtime each turn: take new segments when it changed."""
        if self.run is None or mtime_ns is None or mtime_ns == self.playlist_mtime:
            return
        self.playlist_mtime = mtime_ns
        try:
            self.step()
        except Exception:  # noqa: BLE001 - the live view goes on; the file is closed, the next one starts fresh
            log.exception("camera %s: recording from the live segments failed", self.paths.camera_id)
            self.close()

    # -- the work --

    def step(self, ending: bool = False) -> None:
        run = self.run
        if run is None:
            return
        try:
            fd = os.open(self.paths.playlist, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
        except PermissionError:
            fd = os.open(self.paths.playlist, os.O_RDONLY)
        except OSError:
            return
        with os.fdopen(fd, "rb") as handle:
            if os.fstat(fd).st_mtime_ns == run.stale_mtime:
                return  # this run has not written its playlist yet
            text = handle.read().decode(errors="replace")
        listed = [item for item in parse_playlist(text) if item.number >= run.first_number]
        if not listed:
            return
        times = {item.number: item.program_time for item in listed}
        newest = max(times)
        first = min(times) if run.last is None else run.last + 1
        for number in range(first, newest + 1):
            try:
                self._take(run, number, times.get(number), last_of_run=ending and number == newest)
            except (OSError, ValueError, struct.error) as exc:
                log.warning("camera %s: live segment %s not recorded: %s", self.paths.camera_id, number, exc)
                self.close()  # the archive shows the gap
            run.last = number

    def _take(self, run: Run, number: int, program_time: float | None, last_of_run: bool = False) -> None:
        path = self.paths.hls_dir / f"{number}.m4s"
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
        except PermissionError:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            if last_of_run:
                return  # ffmpeg stopped in the middle of it (named in the last playlist, never finished)
            self.lost_segments += 1
            log.warning("camera %s: live segment %s was gone before it was recorded", self.paths.camera_id,
                        number)
            self.close()  # a gap in the archive, not a file that hides one
            return
        try:
            if run.init is None:
                run.init = read_quietly(self.paths.hls_dir / INIT_SEGMENT)
                run.tracks = tracks(run.init)
                run.video = next((t for t in run.tracks.values() if t.handler == b"vide"), None)
                if run.video is None:
                    raise ValueError("the live initialisation segment has no video track")
            size = os.fstat(fd).st_size
            head = os.pread(fd, min(size, HEAD_READ), 0)
            while True:
                try:
                    found = fragments(head, size, run.tracks)
                    break
                except ReadMore as more:  # a long segment's moof (many samples): read until it is all there
                    if len(head) >= size:
                        raise ValueError("the live segment ends inside a box") from None
                    head = os.pread(fd, min(size, max(more.needed, 2 * len(head))), 0)
            if not found:
                raise ValueError("no moof+mdat in the live segment")
            for fragment in found:
                self._append(run, fd, head, fragment, program_time)
                program_time = None
        finally:
            os.close(fd)

    def _append(self, run: Run, src: int, head: bytes, fragment: Fragment, program_time: float | None) -> None:
        assert run.video is not None and run.init is not None
        video = next((r for r in fragment.runs if r.track_id == run.video.id), None)
        if video is None:
            return  # audio alone (no video in this fragment): nothing to cut a file on
        scale = run.video.timescale
        if run.anchor is None or (self.file is None and program_time is not None):
            if program_time is None and run.anchor is None:
                program_time = datetime.now(UTC).timestamp()
            if program_time is not None:
                run.anchor = program_time - video.decode_time / scale
        assert run.anchor is not None
        wall = run.anchor + video.decode_time / scale
        if self.file is not None:
            boundary = (self.file.start // run.record_seconds + 1) * run.record_seconds
            if wall >= boundary - CUT_EARLY_S:
                self.close()
        if self.file is None:
            self._open(run, fragment, wall, video.decode_time)
        file = self.file
        assert file is not None
        moof = shifted_moof(head, fragment, file.shift, file.size - fragment.moof_at)
        os.write(file.fd, moof)
        mdat_at = fragment.moof_at + len(moof)
        copy_range(src, file.fd, mdat_at, fragment.mdat_end - mdat_at)
        file.size += len(moof) + fragment.mdat_end - mdat_at
        file.video_end = video.decode_time + video.duration

    def _open(self, run: Run, fragment: Fragment, wall: float, video_start: int) -> None:
        assert run.init is not None and run.video is not None
        start_s = min(r.decode_time / run.tracks[r.track_id].timescale for r in fragment.runs
                      if r.track_id in run.tracks)
        shift = {track_id: int(start_s * track.timescale) for track_id, track in run.tracks.items()}
        self.paths.incoming_dir.mkdir(parents=True, exist_ok=True)
        second = int(wall)
        while True:  # the same second as the file before (a restart at once): the next free name
            name = datetime.fromtimestamp(second, UTC).strftime(NAME_FORMAT)
            try:
                fd = os.open(self.paths.incoming_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                second += 1
        os.write(fd, run.init)
        self.file = OpenFile(name, fd, wall, video_start, shift, video_start, len(run.init))

    def close(self) -> None:
        """Close the open file and list it as finished (``segments.csv``), as ffmpeg's segment muxer did."""
        file, self.file = self.file, None
        if file is None:
            return
        os.close(file.fd)
        scale = self.run.video.timescale if self.run is not None and self.run.video is not None else 90000
        seconds = max(0.0, (file.video_end - file.video_start) / scale)
        with open(self.paths.recording_list, "a", encoding="ascii") as handle:
            handle.write(f"{file.name},0.000000,{seconds:.6f}\n")
        self.files_closed += 1
