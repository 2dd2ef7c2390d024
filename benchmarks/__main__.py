"""``python -m benchmarks``: Conveyor beside PgQueuer, Procrastinate and Celery.

python -m benchmarks                     # everything, 3 runs (what `make bench` does)
python -m benchmarks --quick             # a tenth of the jobs, 1 run
python -m benchmarks -w W1 W2 -s conveyor-postgres pgqueuer
python -m benchmarks --render-only       # rewrite the docs from results/latest.json

Only a full run (every workload and system, full size, 3 runs) replaces
results/latest.json and the published tables; a partial run writes results/partial.json
and leaves the docs alone, so trying one workload never overwrites the published figures.
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
RESULTS = HERE / "results"


def is_full_run(workloads: list[str], systems: list[str] | None, factor: float, runs: int) -> bool:
    """Whether a run measures everything the published table shows, as the table says."""
    return systems is None and set(workloads) == set(WORKLOADS) and factor == 1.0 and runs == 3


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
    parser.add_argument(
        "--out", type=Path, default=None, help="default: results/latest.json for a full run"
    )
    parser.add_argument("--no-render", action="store_true", help="leave the docs alone")
    parser.add_argument("--render-only", action="store_true", help="only rewrite the docs")
    args = parser.parse_args()
    docs, readme = ROOT / "docs" / "benchmarks.md", ROOT / "README.md"
    factor = args.scale if args.scale is not None else (0.1 if args.quick else 1.0)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    full = is_full_run(args.workloads, args.systems, factor, runs)
    if args.out is None:
        args.out = RESULTS / ("latest.json" if full or args.render_only else "partial.json")
    if not args.render_only:
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
    if args.render_only or (full and not args.no_render):
        render(args.out, docs, readme)
        print(f"wrote {docs.relative_to(ROOT)} and the README's table from {args.out.name}")


if __name__ == "__main__":
    main()
