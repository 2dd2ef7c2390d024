"""The schedule methods of PostgresStore: definitions, and fires decided exactly once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from conveyor.errors import StoreError, StoreUnavailable
from conveyor.schedule import Fire, FireOutcome, FireResult, ScheduleSpec
from conveyor.store.base import InsertPlan, NewJob
from conveyor.store.insert import inserted
from conveyor.store.postgres.runner import PostgresRunner, json_as_text
from conveyor.store.rows import job_from_row
from conveyor.store.schedule import fire_params, spec_params
from conveyor.store.schedule_methods import ScheduleMethods
from conveyor.store.sql import load_queries

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

QUERIES = load_queries("conveyor.store.postgres")
Row = dict[str, Any]


def _same(moment: datetime) -> datetime:
    return moment


class PostgresSchedules(PostgresRunner, ScheduleMethods):
    """Mixed into ``PostgresStore``; uses its pool and its insert plan. The one-statement
    methods are the shared ``ScheduleMethods``; these run several in one transaction."""

    _schedule_time = staticmethod(_same)

    if TYPE_CHECKING:

        @property
        def url(self) -> str: ...

        def _require_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]: ...

        def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> InsertPlan: ...

    async def save_schedules(self, *, specs: Sequence[ScheduleSpec], now: datetime) -> None:
        async with self._transaction() as cur:
            for spec in specs:
                await cur.execute(QUERIES["save_schedule"], spec_params(spec, now, _same))

    async def delete_schedules(self, *, names: Sequence[str]) -> int:
        async with self._transaction() as cur:
            await cur.execute(QUERIES["delete_schedule_fires"], {"names": list(names)})
            await cur.execute(QUERIES["delete_schedule_cursors"], {"names": list(names)})
            await cur.execute(QUERIES["delete_schedules"], {"names": list(names)})
            return max(cur.rowcount, 0)

    async def record_fire(
        self, *, fire: Fire, job: NewJob | None, allow_overlap: bool, now: datetime
    ) -> FireResult:
        key = fire_params(fire, _same)
        outcome = FireOutcome.MISSED if job is None else FireOutcome.ENQUEUED
        async with self._transaction() as cur:
            await cur.execute(QUERIES["insert_fire"], {**key, "outcome": outcome, "now": now})
            if not await cur.fetchall():
                return FireResult(FireOutcome.DUPLICATE)
            if fire.kind == "rule":
                await cur.execute(QUERIES["advance_cursor"], key)
            if job is None:
                return FireResult(FireOutcome.MISSED)
            if not allow_overlap:
                await cur.execute(QUERIES["unfinished_schedule_job"], key)
                if await cur.fetchall():
                    skipped = {**key, "outcome": FireOutcome.SKIPPED.value, "job_id": None}
                    await cur.execute(QUERIES["set_fire_result"], skipped)
                    return FireResult(FireOutcome.SKIPPED)
            plan = self.plan_insert([job], now=now)
            statement = plan.insert()
            await cur.execute(statement.sql, dict(statement.params))
            [(job_id, _, _)] = inserted(await cur.fetchall())
            await cur.execute(QUERIES["link_fired_job"], {**key, "id": job_id})
            stored = job_from_row((await cur.fetchall())[0], self._when)
            enqueued = {**key, "outcome": FireOutcome.ENQUEUED.value, "job_id": job_id}
            await cur.execute(QUERIES["set_fire_result"], enqueued)
            return FireResult(FireOutcome.ENQUEUED, stored)

    async def prune_fires(self, *, before: datetime) -> int:
        async with self._transaction() as cur:
            await cur.execute(QUERIES["prune_fires"], {"before": before})
            return max(cur.rowcount, 0)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[psycopg.AsyncCursor[Row]]:
        """A dict-row cursor inside one transaction on one pooled connection."""
        try:
            async with (
                self._require_pool().connection() as conn,
                conn.transaction(),
                conn.cursor(row_factory=dict_row) as cur,
            ):
                json_as_text(cur)
                yield cur
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.url}: {exc}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL at {self.url}: {exc}") from exc
