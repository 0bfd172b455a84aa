"""A camera's archive as people see it: recorded and missing stretches of a day in the city's time zone, and an
HLS playlist of the recorded segments of a chosen span (served by nginx from the worker's disk).

Each recorded segment is a fragmented MP4 with its own head (ftyp+moov, ``init_bytes`` long, reported by the
worker): the playlist names it twice, as the initialisation section (``EXT-X-MAP`` with a byte range) and as
the media after it (``EXT-X-BYTERANGE``), with a discontinuity between segments, since each starts its
timestamps at zero.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from portal.models import RecordingSegment, db

JOIN_TOLERANCE_S = 1.5
MAX_PLAYLIST_SEGMENTS = 2000  # a day of one-minute segments, and some


@dataclass(frozen=True)
class Stretch:
    start: dt.datetime
    end: dt.datetime
    recorded: bool

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def day_bounds(day: dt.date, zone: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def segments(camera_id: int, start: dt.datetime, end: dt.datetime) -> list[RecordingSegment]:
    return list(db.session.scalars(
        select(RecordingSegment).where(
            RecordingSegment.camera_id == camera_id, RecordingSegment.deleted_at.is_(None),
            RecordingSegment.start_at < end, RecordingSegment.end_at > start,
        ).order_by(RecordingSegment.start_at).limit(MAX_PLAYLIST_SEGMENTS)
    ))


def stretches(camera_id: int, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None) -> list[Stretch]:
    """[start, end) cut into recorded and missing stretches (the future is left out)."""
    end = min(end, now) if now else end
    found: list[Stretch] = []
    cursor = start
    for segment in segments(camera_id, start, end):
        a, b = max(segment.start_at, start), min(segment.end_at, end)
        if found and found[-1].recorded and (a - found[-1].end).total_seconds() <= JOIN_TOLERANCE_S:
            found[-1] = Stretch(found[-1].start, max(found[-1].end, b), True)
        else:
            if (a - cursor).total_seconds() > JOIN_TOLERANCE_S:
                found.append(Stretch(cursor, a, False))
            found.append(Stretch(a, b, True))
        cursor = max(cursor, found[-1].end)
    if end > cursor and (end - cursor).total_seconds() > JOIN_TOLERANCE_S:
        found.append(Stretch(cursor, end, False))
    return found


def init_size(segment: RecordingSegment, media_root: Path | None) -> int | None:
    """The segment's head size: from the index, else read from a local disk (one node), else unknown."""
    if segment.init_bytes:
        return segment.init_bytes
    if media_root is None:
        return None
    import struct

    try:
        with (media_root / segment.path).open("rb") as handle:
            offset = 0
            while offset < (1 << 20):
                handle.seek(offset)
                header = handle.read(8)
                if len(header) < 8:
                    return None
                size, kind = struct.unpack(">I4s", header)
                if kind == b"moof":
                    return offset or None
                if size < 8:
                    return None
                offset += size
    except OSError:
        return None
    return None


def playlist(camera_id: int, start: dt.datetime, end: dt.datetime, *, media_url: str = "/media/",
             media_root: Path | None = None) -> tuple[str, list[RecordingSegment]]:
    """The VOD playlist of the recorded segments overlapping [start, end), and the segments it names."""
    found = []
    for segment in segments(camera_id, start, end):
        init = init_size(segment, media_root)
        if init and segment.bytes > init:
            found.append((segment, init))
    duration = max((s.end_at - s.start_at).total_seconds() for s, _ in found) if found else 1.0
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-PLAYLIST-TYPE:VOD",
             f"#EXT-X-TARGETDURATION:{max(1, math.ceil(duration))}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-INDEPENDENT-SEGMENTS"]
    for index, (segment, init) in enumerate(found):
        url = media_url + segment.path
        if index:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{segment.start_at.isoformat(timespec='milliseconds')}",
            f'#EXT-X-MAP:URI="{url}",BYTERANGE="{init}@0"',
            f"#EXTINF:{(segment.end_at - segment.start_at).total_seconds():.3f},",
            f"#EXT-X-BYTERANGE:{segment.bytes - init}@{init}",
            url,
        ]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n", [s for s, _ in found]
