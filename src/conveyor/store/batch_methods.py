"""The batch methods of the Store that read and cancel, written once for both dialects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from conveyor.batches import Batch, BatchPage
from conveyor.errors import BatchNotFound
from conveyor.job import JobState, Page
from conveyor.store.batches import batch_from_row
from conveyor.store.runner import QueryRunner

# Not in store/batches.py: store/base.py imports that module, and these need base.Page.


class BatchMethods(QueryRunner):
    """``get_batch``, ``list_recent_batches``, ``list_batches``, ``list_batch_jobs`` and
    ``cancel_batch``; each dialect adds its ``insert_batch`` (one statement on
    PostgreSQL, several in one transaction on SQLite)."""

    async def get_batch(self, *, batch_id: int) -> Batch:
        rows = await self._db.read("get_batch", {"id": batch_id})
        if not rows:
            raise BatchNotFound(batch_id)
        return batch_from_row(rows[0], self._db.when)

    async def list_recent_batches(
        self, *, unfinished_only: bool, after: int | None, limit: int
    ) -> BatchPage:
        params = {"unfinished": unfinished_only, "after": after, "limit": limit + 1}
        rows = await self._db.read("list_batches", params)
        batches = [batch_from_row(r, self._db.when) for r in rows[:limit]]
        return BatchPage(batches, batches[-1].id if len(rows) > limit and batches else None)

    async def list_batches(self, *, parent_id: int) -> list[Batch]:
        rows = await self._db.read("list_batches_of_parent", {"parent_id": parent_id})
        return [batch_from_row(r, self._db.when) for r in rows]

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
            "states": None if states is None else self._db.array([s.value for s in states]),
            "after": after,
            "limit": limit + 1,
        }
        rows = await self._db.read("list_batch_jobs", params)
        jobs = [self._job(r) for r in rows[:limit]]
        return Page(jobs, jobs[-1].id if len(rows) > limit and jobs else None)

    async def cancel_batch(self, *, batch_id: int, now: datetime) -> list[int]:
        await self.get_batch(batch_id=batch_id)  # raises BatchNotFound
        params = {"batch_id": batch_id, "now": self._db.time(now)}
        rows = await self._db.write("cancel_batch", params)
        return sorted(int(r["id"]) for r in rows)
