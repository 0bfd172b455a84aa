"""``python -m bench [NAME ...]``: run the ``bench/<name>/`` packages, write their results, exit 1 on a miss.

A package with ``ONLY_WHEN_NAMED = True`` (the soak) runs only when named: ``python -m bench soak``."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import bench


def main(argv: list[str]) -> int:
    wanted = set(argv)
    failed = []
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name == "results" or (wanted and info.name not in wanted):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        run = getattr(module, "run", None)
        if not callable(run) or (getattr(module, "ONLY_WHEN_NAMED", False) and info.name not in wanted):
            continue  # a benchmark that takes the machine for long (the soak) runs only when named
        print(f"== bench.{info.name}", flush=True)
        try:
            figures = run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"bench.{info.name} failed: {exc!r}", file=sys.stderr)
            failed.append(info.name)
            continue
        path = bench.write_result(info.name, figures)
        print(json.dumps(figures, indent=2))
        print(f"-> {path}")
        if figures.get("goals_met") is not True:
            print(f"bench.{info.name}: goals missed: {figures.get('goals_missed') or 'see goals_met'}", file=sys.stderr)
            failed.append(info.name)
    if failed:
        print(f"failed or missed goals: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
