"""Batches on SQLite: a mixin of SqliteStore. The counters and the callback live in the
database (migration 0004's trigger); this creates batches, and the shared
``BatchMethods`` read and cancel them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from conveyor.batches import Batch, NewBatch
from conveyor.store.base import NewJob
from conveyor.store.batch_methods import BatchMethods
from conveyor.store.batches import batch_from_row
from conveyor.store.insert import insert_params
from conveyor.store.runner import Row
from conveyor.store.sqlite.runner import SqliteRunner


class SqliteBatches(SqliteRunner, BatchMethods):
    """``insert_batch``, ``get_batch``, ``list_batches``, ``list_batch_jobs``, ``cancel_batch``."""

    async def insert_batch(
        self, *, batch: NewBatch, jobs: Sequence[NewJob], now: datetime
    ) -> tuple[Batch, bool]:
        stamp = self._time(now)
        params = {**batch.params(len(jobs)), "now": stamp}
        children = insert_params(jobs, now, self._time)

        # One transaction, one writer: the batch row and its children appear together.
        def run(conn: sqlite3.Connection) -> tuple[Row, bool]:
            created = self._rows(conn, "insert_batch", params)
            if not created:
                key = {"idempotency_key": batch.idempotency_key}
                return self._rows(conn, "get_batch_by_key", key)[0], False
            batch_id = created[0]["batch_id"]
            self._rows(conn, "insert_batch_jobs", {**children, "batch_id": batch_id})
            return self._rows(conn, "get_batch", {"id": batch_id})[0], True

        row, created = await self._write(run)
        if created:
            self._wake_queues(job.queue for job in jobs if job.run_at <= now)
        return batch_from_row(row, self._when), created
