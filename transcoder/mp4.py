"""Reading the top-level boxes of an MP4 file (enough to find where a fragmented MP4's head ends)."""

from __future__ import annotations

import struct
from pathlib import Path

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
