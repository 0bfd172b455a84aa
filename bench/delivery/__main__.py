"""``python -m bench.delivery``: many HLS viewers through nginx; writes bench/results/delivery.json."""

from __future__ import annotations

import json
import sys

from bench import missed_goals, write_result
from bench.delivery import run

if __name__ == "__main__":
    figures = run()
    path = write_result("delivery", figures)
    print(json.dumps({k: v for k, v in figures.items() if k != "trials"}, indent=2))
    print(f"-> {path}")
    sys.exit(1 if missed_goals(figures) else 0)
