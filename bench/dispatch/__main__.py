"""``python -m bench.dispatch``: measure report-to-webhook latency and report rates; bench/results/dispatch.json."""

from __future__ import annotations

import json
import logging
import sys

from bench import missed_goals, write_result
from bench.dispatch import run

if __name__ == "__main__":
    logging.getLogger("alembic").setLevel(logging.WARNING)
    figures = run()
    print(json.dumps({k: v for k, v in figures.items() if k != "runs"}, indent=2))
    print(f"-> {write_result('dispatch', figures)}")
    sys.exit(1 if missed_goals(figures) else 0)
