"""``python -m bench.toggle``: measure the public switch and write bench/results/toggle.json."""

from __future__ import annotations

import json

from bench import write_result
from bench.toggle import run

if __name__ == "__main__":
    figures = run()
    print(json.dumps(figures, indent=2))
    print(f"-> {write_result('toggle', figures)}")
