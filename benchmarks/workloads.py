"""The seven workloads. Each takes a set-up system and returns one measurement per run.

Throughput runs start the workers first and let them warm up on a few jobs, so that a
run measures work, not interpreter start-up: the clock starts when the first job of the
run is enqueued and stops when the system's store reports the last one completed.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.systems.base import JobKind, System, Workers

POLL_SECONDS = 0.05  # each poll is one cheap query; 50 ms is ~2% of a 2 s run
START_POLL_SECONDS = 0.002  # W8 measures ~0.5 s: a 50 ms poll would be a tenth of it
SETTLE_SECONDS = 1.0  # after the warm-up: every process is up and idle


@dataclass(frozen=True)
class Sizes:
    """How much work each workload does (the issue's numbers by default)."""

    drain_jobs: int = 20_000
    latency_jobs: int = 500
    latency_per_second: float = 100.0
    io_jobs: int = 5_000
    bulk_jobs: int = 100_000
    history_jobs: int = 1_000_000
    memory_jobs: int = 200_000
    memory_warmup_jobs: int = 10_000
    warmup_jobs: int = 200
    processes: int = 2
    scale_processes: tuple[int, ...] = (1, 2, 4)
    timeout_seconds: float = 900.0

    def scaled(self, factor: float) -> Sizes:
        def n(value: int) -> int:
            return max(10, int(value * factor))

        return Sizes(
            drain_jobs=n(self.drain_jobs),
            latency_jobs=n(self.latency_jobs),
            latency_per_second=self.latency_per_second,
            io_jobs=n(self.io_jobs),
            bulk_jobs=n(self.bulk_jobs),
            history_jobs=n(self.history_jobs),
            memory_jobs=n(self.memory_jobs),
            memory_warmup_jobs=n(self.memory_warmup_jobs),
            warmup_jobs=min(self.warmup_jobs, n(self.warmup_jobs)),
            processes=self.processes,
            scale_processes=self.scale_processes,
            timeout_seconds=self.timeout_seconds,
        )


async def wait_completed(system: System, target: int, workers: Workers, timeout: float) -> None:
    """Poll the store until it reports ``target`` jobs completed since ``system.mark()``.

    Counting since the mark matters: the store's total also holds the warm-up, the earlier
    runs and W6's history, and with the total every run after the first stopped the clock
    as soon as its jobs were enqueued (measuring the enqueue, not the drain)."""
    deadline = time.monotonic() + timeout
    while await system.completed_since_mark() < target:
        workers.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{system.name}: fewer than {target} jobs completed in {timeout} s")
        await asyncio.sleep(POLL_SECONDS)


async def _started(
    system: System, processes: int, kind: JobKind, sizes: Sizes, latency_file: Path
) -> Workers:
    workers = system.start_workers(processes, kind, latency_file)
    try:
        await system.mark()
        await system.enqueue_bulk(kind if kind != "latency" else "noop", sizes.warmup_jobs)
        await wait_completed(system, sizes.warmup_jobs, workers, sizes.timeout_seconds)
        await asyncio.sleep(SETTLE_SECONDS)
    except BaseException:
        workers.stop()
        raise
    return workers


async def _timed_drains(
    system: System, kind: JobKind, count: int, runs: int, processes: int, sizes: Sizes
) -> list[float]:
    """``runs`` drains of ``count`` jobs (or the system's cap) on one set of warmed-up
    workers; jobs/s each."""
    count = min(count, system.max_jobs or count)
    with tempfile.TemporaryDirectory() as folder:
        workers = await _started(system, processes, kind, sizes, Path(folder) / "latency")
        try:
            rates = []
            for _ in range(runs):
                await system.mark()
                started = time.perf_counter()
                await system.enqueue_bulk(kind, count)
                await wait_completed(system, count, workers, sizes.timeout_seconds)
                rates.append(count / (time.perf_counter() - started))
            return rates
        finally:
            workers.stop()


async def drain(system: System, sizes: Sizes, runs: int) -> dict[str, list[float]]:
    """W1: no-op jobs drained by ``sizes.processes`` worker processes, jobs/s."""
    rates = await _timed_drains(system, "noop", sizes.drain_jobs, runs, sizes.processes, sizes)
    return {"W1": rates}


def scale(processes: int) -> Callable[[System, Sizes, int], Awaitable[dict[str, list[float]]]]:
    """W5: W1 with another number of worker processes."""

    async def run(system: System, sizes: Sizes, runs: int) -> dict[str, list[float]]:
        rates = await _timed_drains(system, "noop", sizes.drain_jobs, runs, processes, sizes)
        return {f"W5/{processes}": rates}

    return run


async def growth(system: System, sizes: Sizes, runs: int) -> dict[str, list[float]]:
    """W6: W1 on a store that already holds ``history_jobs`` finished jobs."""
    await system.seed_finished(sizes.history_jobs)
    rates = await _timed_drains(system, "noop", sizes.drain_jobs, runs, sizes.processes, sizes)
    return {"W6": rates}


async def io_bound(system: System, sizes: Sizes, runs: int) -> dict[str, list[float]]:
    """W3: jobs that wait 10 ms on I/O, jobs/s."""
    rates = await _timed_drains(system, "sleep", sizes.io_jobs, runs, sizes.processes, sizes)
    return {"W3": rates}


async def bulk_enqueue(system: System, sizes: Sizes, runs: int) -> dict[str, list[float]]:
    """W4: enqueue ``bulk_jobs`` no-op jobs (no workers), jobs/s."""
    count = min(sizes.bulk_jobs, system.max_bulk_jobs or sizes.bulk_jobs)
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        await system.enqueue_bulk("noop", count)
        rates.append(count / (time.perf_counter() - started))
    return {"W4": rates}


async def latency(system: System, sizes: Sizes, runs: int) -> dict[str, list[float]]:
    """W2: jobs enqueued one at a time at a steady rate to idle workers; enqueue->start
    percentiles in milliseconds, one value per run."""
    out: dict[str, list[float]] = {"W2 p50": [], "W2 p95": [], "W2 p99": []}
    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "latency"
        record.touch()
        workers = await _started(system, sizes.processes, "latency", sizes, record)
        try:
            for _ in range(runs):
                record.write_text("")
                await system.mark()
                began = time.perf_counter()
                for index in range(sizes.latency_jobs):
                    due = began + index / sizes.latency_per_second
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    await system.enqueue_one("latency", time.time())
                await wait_completed(system, sizes.latency_jobs, workers, sizes.timeout_seconds)
                waits = sorted(float(line) * 1000 for line in record.read_text().split())
                cuts = statistics.quantiles(waits, n=100, method="inclusive")
                out["W2 p50"].append(cuts[49])
                out["W2 p95"].append(cuts[94])
                out["W2 p99"].append(cuts[98])
        finally:
            workers.stop()
    return out


async def memory(system: System, sizes: Sizes, runs: int) -> dict[str, list[float]]:
    """W7: worker RSS after a warm-up and after ``memory_jobs`` more jobs (fresh workers
    each run); growth in percent and the final RSS in MiB."""
    out: dict[str, list[float]] = {"W7 growth": [], "W7 rss": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            workers = await _started(
                system, sizes.processes, "noop", sizes, Path(folder) / "latency"
            )
            try:
                await system.mark()
                await system.enqueue_bulk("noop", sizes.memory_warmup_jobs)
                await wait_completed(
                    system, sizes.memory_warmup_jobs, workers, sizes.timeout_seconds
                )
                before = workers.rss_bytes()
                await system.mark()
                await system.enqueue_bulk("noop", sizes.memory_jobs)
                await wait_completed(system, sizes.memory_jobs, workers, sizes.timeout_seconds)
                after = workers.rss_bytes()
            finally:
                workers.stop()
        out["W7 growth"].append(100.0 * (after - before) / before)
        out["W7 rss"].append(after / 2**20)
    return out


async def start_up(system: System, sizes: Sizes, runs: int) -> dict[str, list[float]]:
    """W8: from starting ``sizes.processes`` worker processes to the first completed job,
    with one job waiting before they start; milliseconds, fresh processes each run."""
    times: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):
            await system.mark()
            await system.enqueue_bulk("noop", 1)
            started = time.perf_counter()
            workers = system.start_workers(sizes.processes, "noop", Path(folder) / "latency")
            try:
                deadline = started + sizes.timeout_seconds
                while await system.completed_since_mark() < 1:
                    workers.check_alive()
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"{system.name}: no job completed after start-up")
                    await asyncio.sleep(START_POLL_SECONDS)
                times.append((time.perf_counter() - started) * 1000)
            finally:
                workers.stop()
    return {"W8": times}
