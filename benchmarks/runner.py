"""Runs the selected workloads on the selected systems and writes the results file.

Each (workload, system) pair gets a fresh system: its own throwaway database or Redis
databases, so one workload's leftovers never slow the next.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from benchmarks import workloads
from benchmarks.database import server_version
from benchmarks.limits import ceilings
from benchmarks.metrics import summary
from benchmarks.systems.base import System
from benchmarks.workloads import Sizes

Workload = Callable[[System, Sizes, int], Awaitable[dict[str, list[float]]]]

WORKLOADS: dict[str, Workload] = {
    "W1": workloads.drain,
    "W2": workloads.latency,
    "W3": workloads.io_bound,
    "W4": workloads.bulk_enqueue,
    "W5": workloads.scale(1),  # W5 at 2 processes is W1; 4 is below
    "W5/4": workloads.scale(4),
    "W6": workloads.growth,
    "W7": workloads.memory,
    "W8": workloads.start_up,
}
# W7 drains 200,000 jobs per run: at a peer's 1,000-3,000 jobs/s that alone would take
# most of the half hour, so by default it runs where its target applies.
DEFAULT_SYSTEMS: dict[str, tuple[str, ...]] = {"W7": ("conveyor-postgres", "conveyor-sqlite")}
ALL_SYSTEMS = ("conveyor-postgres", "conveyor-sqlite", "pgqueuer", "procrastinate", "celery")


def make_system(name: str) -> System:
    if name.startswith("conveyor-"):
        from benchmarks.systems.conveyor import ConveyorSystem

        return ConveyorSystem(name.removeprefix("conveyor-"))
    if name == "pgqueuer":
        from benchmarks.systems.pgqueuer_peer import PgQueuerSystem

        return PgQueuerSystem()
    if name == "procrastinate":
        from benchmarks.systems.procrastinate_peer import ProcrastinateSystem

        return ProcrastinateSystem()
    if name == "celery":
        from benchmarks.systems.celery_peer import CelerySystem

        return CelerySystem()
    raise ValueError(f"unknown system {name!r}; known: {', '.join(ALL_SYSTEMS)}")


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in load],
        "postgresql": server_version(),
    }


async def run(
    *,
    workload_names: Sequence[str],
    system_names: Sequence[str] | None,
    sizes: Sizes,
    runs: int,
    out: Path,
    command: str = "python -m benchmarks",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    started = time.time()
    results: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    errors: list[str] = []
    for workload in workload_names:
        names = system_names or DEFAULT_SYSTEMS.get(workload, ALL_SYSTEMS)
        for name in names:
            system = make_system(name)
            if workload in system.unsupported:
                continue
            log(f"{workload} {name} ...")
            began = time.perf_counter()
            try:
                await system.setup()
                versions.update(await system.versions())
                measured = await WORKLOADS[workload](system, sizes, runs)
            except Exception as exc:  # one system failing must not lose the others
                errors.append(f"{workload} {name}: {exc!r}")
                log(traceback.format_exc())
                continue
            finally:
                await system.teardown()
            for metric, values in measured.items():
                results.setdefault(metric, {})[name] = summary(values)
            log(f"{workload} {name}: {_short(measured)} ({time.perf_counter() - began:.0f} s)")
    if "W1" in workload_names:
        results.setdefault("W1", {}).update(await _limits(sizes.drain_jobs, runs, log))
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_seconds": round(time.time() - started),
        "command": command,
        "machine": {**machine(), "shared": True},
        "versions": versions,
        "runs": runs,
        "sizes": {k: v for k, v in vars(sizes).items() if k != "timeout_seconds"},
        "results": results,
        "errors": errors,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=list) + "\n")
    return document


async def _limits(jobs: int, runs: int, log: Callable[[str], None]) -> dict[str, Any]:
    """W1's ceiling on this machine: each store's statements with no Python in the loop."""
    log("W1 raw limits (benchmarks/limits) ...")
    # pgbench and the sqlite3 shell run as child processes; set-up uses its own event loop.
    measured = await asyncio.to_thread(ceilings, jobs, runs)
    log(f"W1 raw limits: {_short(measured)}")
    return {name: summary(values) for name, values in measured.items()}


def _short(measured: dict[str, list[float]]) -> str:
    return ", ".join(
        f"{metric} " + "/".join(f"{v:,.1f}" for v in values) for metric, values in measured.items()
    )


def run_sync(**kwargs: Any) -> dict[str, Any]:
    return asyncio.run(run(**kwargs))
