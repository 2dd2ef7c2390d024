"""The schedule methods of SqliteStore: definitions, and fires decided exactly once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor.schedule import Fire, FireOutcome, FireResult, ScheduleSpec
from conveyor.store.base import InsertPlan, NewJob
from conveyor.store.insert import inserted
from conveyor.store.rows import job_from_row
from conveyor.store.schedule import fire_params, spec_params
from conveyor.store.schedule_methods import ScheduleMethods
from conveyor.store.sql import load_queries
from conveyor.store.sqlite.runner import SqliteRunner

T = TypeVar("T")
QUERIES = load_queries("conveyor.store.sqlite")
Row = dict[str, Any]


def _encode_time(moment: datetime) -> str:
    # The store's fixed-width UTC text (see sqlite.store.encode_time).
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _as_dicts(cursor: sqlite3.Cursor) -> list[Row]:
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _rows(conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> list[Row]:
    return _as_dicts(conn.execute(QUERIES[name], params))


class SqliteSchedules(SqliteRunner, ScheduleMethods):
    """Mixed into ``SqliteStore``. Each write runs in one ``BEGIN IMMEDIATE`` transaction,
    which serialises the schedulers of every process sharing the file. The one-statement
    methods are the shared ``ScheduleMethods``; these run several in one transaction."""

    _schedule_time = staticmethod(_encode_time)

    if TYPE_CHECKING:

        def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> InsertPlan: ...

    async def save_schedules(self, *, specs: Sequence[ScheduleSpec], now: datetime) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for spec in specs:
                conn.execute(QUERIES["save_schedule"], spec_params(spec, now, _encode_time))

        await self._write(run)

    async def delete_schedules(self, *, names: Sequence[str]) -> int:
        params = {"names": json.dumps(list(names))}

        def run(conn: sqlite3.Connection) -> int:
            # Foreign keys are off in SQLite: the fires go explicitly, as on PostgreSQL.
            conn.execute(QUERIES["delete_schedule_fires"], params)
            conn.execute(QUERIES["delete_schedule_cursors"], params)
            return conn.execute(QUERIES["delete_schedules"], params).rowcount

        return await self._write(run)

    async def record_fire(
        self, *, fire: Fire, job: NewJob | None, allow_overlap: bool, now: datetime
    ) -> FireResult:
        key = fire_params(fire, _encode_time)
        plan = None if job is None else self.plan_insert([job], now=now)

        def run(conn: sqlite3.Connection) -> FireResult:
            outcome = FireOutcome.MISSED if plan is None else FireOutcome.ENQUEUED
            claim = {**key, "outcome": outcome.value, "now": _encode_time(now)}
            if not _rows(conn, "insert_fire", claim):
                return FireResult(FireOutcome.DUPLICATE)
            if fire.kind == "rule":
                conn.execute(QUERIES["advance_cursor"], key)
            if plan is None:
                return FireResult(FireOutcome.MISSED)
            if not allow_overlap and _rows(conn, "unfinished_schedule_job", key):
                skipped = {**key, "outcome": FireOutcome.SKIPPED.value, "job_id": None}
                conn.execute(QUERIES["set_fire_result"], skipped)
                return FireResult(FireOutcome.SKIPPED)
            statement = plan.insert()
            [(job_id, _, _)] = inserted(_as_dicts(conn.execute(statement.sql, statement.params)))
            stored = _rows(conn, "link_fired_job", {**key, "id": job_id})[0]
            enqueued = {**key, "outcome": FireOutcome.ENQUEUED.value, "job_id": job_id}
            conn.execute(QUERIES["set_fire_result"], enqueued)
            return FireResult(FireOutcome.ENQUEUED, job_from_row(stored, self._when))

        return await self._write(run)

    async def prune_fires(self, *, before: datetime) -> int:
        params = {"before": _encode_time(before)}
        return await self._write(lambda conn: conn.execute(QUERIES["prune_fires"], params).rowcount)
