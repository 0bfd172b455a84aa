"""Reading the boxes of an MP4 file: where a fragmented MP4's head ends, its sample descriptions and how many
samples its fragments hold (for an export's ``moov`` reserve), and the order of a file's top-level boxes."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

HEAD_BOXES = (b"ftyp", b"moov", b"free", b"styp", b"uuid")


def head_size(path: Path, limit: int = 1 << 20) -> int | None:
    """Bytes of a fragmented MP4's head (ftyp, moov and friends) before its first ``moof``; None when the file
    is not a fragmented MP4 (no ``moov`` followed by a ``moof`` within ``limit`` bytes)."""
    offset, seen_moov = 0, False
    try:
        with path.open("rb") as handle:
            while offset < limit:
                handle.seek(offset)
                header = handle.read(16)
                if len(header) < 8:
                    return None
                size, kind = struct.unpack(">I4s", header[:8])
                if size == 1 and len(header) >= 16:
                    size = struct.unpack(">Q", header[8:16])[0]
                if kind == b"moof":
                    return offset if seen_moov else None
                if kind not in HEAD_BOXES or size < 8:
                    return None
                seen_moov = seen_moov or kind == b"moov"
                offset += size
    except OSError:
        return None
    return None


def _boxes(data: bytes, offset: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, start of payload, end of box) of the boxes in ``data[offset:end]``."""
    end = len(data) if end is None else end
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        header = 8
        if size == 1 and offset + 16 <= end:
            size, header = struct.unpack(">Q", data[offset + 8:offset + 16])[0], 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def _top_level(handle: BinaryIO, limit: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset, size) of a file's top-level boxes, without reading their payloads."""
    offset = 0
    while True:
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header[:8])
        if size == 1 and len(header) >= 16:
            size = struct.unpack(">Q", header[8:16])[0]
        if size < 8 or offset + size > limit:
            return
        yield kind, offset, size
        offset += size


def _read_box(handle: BinaryIO, offset: int, size: int, cap: int = 8 << 20) -> bytes | None:
    if size > cap:
        return None
    handle.seek(offset)
    data = handle.read(size)
    return data if len(data) == size else None


def layout(path: Path) -> list[bytes]:
    """The types of a file's top-level boxes, in order (``[b"ftyp", b"moov", b"free", b"mdat"]``)."""
    with path.open("rb") as handle:
        return [kind for kind, _, _ in _top_level(handle, path.stat().st_size)]


@dataclass(frozen=True)
class Fragments:
    """What a fragmented MP4 says of itself: its sample descriptions (``stsd`` of every track, byte for byte) and
    the number of samples in its fragments (``trun`` counts, every track)."""

    descriptions: bytes
    samples: int


def file_fragments(path: Path) -> Fragments | None:
    """Read a fragmented MP4's ``moov`` and the headers of its ``moof`` boxes (the media is skipped); None when
    the file is not one."""
    try:
        with path.open("rb") as handle:
            descriptions: list[bytes] = []
            samples, seen_moof = 0, False
            for kind, offset, size in _top_level(handle, os.fstat(handle.fileno()).st_size):
                if kind == b"moov":
                    data = _read_box(handle, offset, size)
                    if data is None:
                        return None
                    descriptions += _find(data, (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"))
                elif kind == b"moof":
                    data = _read_box(handle, offset, size)
                    if data is None:
                        return None
                    seen_moof = True
                    for trun in _find(data, (b"moof", b"traf", b"trun")):
                        if len(trun) >= 8:
                            samples += struct.unpack(">I", trun[4:8])[0]
    except OSError:
        return None
    if not descriptions or not seen_moof:
        return None
    return Fragments(b"".join(descriptions), samples)


def _find(data: bytes, path: tuple[bytes, ...]) -> list[bytes]:
    """Payloads of the boxes at ``path`` (from the top of ``data``), e.g. every ``trun`` of every ``traf``."""
    found: list[bytes] = []

    def walk(offset: int, end: int, depth: int) -> None:
        for kind, start, stop in _boxes(data, offset, end):
            if kind != path[depth]:
                continue
            if depth == len(path) - 1:
                found.append(data[start:stop])
            else:
                walk(start, stop, depth + 1)

    walk(0, len(data), 0)
    return found
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"mvex", b"moof", b"traf"})


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int, int]]:
    """The boxes of ``data[start:end]``, one level: (kind, offset, header size, size). A box that runs past the
    end is listed with the size its header says (the caller decides whether it needs its body)."""
    end = len(data) if end is None else end
    found = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                break
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = end - offset
        if size < header:
            raise ValueError(f"bad MP4 box size {size} at {offset}")
        found.append((kind, offset, header, size))
        offset += size
    return found


def _child(data: bytes, parent: tuple[bytes, int, int, int], kind: bytes) -> tuple[bytes, int, int, int] | None:
    _, offset, header, size = parent
    return next((box for box in boxes(data, offset + header, offset + size) if box[0] == kind), None)


class ReadMore(ValueError):
    """The bytes read end inside a ``moof``: read ``needed`` bytes from the start and parse again."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"a moof ends at byte {needed}, past the bytes read")
        self.needed = needed


@dataclass(frozen=True)
class Track:
    id: int
    timescale: int
    handler: bytes  # b"vide", b"soun"
    default_duration: int  # trex's default sample duration


def tracks(init: bytes) -> dict[int, Track]:
    """The tracks of a fragmented MP4's head (ftyp+moov): id, timescale, handler and trex default duration."""
    found: dict[int, Track] = {}
    moov = next((box for box in boxes(init) if box[0] == b"moov"), None)
    if moov is None:
        raise ValueError("no moov in the initialisation segment")
    defaults: dict[int, int] = {}
    mvex = _child(init, moov, b"mvex")
    if mvex is not None:
        for kind, offset, header, _ in boxes(init, mvex[1] + mvex[2], mvex[1] + mvex[3]):
            if kind == b"trex":
                track_id, _, duration = struct.unpack_from(">III", init, offset + header + 4)
                defaults[track_id] = duration
    for trak in (box for box in boxes(init, moov[1] + moov[2], moov[1] + moov[3]) if box[0] == b"trak"):
        tkhd, mdia = _child(init, trak, b"tkhd"), _child(init, trak, b"mdia")
        if tkhd is None or mdia is None:
            continue
        body = tkhd[1] + tkhd[2]
        track_id = struct.unpack_from(">I", init, body + (20 if init[body] == 1 else 12))[0]
        mdhd, hdlr = _child(init, mdia, b"mdhd"), _child(init, mdia, b"hdlr")
        if mdhd is None or hdlr is None:
            continue
        body = mdhd[1] + mdhd[2]
        timescale = struct.unpack_from(">I", init, body + (20 if init[body] == 1 else 12))[0]
        handler = init[hdlr[1] + hdlr[2] + 8:hdlr[1] + hdlr[2] + 12]
        found[track_id] = Track(track_id, timescale, handler, defaults.get(track_id, 0))
    return found


@dataclass(frozen=True)
class TrackRun:
    track_id: int
    decode_time: int  # tfdt: the first sample's decode time, in the track's timescale
    duration: int  # the run's samples together, in the track's timescale
    tfdt_at: int  # where the tfdt box starts in the data
    base_offset_at: int | None  # where tfhd's explicit base-data-offset is (None: relative to the moof)


@dataclass(frozen=True)
class Fragment:
    """One ``moof`` + ``mdat`` of a live segment (a segment may hold several)."""
    moof_at: int
    mdat_end: int  # the end of the mdat that follows
    runs: tuple[TrackRun, ...]


def fragments(data: bytes, size: int, tracks_by_id: dict[int, Track]) -> list[Fragment]:
    """The moof+mdat pairs of a live fMP4 segment whose first bytes are ``data`` (all its moof boxes included)
    and whose length is ``size``; styp and sidx boxes are left out (they describe the live segment alone)."""
    found = []
    top = boxes(data, 0, len(data))
    if len(data) < size and top and top[-1][0] != b"mdat" and top[-1][1] + top[-1][3] + 8 > len(data):
        raise ReadMore(top[-1][1] + top[-1][3] + 8)  # the read ends inside a box (or the next one's header)
    for index, (kind, offset, header, box_size) in enumerate(top):
        if kind != b"moof":
            continue
        if offset + box_size > len(data):
            raise ReadMore(offset + box_size)
        runs = []
        for traf in (b for b in boxes(data, offset + header, offset + box_size) if b[0] == b"traf"):
            tfhd, tfdt = _child(data, traf, b"tfhd"), _child(data, traf, b"tfdt")
            if tfhd is None or tfdt is None:
                raise ValueError("traf without tfhd or tfdt")
            flags = int.from_bytes(data[tfhd[1] + tfhd[2] + 1:tfhd[1] + tfhd[2] + 4], "big")
            at = tfhd[1] + tfhd[2] + 4
            track_id = struct.unpack_from(">I", data, at)[0]
            at += 4
            base_offset_at = None
            if flags & 0x01:
                base_offset_at = at
                at += 8
            if flags & 0x02:
                at += 4
            track = tracks_by_id.get(track_id)
            default_duration = track.default_duration if track else 0
            if flags & 0x08:
                default_duration = struct.unpack_from(">I", data, at)[0]
            body = tfdt[1] + tfdt[2]
            decode_time = struct.unpack_from(">Q" if data[body] == 1 else ">I", data, body + 4)[0]
            duration = 0
            for trun in (b for b in boxes(data, traf[1] + traf[2], traf[1] + traf[3]) if b[0] == b"trun"):
                t_body = trun[1] + trun[2]
                t_flags = int.from_bytes(data[t_body + 1:t_body + 4], "big")
                count = struct.unpack_from(">I", data, t_body + 4)[0]
                at = t_body + 8 + (4 if t_flags & 0x01 else 0) + (4 if t_flags & 0x04 else 0)
                if t_flags & 0x100:
                    stride = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if t_flags & bit)
                    duration += sum(struct.unpack_from(">I", data, at + i * stride)[0] for i in range(count))
                else:
                    duration += count * default_duration
            runs.append(TrackRun(track_id, decode_time, duration, tfdt[1], base_offset_at))
        following = top[index + 1] if index + 1 < len(top) else None
        if following is None or following[0] != b"mdat":
            raise ValueError("moof without the mdat after it")
        found.append(Fragment(offset, min(size, following[1] + following[3]), tuple(runs)))
    return found


def shifted_moof(data: bytes, fragment: Fragment, shift: dict[int, int], moved_by: int) -> bytearray:
    """The fragment's moof with each track's tfdt lowered by ``shift[track]`` (a recording starts at zero) and an
    explicit base-data-offset (if any) moved by ``moved_by`` bytes (where the fragment lands in the new file)."""
    moof_size = boxes(data, fragment.moof_at, len(data))[0][3]
    moof = bytearray(data[fragment.moof_at:fragment.moof_at + moof_size])
    for run in fragment.runs:
        at = run.tfdt_at - fragment.moof_at
        header = 16 if struct.unpack_from(">I", moof, at)[0] == 1 else 8
        value = max(0, run.decode_time - shift.get(run.track_id, 0))
        if moof[at + header] == 1:
            struct.pack_into(">Q", moof, at + header + 4, value)
        else:
            struct.pack_into(">I", moof, at + header + 4, value & 0xFFFFFFFF)
        if run.base_offset_at is not None:
            at = run.base_offset_at - fragment.moof_at
            struct.pack_into(">Q", moof, at, struct.unpack_from(">Q", moof, at)[0] + moved_by)
    return moof
