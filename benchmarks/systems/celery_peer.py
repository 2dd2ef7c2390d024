"""Celery with a Redis broker: two Redis databases of its own (broker, results), taken
with a lock key so that parallel runs on one Redis server never share them.

Worker processes run the ``solo`` pool (tasks in the worker process itself, no IPC to a
prefork child: Celery's fastest pool for short tasks), or for the 10 ms I/O jobs the
``threads`` pool with 100 threads, since Celery tasks are synchronous.
"""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import version
from pathlib import Path

import redis
from celery import Celery

from benchmarks.systems.base import JobKind, System, Workers, spawn

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
LOCK_TTL_SECONDS = 3 * 3600


class CelerySystem(System):
    name = "celery"
    unsupported = frozenset({"W6"})  # Redis keeps no table of finished jobs to grow
    # One publish per job, ~1,000/s here: 100,000 would take minutes for the same rate.
    max_jobs = 5_000
    max_bulk_jobs = 20_000

    def __init__(self) -> None:
        self._admin = redis.Redis.from_url(f"{REDIS_URL}/0")
        self._pair: int | None = None
        self._results: redis.Redis | None = None

    def _urls(self) -> tuple[str, str]:
        assert self._pair is not None, "setup() first"
        return f"{REDIS_URL}/{2 * self._pair - 1}", f"{REDIS_URL}/{2 * self._pair}"

    async def setup(self) -> None:
        for pair in range(1, 8):  # databases 1..14, in pairs
            if self._admin.set(
                f"conveyor-bench:redis-pair:{pair}", os.getpid(), nx=True, ex=LOCK_TTL_SECONDS
            ):
                self._pair = pair
                break
        else:
            raise RuntimeError("every benchmark Redis database pair is taken")
        broker, backend = self._urls()
        for url in (broker, backend):
            redis.Redis.from_url(url).flushdb()
        # The producer needs no result backend: with one, Celery subscribes to every
        # sent task's result channel, one more round trip per job.
        self._producer = Celery("bench-producer", broker=broker)
        self._results = redis.Redis.from_url(backend)

    async def teardown(self) -> None:
        if self._pair is None:
            return
        for url in self._urls():
            redis.Redis.from_url(url).flushdb()
        self._admin.delete(f"conveyor-bench:redis-pair:{self._pair}")

    def _send_many(self, kind: JobKind, count: int) -> None:
        # No bulk publish in Celery: one message per job, over one pooled producer.
        with self._producer.producer_or_acquire() as producer:
            for i in range(count):
                self._producer.send_task(kind, kwargs={"i": i}, queue="bench", producer=producer)

    async def enqueue_bulk(self, kind: JobKind, count: int) -> None:
        await asyncio.to_thread(self._send_many, kind, count)

    async def enqueue_one(self, kind: JobKind, sent_at: float) -> None:
        await asyncio.to_thread(
            self._producer.send_task, kind, kwargs={"sent_at": sent_at}, queue="bench"
        )

    async def completed(self) -> int:
        assert self._results is not None
        return int(self._results.dbsize())  # one result key per finished task

    def start_workers(self, processes: int, kind: JobKind, latency_file: Path) -> Workers:
        broker, backend = self._urls()
        pool = ["-P", "threads", "-c", "100"] if kind == "sleep" else ["-P", "solo"]
        args = ["-m", "celery", "-A", "benchmarks.systems.celery_app", "worker", *pool]
        args += ["-Q", "bench", "-l", "warning", "--without-gossip", "--without-mingle"]
        args += ["--without-heartbeat"]
        env = {
            "BENCH_CELERY_BROKER": broker,
            "BENCH_CELERY_BACKEND": backend,
            "BENCH_LATENCY_FILE": str(latency_file),
        }
        # Distinct node names, or Celery warns about duplicates and may misbehave.
        workers = Workers()
        for index in range(processes):
            one = spawn([*args, "-n", f"bench{index}@%h"], env, 1)
            workers.processes.extend(one.processes)
        return workers

    async def versions(self) -> dict[str, str]:
        return {
            "celery": version("celery"),
            "redis-py": version("redis"),
            "redis-server": str(self._admin.info("server")["redis_version"]),
        }
