"""Batches on SQLite: creating one. The counters and the callback live in the database
(migration 0004's trigger), and the shared ``BatchMethods`` read and cancel batches."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from conveyor.batches import Batch, NewBatch
from conveyor.store.base import NewJob
from conveyor.store.batches import batch_from_row
from conveyor.store.insert import enqueue_counts, insert_params
from conveyor.store.runner import Row
from conveyor.store.sqlite.connector import (
    QUERIES,
    SqliteConnector,
    decode_time,
    encode_time,
    rows,
)


async def insert_batch(
    db: SqliteConnector, batch: NewBatch, jobs: Sequence[NewJob], now: datetime
) -> tuple[Batch, bool]:
    """The batch and its jobs, in one transaction so that they appear together; or the
    batch that already holds its idempotency key (and ``False``)."""
    params = {**batch.params(len(jobs)), "now": encode_time(now)}
    children = insert_params(jobs, now, encode_time)
    counts = {"counts": enqueue_counts(jobs)}  # a created batch inserts every child

    def run(conn: sqlite3.Connection) -> tuple[Row, bool]:
        created = rows(conn, "insert_batch", params)
        if not created:
            key = {"idempotency_key": batch.idempotency_key}
            return rows(conn, "get_batch_by_key", key)[0], False
        batch_id = created[0]["batch_id"]
        rows(conn, "insert_batch_jobs", {**children, "batch_id": batch_id})
        conn.execute(QUERIES["tally_enqueued"], counts)
        return rows(conn, "get_batch", {"id": batch_id})[0], True

    row, created = await db.run_write(run)
    if created:
        db.wake(job.queue for job in jobs if job.run_at <= now)
    return batch_from_row(row, decode_time), created
