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


def fragments(path: Path) -> Fragments | None:
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
