"""The Store methods on queues and the worker registry, written once for both dialects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from conveyor.queue import QueueInfo
from conveyor.stats import QueueDepth, WorkerInfo
from conveyor.store.rows import depth_from_row, queues_from_rows, worker_from_row
from conveyor.store.runner import QueryRunner


class QueueAndWorkerMethods(QueryRunner):
    """``pause_queue``, ``resume_queue``, ``list_queues``, ``queue_depths``,
    ``register_worker``, ``heartbeat_worker``, ``list_workers``, ``mark_dead_workers``
    and ``worker_tallies``: one statement each."""

    async def pause_queue(self, *, queue: str, now: datetime) -> bool:
        params = {"queue": queue, "now": self._db.time(now)}
        return bool(await self._db.write("pause_queue", params))

    async def resume_queue(self, *, queue: str, now: datetime) -> bool:
        params = {"queue": queue, "now": self._db.time(now)}
        resumed = bool(await self._db.write("resume_queue", params))
        if resumed:  # its jobs may have waited long: wake its idle workers, as an enqueue does
            self._db.wake([queue])
        return resumed

    async def list_queues(self, *, now: datetime) -> list[QueueInfo]:
        rows = await self._db.read("list_queues", {"now": self._db.time(now)})
        return queues_from_rows(rows, self._db.when, now)

    async def queue_depths(self, *, now: datetime) -> list[QueueDepth]:
        rows = await self._db.read("queue_depths", {"now": self._db.time(now)})
        return [depth_from_row(r, self._db.when) for r in rows]

    async def register_worker(
        self,
        *,
        worker_id: str,
        host: str,
        pid: int,
        queues: Sequence[str] | None,
        concurrency: int,
        now: datetime,
    ) -> None:
        params = {
            "id": worker_id,
            "host": host,
            "pid": pid,
            "queues": None if queues is None else json.dumps(list(queues)),
            "concurrency": concurrency,
            "now": self._db.time(now),
        }
        await self._db.execute("register_worker", params)

    async def heartbeat_worker(
        self,
        *,
        worker_id: str,
        executors: int,
        running: int,
        completed: int,
        state: str,
        now: datetime,
        metrics: str | None = None,
    ) -> None:
        params = {
            "id": worker_id,
            "executors": executors,
            "running": running,
            "completed": completed,
            "state": state,
            "metrics": metrics,
            "now": self._db.time(now),
        }
        await self._db.execute("heartbeat_worker", params)

    async def list_workers(self, *, limit: int = 100) -> list[WorkerInfo]:
        rows = await self._db.read("list_workers", {"limit": limit})
        return [worker_from_row(r, self._db.when) for r in rows]

    async def mark_dead_workers(self, *, before: datetime, now: datetime) -> list[str]:
        params = {"before": self._db.time(before), "now": self._db.time(now)}
        return sorted(str(r["id"]) for r in await self._db.write("mark_dead_workers", params))

    async def worker_tallies(self) -> list[str]:
        return [str(r["metrics"]) for r in await self._db.read("worker_tallies", {})]
