"""Batches on PostgreSQL: a mixin of PostgresStore. The counters and the callback live in
the database (migration 0004's trigger); this creates, reads and cancels batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conveyor.errors import BatchNotFound
from conveyor.job import Job, JobState
from conveyor.store.base import NewJob, Page
from conveyor.store.batches import Batch, NewBatch, batch_from_row
from conveyor.store.insert import jobs_json

Row = dict[str, Any]


class PostgresBatches:
    """``insert_batch``, ``get_batch``, ``list_batches``, ``list_batch_jobs``, ``cancel_batch``."""

    async def _rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        raise NotImplementedError  # PostgresStore's

    @staticmethod
    def _job(row: Row) -> Job:
        raise NotImplementedError  # PostgresStore's

    @staticmethod
    def _when(value: Any) -> datetime:
        raise NotImplementedError  # PostgresStore's

    async def insert_batch(
        self, *, batch: NewBatch, jobs: Sequence[NewJob], now: datetime
    ) -> tuple[Batch, bool]:
        children = jobs_json(jobs, now, lambda moment: moment.isoformat())
        params = {**batch.params(len(jobs)), "jobs": children, "now": now}
        row = (await self._rows("insert_batch", params))[0]
        if row["batch_id"] is not None:
            return await self.get_batch(batch_id=int(row["batch_id"])), True
        held = await self._rows("get_batch_by_key", {"idempotency_key": batch.idempotency_key})
        return batch_from_row(held[0], self._when), False

    async def get_batch(self, *, batch_id: int) -> Batch:
        rows = await self._rows("get_batch", {"id": batch_id})
        if not rows:
            raise BatchNotFound(batch_id)
        return batch_from_row(rows[0], self._when)

    async def list_batches(self, *, parent_id: int) -> list[Batch]:
        rows = await self._rows("list_batches_of_parent", {"parent_id": parent_id})
        return [batch_from_row(r, self._when) for r in rows]

    async def list_batch_jobs(
        self,
        *,
        batch_id: int,
        states: Sequence[JobState] | None,
        after: int | None,
        limit: int,
    ) -> Page:
        params = {
            "batch_id": batch_id,
            "states": None if states is None else [s.value for s in states],
            "after": after,
            "limit": limit + 1,
        }
        rows = await self._rows("list_batch_jobs", params)
        jobs = [self._job(r) for r in rows[:limit]]
        return Page(jobs, jobs[-1].id if len(rows) > limit and jobs else None)

    async def cancel_batch(self, *, batch_id: int, now: datetime) -> list[int]:
        await self.get_batch(batch_id=batch_id)  # raises BatchNotFound
        rows = await self._rows("cancel_batch", {"batch_id": batch_id, "now": now})
        return sorted(int(r["id"]) for r in rows)
