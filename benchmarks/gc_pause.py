"""Whether holding the cyclic garbage collector off during a bulk enqueue pays, with and
without a large heap of the host application's own objects alive.

    python -m benchmarks.gc_pause [--jobs 10000] [--runs 5]

Enqueues ``--jobs`` no-op jobs with ``enqueue_many`` into a fresh SQLite file, with the
app's ``pause_gc_during_enqueue`` off and on, alternating, and prints the median seconds
of each. The heap rows keep a million small dicts alive, as a web application's caches
and ORM identity maps do: every collection the enqueue sets off walks them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path

import pydantic

from conveyor import Conveyor, JobContext


class Mail(pydantic.BaseModel):
    n: int
    name: str


async def _enqueue_seconds(jobs: int, paused: bool, folder: Path, run: int) -> float:
    url = f"sqlite:///{folder}/gc-{paused}-{run}.db"
    app = Conveyor(url, pause_gc_during_enqueue=paused)

    @app.task(name="noop")
    async def noop(payload: Mail, ctx: JobContext) -> None:
        return None

    payloads = [{"n": n, "name": f"customer-{n}"} for n in range(jobs)]
    async with app:
        await app.enqueue_many(noop, payloads[:10])  # open, migrate and warm up first
        gc.collect()
        started = time.perf_counter()
        await app.enqueue_many(noop, payloads)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"enqueue_many of {args.jobs} jobs on SQLite, median of {args.runs} runs")
    print(f"{'host heap':>20} {'collector on':>14} {'paused':>10} {'paused/on':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for heap in (0, 1_000_000):
            ballast = [{"id": i} for i in range(heap)]
            seconds: dict[bool, list[float]] = {False: [], True: []}
            for run in range(args.runs):
                for paused in (False, True):
                    seconds[paused].append(
                        asyncio.run(_enqueue_seconds(args.jobs, paused, Path(folder), run))
                    )
            on, off = statistics.median(seconds[False]), statistics.median(seconds[True])
            print(f"{f'{heap:,} objects':>20} {on:>13.3f}s {off:>9.3f}s {off / on:>10.2f}")
            del ballast


if __name__ == "__main__":
    main()
