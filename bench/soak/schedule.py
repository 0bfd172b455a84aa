"""The soak's faults, planned before the run: what happens, when, to what, for how long.

Pure and seeded, so a run can be repeated and the plan tested without a stack. Times are seconds from the start
of the soak (after every camera is live). Infrastructure faults are spread at fixed fractions of the duration so
each one's effect can be told apart; camera faults hit distinct cameras at seeded times, and each camera's own
outages (dropped or frozen at the source) are what availability and recording gaps are judged against.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

CAMERA_DROP = "camera_drop"  # the camera vanishes: connections closed, new ones refused (404)
CAMERA_FREEZE = "camera_freeze"  # the camera hangs: the connection stays open, no bytes flow
FFMPEG_KILL = "ffmpeg_kill"  # SIGKILL to the ffmpeg reading one camera, wherever it runs
WORKER_KILL = "worker_kill"  # SIGKILL to a transcoder worker; started again after ``duration_s``
PORTAL_RESTART = "portal_restart"  # gunicorn stopped (SIGTERM, graceful) and started again
POSTGRES_RESTART = "postgres_restart"  # PostgreSQL stopped (fast: connections cut), down ``duration_s``, started
JOBS_RESTART = "jobs_restart"  # the jobs process stopped and started again (when there is one)
VIEWER_BURST = "viewer_burst"  # ``count`` public viewers at once for ``duration_s``
REPORT_BURST = "report_burst"  # ``count`` public reports at once (when reporting exists)

SOURCE_FAULTS = (CAMERA_DROP, CAMERA_FREEZE)
DURATIONS_S = (5.0, 10.0, 20.0, 30.0, 45.0, 60.0)  # camera outages, clipped to a tenth of the run


@dataclass(frozen=True)
class Fault:
    at: float  # seconds from the start of the soak
    kind: str
    target: int | str | None = None  # camera number (1-based) or worker name
    duration_s: float = 0.0
    count: int = 0

    @property
    def end(self) -> float:
        return self.at + self.duration_s


@dataclass(frozen=True)
class Plan:
    duration_s: float
    cameras: int
    faults: tuple[Fault, ...] = field(default_factory=tuple)

    def of_kind(self, kind: str) -> list[Fault]:
        return [f for f in self.faults if f.kind == kind]

    def frozen_cameras(self) -> set[int]:
        """Cameras that need a freezable proxy in front of them."""
        return {int(f.target) for f in self.faults if f.kind == CAMERA_FREEZE and f.target is not None}

    def source_outages(self) -> dict[int, list[tuple[float, float]]]:
        """Planned (start, end) of each camera's outages at the source, relative to the soak's start."""
        outages: dict[int, list[tuple[float, float]]] = {}
        for f in self.faults:
            if f.kind in SOURCE_FAULTS and f.target is not None:
                outages.setdefault(int(f.target), []).append((f.at, f.end))
        return {cam: sorted(spans) for cam, spans in outages.items()}


def plan(duration_s: float, cameras: int, *, workers: tuple[str, ...] = ("w1", "w2"), seed: int = 13,
         jobs: bool = False, reports: bool = False, viewers: int = 50) -> Plan:
    """The faults of one soak of ``duration_s`` seconds over ``cameras`` cameras.

    About 30 % of the cameras drop and 20 % freeze (each camera at most once, at least one of each), four
    ffmpeg kills, one worker killed and restarted, one portal restart, one PostgreSQL restart, one burst of
    viewers and, when enabled, one jobs restart and one burst of reports. Every fault ends before the last
    tenth of the run, which is left for recovery.
    """
    if duration_s < 30:
        raise ValueError("a soak lasts at least 30 s")
    if cameras < 2:
        raise ValueError("a soak needs at least two cameras")
    rng = random.Random(seed)
    d = float(duration_s)
    longest = max(3.0, d / 10)
    faults: list[Fault] = [
        Fault(round(0.20 * d, 1), PORTAL_RESTART),
        Fault(round(0.35 * d, 1), WORKER_KILL, target=workers[0], duration_s=round(min(20.0, max(3.0, d / 30)), 1)),
        Fault(round(0.55 * d, 1), POSTGRES_RESTART, duration_s=round(min(10.0, max(2.0, d / 60)), 1)),
        Fault(round(0.70 * d, 1), VIEWER_BURST, duration_s=round(min(30.0, max(5.0, d / 20)), 1), count=viewers),
    ]
    if reports:
        faults.append(Fault(round(0.75 * d, 1), REPORT_BURST, count=max(10, cameras * 2)))
    if jobs:
        faults.append(Fault(round(0.75 * d + min(3.0, d / 100), 1), JOBS_RESTART))  # while reports are delivered
    order = list(range(1, cameras + 1))
    rng.shuffle(order)
    drops = max(1, round(cameras * 0.3))
    freezes = max(1, round(cameras * 0.2))
    for kind, targets in ((CAMERA_DROP, order[:drops]), (CAMERA_FREEZE, order[drops:drops + freezes])):
        for cam in targets:
            length = min(rng.choice(DURATIONS_S), longest)
            at = rng.uniform(0.05 * d, 0.9 * d - length)
            faults.append(Fault(round(at, 1), kind, target=cam, duration_s=round(length, 1)))
    outages = Plan(d, cameras, tuple(faults)).source_outages()
    for fraction in (0.12, 0.45, 0.62, 0.88):
        at = round(fraction * d, 1)  # a camera that is up then (a dropped camera has no ffmpeg to kill)
        up = [c for c in range(1, cameras + 1) if not any(a - 5 <= at <= b + 15 for a, b in outages.get(c, []))]
        faults.append(Fault(at, FFMPEG_KILL, target=rng.choice(up or list(range(1, cameras + 1)))))
    return Plan(d, cameras, tuple(sorted(faults, key=lambda f: (f.at, f.kind))))
