"""The adapter every benchmarked system implements, and the shared worker-process plumbing.

An adapter owns one throwaway store (a fresh PostgreSQL database, an SQLite file, a Redis
database), enqueues the benchmark's three job kinds, starts N worker *processes* in that
system's fastest documented configuration, and reads back from the store - never from
logs - how many jobs have completed.
"""

from __future__ import annotations

import abc
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

ROOT = Path(__file__).resolve().parents[2]

# noop: returns at once. sleep: awaits 10 ms. latency: appends (start - enqueue) seconds
# to the file named by BENCH_LATENCY_FILE, then returns.
JobKind = Literal["noop", "sleep", "latency"]
KINDS: tuple[JobKind, ...] = ("noop", "sleep", "latency")


@dataclass
class Workers:
    """Worker processes started by an adapter (one OS process per worker)."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def rss_bytes(self) -> int:
        """Resident memory of every worker process and its children, summed."""
        total = 0
        for proc in self.processes:
            try:
                parent = psutil.Process(proc.pid)
                total += parent.memory_info().rss
                total += sum(c.memory_info().rss for c in parent.children(recursive=True))
            except psutil.NoSuchProcess:
                continue
        return total

    def check_alive(self) -> None:
        for proc in self.processes:
            if proc.poll() is not None:
                raise RuntimeError(f"worker process {proc.args!r} exited with {proc.returncode}")

    def stop(self, timeout: float = 30.0) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def spawn(
    args: Sequence[str], env: dict[str, str], count: int, log_dir: Path | None = None
) -> Workers:
    """Start ``count`` copies of ``python args...`` with the project on the path."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    workers = Workers()
    for index in range(count):
        out = subprocess.DEVNULL
        if log_dir is not None:
            out = open(log_dir / f"worker-{index}.log", "ab")  # noqa: SIM115 - lives with the child
        workers.processes.append(
            subprocess.Popen(
                [sys.executable, *args],
                env=full_env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT if log_dir is not None else subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C on the harness must not reach the workers
            )
        )
    return workers


class System(abc.ABC):
    """One benchmarked job system, bound to one throwaway store."""

    name: str
    # Workloads a system cannot express (e.g. a history of finished jobs in Redis).
    unsupported: frozenset[str] = frozenset()
    # A slow system measures its rates on fewer jobs, or it alone would take most of the
    # half-hour budget: max_jobs caps the jobs of W1, W3, W5 and W6, max_bulk_jobs W4's.
    max_jobs: int | None = None
    max_bulk_jobs: int | None = None

    @abc.abstractmethod
    async def setup(self) -> None:
        """Create the throwaway store and install the system's schema."""

    @abc.abstractmethod
    async def teardown(self) -> None:
        """Drop the throwaway store."""

    @abc.abstractmethod
    async def enqueue_bulk(self, kind: JobKind, count: int) -> None:
        """Enqueue ``count`` jobs the fastest way the system offers for many jobs."""

    @abc.abstractmethod
    async def enqueue_one(self, kind: JobKind, sent_at: float) -> None:
        """Enqueue one job carrying ``sent_at`` (``time.time()``)."""

    @abc.abstractmethod
    async def completed(self) -> int:
        """How many jobs the store reports as completed."""

    async def mark(self) -> None:
        """Start counting completions afresh (called when no job is pending)."""
        self._mark = await self.completed()

    async def completed_since_mark(self) -> int:
        """Jobs completed since ``mark()``. Adapters whose store keeps a history override
        this with a query that does not count the history again on every poll."""
        return await self.completed() - self._mark

    @abc.abstractmethod
    def start_workers(self, processes: int, kind: JobKind, latency_file: Path) -> Workers:
        """Start ``processes`` worker processes tuned for jobs of ``kind``."""

    async def seed_finished(self, count: int) -> None:
        """Add ``count`` finished jobs to the store's history (for W6)."""
        raise NotImplementedError

    async def versions(self) -> dict[str, str]:
        """The versions of the system's packages, for the report."""
        return {}
