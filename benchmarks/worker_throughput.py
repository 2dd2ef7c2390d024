"""Worker throughput on no-op jobs: enqueue N, time until the store reports N completed.

Runs the real worker — in this process, or as ``conveyor worker --processes P`` — on
SQLite and PostgreSQL. Usage:

    .venv/bin/python benchmarks/worker_throughput.py [--jobs 20000] [--processes 1 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.noop_app import Noop, build
from benchmarks.quick import drop_postgres, fresh_postgres
from conveyor import Conveyor, JobState

ROOT = Path(__file__).resolve().parents[1]


async def completed(app: Conveyor) -> int:
    return sum(c.count for c in await app.counts() if c.state is JobState.COMPLETED)


async def one_run(url: str, jobs: int, processes: int, concurrency: int) -> float:
    app = build(url)
    for start in range(0, jobs, 10_000):
        await app.enqueue_many(
            "bench.noop", [Noop(i=i) for i in range(start, min(jobs, start + 10_000))]
        )
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "conveyor.cli",
        "--app",
        "benchmarks.noop_app:app",
        "worker",
        "--concurrency",
        str(concurrency),
        "--poll-interval",
        "0.05",
    ]
    if processes > 1:
        command += ["--processes", str(processes)]
    started = time.perf_counter()
    worker = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # Counting is one cheap query on an open connection every 50 ms.
        while await completed(app) < jobs:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        await app.close()
    return jobs / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{args.jobs} no-op jobs, concurrency {args.concurrency} per process, "
        f"{args.runs} runs; jobs/s from worker start (incl. process start-up) to all completed"
    )
    for processes in args.processes:
        for backend in ("sqlite", "postgres"):
            rates = []
            for _ in range(args.runs):
                if backend == "sqlite":
                    with tempfile.TemporaryDirectory() as folder:
                        url = f"sqlite:///{Path(folder) / 'bench.db'}"
                        rates.append(await one_run(url, args.jobs, processes, args.concurrency))
                else:
                    name, url = fresh_postgres()
                    try:
                        rates.append(await one_run(url, args.jobs, processes, args.concurrency))
                    finally:
                        drop_postgres(name)
            median = statistics.median(rates)
            print(
                f"{backend:9} processes={processes}: median {median:>8,.0f} jobs/s "
                f"(min {min(rates):,.0f}, max {max(rates):,.0f})"
            )


if __name__ == "__main__":
    asyncio.run(main())
