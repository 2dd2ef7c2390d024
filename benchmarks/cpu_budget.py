"""``python -m benchmarks.cpu_budget``: where a job's CPU goes on PostgreSQL, per process.

W1 is bound by this machine's two cores: PostgreSQL, the worker processes and the process
that enqueues share them. This measures the CPU each of them spends per job, in four
phases, so that the drain rate can be read against the ceiling the CPU leaves:

- ``W1 as timed`` (``W3`` with ``--kind sleep``): enqueue and drain together, as
  ``make bench`` times it;
- ``enqueue alone``: the same bulk enqueue into a paused queue;
- ``drain alone``: those jobs drained once the queue is resumed (no insert in the window);
- ``raw limit``: the store's claim and completion statements under pgbench
  (``benchmarks/limits``), no Python at all.

``ceiling`` is what the cores would allow if every one of them were busy with this work
alone: cores / (CPU seconds per job). CPU of PostgreSQL's processes is sampled from
/proc every 20 ms (a backend that exits keeps its last sample).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.limits import postgres_ceiling
from benchmarks.systems.base import JobKind
from benchmarks.systems.conveyor import ConveyorSystem
from benchmarks.workloads import Sizes, _started, wait_completed

SAMPLE_SECONDS = 0.02
WORKLOAD = {"noop": "W1", "sleep": "W3"}


class ServerCpu:
    """CPU seconds used by PostgreSQL's processes since ``start``, those born since too."""

    def __init__(self) -> None:
        self._first: dict[tuple[int, float], float] = {}
        self._last: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, first: bool) -> None:
        for process in psutil.process_iter(["name"]):
            name = process.info["name"] or ""
            if not name.startswith("postgres"):
                continue
            try:
                times = process.cpu_times()
                key = (process.pid, process.create_time())
            except psutil.Error:
                continue
            used = times.user + times.system
            self._first.setdefault(key, used if first else 0.0)
            self._last[key] = used

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample(first=False)

    def start(self) -> None:
        self._sample(first=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._sample(first=False)
        return sum(self._last[key] - self._first[key] for key in self._last)


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


@dataclass(frozen=True)
class Phase:
    name: str
    jobs: int
    seconds: float
    server: float
    workers: float
    enqueuer: float

    def per_job(self, cpu: float) -> float:
        return cpu / self.jobs * 1e6

    @property
    def total(self) -> float:
        return self.server + self.workers + self.enqueuer


@contextmanager
def measured(name: str, jobs: int, workers: list[int], phases: list[Phase]) -> Iterator[None]:
    server = ServerCpu()
    server.start()
    workers_before, own_before = _cpu(workers), time.process_time()
    started = time.perf_counter()
    yield
    seconds = time.perf_counter() - started
    phases.append(
        Phase(
            name,
            jobs,
            seconds,
            server.stop(),
            _cpu(workers) - workers_before,
            time.process_time() - own_before,
        )
    )


async def conveyor_phases(jobs: int, kind: JobKind) -> list[Phase]:
    system = ConveyorSystem("postgres")
    await system.setup()
    phases: list[Phase] = []
    sizes = Sizes()
    try:
        workers = await _started(system, sizes.processes, kind, sizes, Path(os.devnull))
        pids = [p.pid for p in workers.processes]
        try:
            await system.mark()
            with measured(f"{WORKLOAD[kind]} as timed", jobs, pids, phases):
                await system.enqueue_bulk(kind, jobs)
                await wait_completed(system, jobs, workers, sizes.timeout_seconds)
            await system.app.pause_queue("default")
            await system.mark()
            with measured("enqueue alone", jobs, pids, phases):
                await system.enqueue_bulk(kind, jobs)
            with measured("drain alone", jobs, pids, phases):
                await system.app.resume_queue("default")
                await wait_completed(system, jobs, workers, sizes.timeout_seconds)
        finally:
            workers.stop()
    finally:
        await system.teardown()
    return phases


def limit_phase(jobs: int) -> Phase:
    server = ServerCpu()
    server.start()
    started = time.perf_counter()
    ceiling = postgres_ceiling(jobs)
    elapsed = time.perf_counter() - started
    # The ceiling's own clock covers the drain alone; its fill and migration ran before,
    # so the CPU is scaled to the drain's share of the wall time.
    drain_seconds = ceiling.jobs / ceiling.jobs_per_second
    used = server.stop() * drain_seconds / elapsed
    return Phase("raw limit (pgbench)", ceiling.jobs, drain_seconds, used, 0.0, 0.0)


def table(runs: list[list[Phase]], cores: int) -> str:
    lines = [
        "| phase | jobs/s | PostgreSQL µs/job | workers µs/job | enqueuer µs/job"
        " | total µs/job | ceiling on the cores, jobs/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for index, phase in enumerate(runs[0]):
        same = [run[index] for run in runs]

        def median(values: list[float]) -> float:
            return statistics.median(values)

        rate = median([p.jobs / p.seconds for p in same])
        server = median([p.per_job(p.server) for p in same])
        workers = median([p.per_job(p.workers) for p in same])
        enqueuer = median([p.per_job(p.enqueuer) for p in same])
        total = median([p.per_job(p.total) for p in same])
        ceiling = cores / (total / 1e6) if total else 0.0
        lines.append(
            f"| {phase.name} | {rate:,.0f} | {server:.1f} | {workers:.1f} | {enqueuer:.1f}"
            f" | {total:.1f} | {ceiling:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per phase (W1's 20k)")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are shown")
    parser.add_argument(
        "--kind",
        choices=["noop", "sleep"],
        default="noop",
        help="no-op jobs (W1) or jobs that wait 10 ms (W3, with --jobs 5000)",
    )
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        phases = asyncio.run(conveyor_phases(args.jobs, args.kind))
        phases.append(limit_phase(args.jobs))
        runs.append(phases)
    print(table(runs, psutil.cpu_count() or 1))


if __name__ == "__main__":
    main()
