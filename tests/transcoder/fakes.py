"""Fakes for replaying a camera's history: a process that exits when told, a clock that moves when told."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from transcoder.camera import Camera, Timing
from transcoder.ffmpeg import CameraSpec


@dataclass
class FakeProcess:
    argv: list[str]
    pid: int = 1000
    code: int | None = None
    signals: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    exits_on_term: bool = True
    read: int | None = None  # bytes read from the camera (None: unknown, as on a system without /proc)

    def input_bytes(self) -> int | None:
        return self.read

    def poll(self) -> int | None:
        return self.code

    def terminate(self) -> None:
        self.signals.append("TERM")
        if self.exits_on_term and self.code is None:
            self.code = -15

    def kill(self) -> None:
        self.signals.append("KILL")
        if self.code is None:
            self.code = -9

    def read_stderr(self) -> list[str]:
        lines, self.stderr = self.stderr, []
        return lines


class Factory:
    def __init__(self) -> None:
        self.started: list[FakeProcess] = []
        self.exits_on_term = True

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> FakeProcess:
        proc = FakeProcess(list(argv), pid=1000 + len(self.started), exits_on_term=self.exits_on_term)
        self.started.append(proc)
        return proc

    @property
    def last(self) -> FakeProcess:
        return self.started[-1]


class Progress:
    """The playlist's mtime: ``advance()`` is a new segment."""

    def __init__(self) -> None:
        self.value: int | None = None

    def advance(self) -> None:
        self.value = (self.value or 0) + 1

    def __call__(self) -> int | None:
        return self.value


SPEC = CameraSpec(id=7, key="00000abc", source_url="rtsp://admin:s3cret@127.0.0.1:9/stream1")


def make_camera(timing: Timing | None = None, spec: CameraSpec = SPEC, argv=None):  # type: ignore[no-untyped-def]
    factory, progress = Factory(), Progress()
    exits: list[Camera] = []
    camera = Camera(spec, argv=argv or (lambda s, hints: ["ffmpeg", "-i", s.source_url, *sorted(hints)]),
                    factory=factory, env={}, timing=timing or Timing(), progress=progress,
                    rng=random.Random(1), on_exit=exits.append)
    return camera, factory, progress, exits
