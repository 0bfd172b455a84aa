"""Benchmarks: each ``bench/<name>/`` package has ``run() -> dict``; its figures go to ``bench/results/<name>.json``.

``python -m bench`` runs them all (``python -m bench NAME ...`` some) and exits non-zero when a benchmark fails
or misses a goal; ``python -m bench.<name>`` runs one.

The figures a ``run()`` returns must include:

- ``goals``: ``{figure: {"max": x}}`` or ``{"min": x}`` (a figure is a key of the result, dotted for nesting);
- ``settings``: what the run used (camera counts, durations, segment lengths, rounds, ...);
- the spread of every goal figure over at least three runs or trials (e.g. ``runs: [...]`` or ``_p50/_p95``).

``write_result`` adds ``goals_met`` (checked here, so a benchmark cannot pass a goal it missed), the commit
measured (and whether the tree had uncommitted changes), when, and on what machine.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Self

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent


def figure(figures: dict[str, Any], dotted: str) -> Any:
    value: Any = figures
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def missed_goals(figures: dict[str, Any]) -> list[str]:
    """Each goal not met, as a sentence; a missing or non-numeric figure misses its goal."""
    missed = []
    for name, goal in (figures.get("goals") or {}).items():
        if not isinstance(goal, dict):
            continue  # a legacy plain-number goal is checked by its benchmark's own goals_met
        value = figure(figures, name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            missed.append(f"{name}: no figure")
            continue
        if "max" in goal and value > goal["max"]:
            missed.append(f"{name} = {value} > {goal['max']}")
        if "min" in goal and value < goal["min"]:
            missed.append(f"{name} = {value} < {goal['min']}")
    return missed


def commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"sha": git("rev-parse", "HEAD") or None, "dirty": dirty}


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """Write one benchmark's figures, stamped with the commit, when and where they were measured."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    missed = missed_goals(figures)
    if any(isinstance(g, dict) for g in (figures.get("goals") or {}).values()):
        figures["goals_met"] = bool(figures.get("goals_met", True)) and not missed
        figures["goals_missed"] = missed
    body = {
        **figures,
        "commit": commit(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus(),
                    "loadavg_at_end": list(os.getloadavg())},
    }
    path.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n")
    return path


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class Stack:
    """A benchmark's running system: ``start()`` brings it up, ``close()`` takes everything down (also after a
    failed start); use it as ``with SomeStack(...) as stack:``."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()
