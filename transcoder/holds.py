"""What the worker must never delete: the legal holds the portal last gave it, kept on disk.

Two kinds of entries, both from the sync reply: ``held_segments`` (paths the portal's index knows are held) and
``holds`` (time spans per camera, for every camera: this disk may hold footage of cameras that moved to another
worker, and segments the portal has not indexed yet, recorded while it was unreachable). A segment is held when
its path is listed or when its time, read from its name (``recordings/<camera>/<YYYYmmdd>/<HHMMSS>.mp4``, UTC),
may overlap a held span. The list survives restarts (``recordings/.held.json``), so a worker that comes back
while the portal is away keeps its promises; until a worker knows any list at all, it deletes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("pantau.transcoder")
_NAME = re.compile(r"recordings/(?P<camera>[0-9]{1,10})/(?P<day>[0-9]{8})/(?P<time>[0-9]{6})(?:-[0-9]+)?\.mp4")
DEFAULT_MARGIN_S = 120.0  # a segment's end is not in its name: assume it may last this long
FILE_VERSION = 2

Span = tuple[int, datetime, datetime]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def segment_start(path: str) -> tuple[int, datetime] | None:
    match = _NAME.fullmatch(path)
    if match is None:
        return None
    try:
        start = datetime.strptime(match["day"] + match["time"], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(match["camera"]), start


@dataclass(frozen=True)
class HoldList:
    paths: frozenset[str] = frozenset()
    spans: tuple[Span, ...] = ()
    margin_s: float = DEFAULT_MARGIN_S

    @classmethod
    def from_api(cls, held_segments: Any, holds: Any, margin_s: float = DEFAULT_MARGIN_S) -> HoldList:
        paths = frozenset(p for p in held_segments or [] if isinstance(p, str))
        spans: list[Span] = []
        for item in holds if isinstance(holds, list) else []:
            if not isinstance(item, dict):
                continue
            camera, start, end = item.get("camera_id"), _time(item.get("start")), _time(item.get("end"))
            if isinstance(camera, int) and not isinstance(camera, bool) and start and end and end >= start:
                spans.append((camera, start, end))
        return cls(paths, tuple(sorted(spans)), margin_s)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        if path in self.paths:
            return True
        found = segment_start(path)
        if found is None:
            return False
        camera, start = found
        end = start + timedelta(seconds=self.margin_s)
        return any(c == camera and start <= hold_end and end >= hold_start for c, hold_start, hold_end in self.spans)

    def on_disk(self, media_root: Path) -> list[str]:
        """The held segments present under ``media_root`` (listed paths, and the files of held spans' days)."""
        found = {p for p in self.paths if _NAME.fullmatch(p) and (media_root / p).is_file()}
        margin = timedelta(seconds=self.margin_s)
        for camera, start, end in self.spans:
            day = (start - margin).date()
            while day <= end.date():
                folder = media_root / "recordings" / str(camera) / day.strftime("%Y%m%d")
                if folder.is_dir():
                    found.update(rel for f in folder.glob("*.mp4") if (rel := str(f.relative_to(media_root))) in self)
                day += timedelta(days=1)
        return sorted(found)

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths) + len(self.spans)

    # -- on disk --

    def save(self, file: Path) -> None:
        data = {"version": FILE_VERSION, "paths": sorted(self.paths), "margin_s": self.margin_s,
                "spans": [[c, s.isoformat(), e.isoformat()] for c, s, e in self.spans]}
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, file)
        except OSError as exc:
            log.warning("could not keep the list of held segments on disk: %s", exc.strerror or exc)

    @classmethod
    def load(cls, file: Path) -> HoldList | None:
        """The list kept on disk, or None when there is none (then nothing may be deleted)."""
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(data, list):  # the first format: paths only
            return cls(frozenset(p for p in data if isinstance(p, str)))
        if not isinstance(data, dict):
            return None
        holds = [{"camera_id": s[0], "start": s[1], "end": s[2]} for s in data.get("spans") or []
                 if isinstance(s, list) and len(s) == 3]
        margin = data.get("margin_s")
        return cls.from_api(data.get("paths"), holds,
                            float(margin) if isinstance(margin, int | float) else DEFAULT_MARGIN_S)
