"""Benchmarks: each ``bench/<name>/`` package has ``run() -> dict``; its figures go to ``bench/results/<name>.json``.

``python -m bench`` runs them all; ``python -m bench.<name>`` runs one.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """Write one benchmark's figures, stamped with when and where they were measured."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {
        **figures,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
    }
    path.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n")
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
