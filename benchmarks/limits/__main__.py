"""``python -m benchmarks.limits``: print this machine's raw claim-and-complete ceiling."""

from __future__ import annotations

import argparse
import statistics

from benchmarks.limits import ceilings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs drained per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per store (median)")
    args = parser.parse_args()
    for name, rates in ceilings(args.jobs, args.runs).items():
        median = statistics.median(rates)
        print(f"{name:<15} {median:>10,.0f} jobs/s  (median of {args.runs}, {args.jobs} jobs)")


if __name__ == "__main__":
    main()
