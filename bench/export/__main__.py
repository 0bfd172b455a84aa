"""``python -m bench.export``: time a 10-minute export against a bare concat, write bench/results/export.json."""

from __future__ import annotations

import json
import sys

from bench import missed_goals, write_result
from bench.export import run

if __name__ == "__main__":
    figures = run()
    print(json.dumps(figures, indent=2))
    print(f"-> {write_result('export', figures)}")
    sys.exit(0 if figures.get("goals_met") and not missed_goals(figures) else 1)
