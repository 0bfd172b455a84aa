"""``python -m bench.transcoder``: measure the worker against simulated cameras, write bench/results/transcoder.json."""

from __future__ import annotations

import json

from bench import write_result
from bench.transcoder import run

if __name__ == "__main__":
    figures = run()
    print(json.dumps(figures, indent=2))
    print(f"-> {write_result('transcoder', figures)}")
