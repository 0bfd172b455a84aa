"""``python -m bench.portal``: measure the portal and write bench/results/portal.json."""

from __future__ import annotations

import json
import logging

from bench import write_result
from bench.portal import run

if __name__ == "__main__":
    logging.getLogger("alembic").setLevel(logging.WARNING)
    figures = run()
    print(json.dumps(figures, indent=2))
    print(f"-> {write_result('portal', figures)}")
