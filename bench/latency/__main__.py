"""``python -m bench.latency``: measure live latency in the browser and write bench/results/latency.json."""

from __future__ import annotations

import json

from bench import write_result
from bench.latency import run

if __name__ == "__main__":
    figures = run()
    print(json.dumps(figures, indent=2))
    print(f"-> {write_result('latency', figures)}")
