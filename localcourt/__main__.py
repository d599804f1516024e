"""`python -m localcourt up|down`: start or stop a whole court on this machine, loopback only.

`up` starts PostgreSQL, SeaweedFS (S3), two pods and nginx in front, prints the court's URL
and leaves them running; `down` stops them. Everything lives under `--dir` (default `.court`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .services import LocalCourt, stop_from_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcourt", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--dir", default=".court", help="where the court keeps everything (default .court)")
    parser.add_argument("--pods", type=int, default=2, help="pods to run (one per core; default 2)")
    args = parser.parse_args(argv)
    folder = Path(args.dir).resolve()
    if args.command == "down":
        if not stop_from_state(folder):
            print(f"localcourt: no court runs from {folder}")
            return 0
        print(f"localcourt: court in {folder} stopped")
        return 0
    if (folder / "court.json").exists():
        print(f"localcourt: a court already runs from {folder} (make court-down first)", file=sys.stderr)
        return 1
    court = LocalCourt(folder, pods_count=args.pods, pod_args=["--ice-address", "127.0.0.1"])
    try:
        court.start()
    except Exception as exc:  # noqa: BLE001 - the edge: one clear line
        print(f"localcourt: the court could not start: {exc}", file=sys.stderr)
        return 1
    print(f"The court runs at {court.url} (nginx in front of {len(court.pods)} pods)")
    print(f"  clerk's key   {folder / 'keys' / 'admin.key'}")
    print(f"  database      {court.database_url}")
    print(f"  object store  {court.object_store_url}")
    print(f"  logs          {folder}/pod*.log, {folder}/nginx/error.log")
    print("Stop it with: make court-down")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
