"""Batches on PostgreSQL: a mixin of PostgresStore. The counters and the callback live in
the database (migration 0004's trigger); this creates batches, and the shared
``BatchMethods`` read and cancel them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from conveyor.batches import Batch, NewBatch
from conveyor.store.base import NewJob
from conveyor.store.batch_methods import BatchMethods
from conveyor.store.batches import batch_from_row
from conveyor.store.insert import insert_params
from conveyor.store.postgres.runner import PostgresRunner


class PostgresBatches(PostgresRunner, BatchMethods):
    """``insert_batch``, ``get_batch``, ``list_batches``, ``list_batch_jobs``, ``cancel_batch``."""

    async def insert_batch(
        self, *, batch: NewBatch, jobs: Sequence[NewJob], now: datetime
    ) -> tuple[Batch, bool]:
        children = insert_params(jobs, now, lambda moment: moment.isoformat())
        params = {**batch.params(len(jobs)), **children}
        row = (await self._rows("insert_batch", params))[0]
        if row["batch_id"] is not None:
            return await self.get_batch(batch_id=int(row["batch_id"])), True
        held = await self._rows("get_batch_by_key", {"idempotency_key": batch.idempotency_key})
        return batch_from_row(held[0], self._when), False
