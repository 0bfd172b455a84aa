"""``python -m bench.console``: measure the operators' queue and write bench/results/console.json."""

from __future__ import annotations

import json
import logging
import sys

from bench import missed_goals, write_result
from bench.console import run

if __name__ == "__main__":
    logging.getLogger("alembic").setLevel(logging.WARNING)
    figures = run()
    print(json.dumps(figures, indent=2))
    print(f"-> {write_result('console', figures)}")
    sys.exit(1 if missed_goals(figures) else 0)
