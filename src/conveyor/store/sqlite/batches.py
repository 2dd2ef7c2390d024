"""Batches on SQLite: a mixin of SqliteStore. The counters and the callback live in the
database (migration 0004's trigger); this creates, reads and cancels batches."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from conveyor.errors import BatchNotFound
from conveyor.job import Job, JobState
from conveyor.store.base import NewJob, Page
from conveyor.store.batches import Batch, NewBatch, batch_from_row
from conveyor.store.insert import jobs_json

T = TypeVar("T")
Row = dict[str, Any]


class SqliteBatches:
    """``insert_batch``, ``get_batch``, ``list_batches``, ``list_batch_jobs``, ``cancel_batch``."""

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _rows(conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> list[Row]:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _time(moment: datetime) -> str:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _job(row: Row) -> Job:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _when(value: Any) -> datetime:
        raise NotImplementedError  # SqliteStore's

    async def insert_batch(
        self, *, batch: NewBatch, jobs: Sequence[NewJob], now: datetime
    ) -> tuple[Batch, bool]:
        stamp = self._time(now)
        params = {**batch.params(len(jobs)), "now": stamp}
        children = {"jobs": jobs_json(jobs, now, self._time), "now": stamp}

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
        return batch_from_row(row, self._when), created

    async def get_batch(self, *, batch_id: int) -> Batch:
        rows = await self._read(lambda c: self._rows(c, "get_batch", {"id": batch_id}))
        if not rows:
            raise BatchNotFound(batch_id)
        return batch_from_row(rows[0], self._when)

    async def list_batches(self, *, parent_id: int) -> list[Batch]:
        params = {"parent_id": parent_id}
        rows = await self._read(lambda c: self._rows(c, "list_batches_of_parent", params))
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
            "states": None if states is None else json.dumps([s.value for s in states]),
            "after": after,
            "limit": limit + 1,
        }
        rows = await self._read(lambda c: self._rows(c, "list_batch_jobs", params))
        jobs = [self._job(r) for r in rows[:limit]]
        return Page(jobs, jobs[-1].id if len(rows) > limit and jobs else None)

    async def cancel_batch(self, *, batch_id: int, now: datetime) -> list[int]:
        await self.get_batch(batch_id=batch_id)  # raises BatchNotFound
        params = {"batch_id": batch_id, "now": self._time(now)}
        rows = await self._write(lambda c: self._rows(c, "cancel_batch", params))
        return sorted(int(r["id"]) for r in rows)
