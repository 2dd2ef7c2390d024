"""``python -m benchmarks``: Conveyor beside PgQueuer, Procrastinate and Celery.

python -m benchmarks                     # everything, 3 runs (what `make bench` does)
python -m benchmarks --quick             # a tenth of the jobs, 1 run
python -m benchmarks -w W1 W2 -s conveyor-postgres pgqueuer
python -m benchmarks --render-only       # rewrite the docs from results/latest.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.report import full_table, render
from benchmarks.runner import ALL_SYSTEMS, WORKLOADS, run_sync
from benchmarks.workloads import Sizes

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "-w", "--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS)
    )
    parser.add_argument(
        "-s",
        "--systems",
        nargs="+",
        choices=list(ALL_SYSTEMS),
        default=None,
        help="default: every system (W7: Conveyor only)",
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (3)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the jobs, 1 run")
    parser.add_argument("--scale", type=float, default=None, help="multiply every job count")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--no-render", action="store_true", help="leave the docs alone")
    parser.add_argument("--render-only", action="store_true", help="only rewrite the docs")
    args = parser.parse_args()
    docs, readme = ROOT / "docs" / "benchmarks.md", ROOT / "README.md"
    if not args.render_only:
        factor = args.scale if args.scale is not None else (0.1 if args.quick else 1.0)
        runs = args.runs if args.runs is not None else (1 if args.quick else 3)
        document = run_sync(
            workload_names=args.workloads,
            system_names=args.systems,
            sizes=Sizes().scaled(factor) if factor != 1.0 else Sizes(),
            runs=runs,
            out=args.out,
            command=" ".join(["python -m benchmarks", *sys.argv[1:]]),
        )
        print(full_table(document))
        for error in document["errors"]:
            print("FAILED:", error)
    else:
        print(full_table(json.loads(args.out.read_text())))
    if not args.no_render:
        render(args.out, docs, readme)
        print(f"wrote {docs.relative_to(ROOT)} and the README's table from {args.out.name}")


if __name__ == "__main__":
    main()
