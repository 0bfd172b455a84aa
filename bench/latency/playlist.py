"""Server-side latency from the live playlist on disk: how old the newest media a player could fetch is.

``floor`` = wall clock − (program-date-time of the newest segment + its duration): the age of the newest frame
published in the playlist. No player can be closer to the live edge than that; hls.js adds its hold-back
(``liveSyncDurationCount`` × target duration) and its playlist/segment fetch delays on top.

``pdt_lag`` = (segment file's modification time) − (its program-date-time + duration), once per new segment: how
late ffmpeg finishes a segment after the wall-clock instant its program-date-time says the segment ends. Near
zero means the program-date-time stamps are true wall-clock times (so the browser figures are honest).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PDT = re.compile(r"^#EXT-X-PROGRAM-DATE-TIME:(\S+)$")
EXTINF = re.compile(r"^#EXTINF:([0-9.]+)")
TARGET = re.compile(r"^#EXT-X-TARGETDURATION:(\d+)")


@dataclass
class Segment:
    uri: str
    start: float  # epoch seconds, from the program date-time
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class Playlist:
    target_duration: int | None
    segments: list[Segment]


def parse_pdt(text: str) -> float:
    """ffmpeg writes ``2026-11-22T14:39:55.123+0000``."""
    return dt.datetime.fromisoformat(text).timestamp()


def parse(text: str) -> Playlist:
    """Segments with their program date-times (a segment without its own tag follows on from the previous)."""
    target = None
    segments: list[Segment] = []
    pending_pdt: float | None = None
    duration: float | None = None
    for line in text.splitlines():
        line = line.strip()
        if m := TARGET.match(line):
            target = int(m.group(1))
        elif m := PDT.match(line):
            pending_pdt = parse_pdt(m.group(1))
        elif m := EXTINF.match(line):
            duration = float(m.group(1))
        elif line and not line.startswith("#") and duration is not None:
            if pending_pdt is None:
                pending_pdt = segments[-1].end if segments else None
            if pending_pdt is not None:
                segments.append(Segment(uri=line, start=pending_pdt, duration=duration))
            pending_pdt, duration = None, None
    return Playlist(target_duration=target, segments=segments)


@dataclass
class DiskSampler:
    """Polls the playlists of some cameras on disk about ten times a second in a thread.

    The floor is recorded at every poll, not once a second: segments are cut once a second, so a 1 s sampling
    period would lock onto one phase of the segment cycle and report one point of a sawtooth.
    """

    playlists: dict[str, Path]
    poll_s: float = 0.1
    floors: dict[str, list[float]] = field(default_factory=dict)
    pdt_lags: dict[str, list[float]] = field(default_factory=dict)
    durations: dict[str, list[float]] = field(default_factory=dict)
    target_durations: set[int] = field(default_factory=set)
    _seen: dict[str, set[str]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> DiskSampler:
        self._thread = threading.Thread(target=self._loop, name="bench-disk-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, path in self.playlists.items():
                self.sample(key, path)
            self._stop.wait(self.poll_s)

    def sample(self, key: str, path: Path) -> None:
        try:
            playlist = parse(path.read_text())
        except (OSError, ValueError):
            return
        now = time.time()
        if not playlist.segments:
            return
        if playlist.target_duration is not None:
            self.target_durations.add(playlist.target_duration)
        newest = playlist.segments[-1]
        self.floors.setdefault(key, []).append(now - newest.end)
        seen = self._seen.setdefault(key, set())
        if newest.uri not in seen:
            first = not seen
            seen.add(newest.uri)
            if first:
                return  # already there when we started watching: its mtime says nothing
            try:
                mtime = (path.parent / newest.uri).stat().st_mtime
            except OSError:
                return
            self.pdt_lags.setdefault(key, []).append(mtime - newest.end)
            self.durations.setdefault(key, []).append(newest.duration)
