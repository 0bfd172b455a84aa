"""``python -m bench.soak [--minutes N] [--cameras N] [--smoke]``: run the soak, write bench/results/soak.json."""

from __future__ import annotations

import argparse
import json
import sys

import bench
from bench.soak import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=None, help="how long the faults run (default 10)")
    parser.add_argument("--cameras", type=int, default=None, help="simulated cameras (default 20)")
    parser.add_argument("--viewers", type=int, default=None, help="viewers in the burst (default 2.5 per camera)")
    parser.add_argument("--seed", type=int, default=13, help="the fault plan's seed")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick check of the harness: 1.5 minutes, 4 cameras, written to soak-smoke.json")
    parser.add_argument("--stale-auth", action="store_true",
                        help="experiment: nginx serves its last media access decision while the portal is down "
                             "(written to soak-stale-auth.json, never soak.json)")
    parser.add_argument("--unsigned", action="store_true",
                        help="comparison: no media link secret, every playlist asks the portal (auth_request); "
                             "written to soak-unsigned.json")
    parser.add_argument("--keep", action="store_true", help="keep the logs (their folder is printed)")
    args = parser.parse_args(argv)
    minutes, cameras, name = args.minutes, args.cameras, "soak"
    if args.smoke:
        minutes, cameras, name = minutes or 1.5, cameras or 4, "soak-smoke"
    if args.stale_auth:
        name += "-stale-auth"
    if args.unsigned:
        name += "-unsigned"
    figures = run(minutes=minutes, cameras=cameras, seed=args.seed, keep=args.keep, viewers=args.viewers,
                  stale_auth=args.stale_auth, signed_links=not args.unsigned)
    path = bench.write_result(name, figures)
    print(json.dumps({k: v for k, v in figures.items() if k not in ("cameras", "faults", "plan")}, indent=2))
    print(f"-> {path}")
    if figures.get("goals_met") is not True:
        print(f"bench.soak: goals missed: {figures.get('goals_missed')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
