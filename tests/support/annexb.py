"""H.264 Annex B parsing for the simulated cameras (standard library only: used by Debian's Python and tests)."""

from __future__ import annotations

START_CODE = b"\x00\x00\x01"


def split_nal_units(data: bytes) -> list[bytes]:
    """NAL units (without start codes) of an Annex B byte stream."""
    starts = []
    i = data.find(START_CODE)
    while i >= 0:
        starts.append(i + 3)
        i = data.find(START_CODE, i + 3)
    units = []
    for k, start in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        unit = data[start:end].rstrip(b"\x00")
        if unit:
            units.append(unit)
    return units


def access_units(data: bytes, *, drop_sei: bool = True) -> list[tuple[bytes, bool]]:
    """Group NAL units into access units (H.264 7.4.1.2.3): [(Annex B bytes, is keyframe)], rotated so the
    list starts at a keyframe. Access units without a picture are dropped.

    ``drop_sei`` removes SEI NAL units: x264 writes a large "user data unregistered" SEI (its settings) into the
    first frame only, and with it in the stream ffmpeg's RTSP client got a broken timestamp on that frame at
    every loop of the clip (a backwards DTS jump every clip length).
    """
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    has_slice = False
    for unit in split_nal_units(data):
        kind = unit[0] & 0x1F
        if kind == 6 and drop_sei:
            continue
        first_slice = kind in (1, 5) and len(unit) > 1 and unit[1] & 0x80
        if current and (kind == 9 or (has_slice and (kind in (6, 7, 8, 14, 15) or first_slice))):
            groups.append(current)
            current, has_slice = [], False
        current.append(unit)
        has_slice = has_slice or kind in (1, 5)
    if current:
        groups.append(current)
    aus = [(b"".join(b"\x00\x00\x00\x01" + u for u in group), any(u[0] & 0x1F == 5 for u in group))
           for group in groups if any(u[0] & 0x1F in (1, 5) for u in group)]
    first_key = next((i for i, (_, key) in enumerate(aus) if key), None)
    if first_key is None:
        raise ValueError("the clip has no keyframe")
    return aus[first_key:] + aus[:first_key]
