"""Schedule fires on SQLite, decided exactly once: the fire's row, its job and its outcome
in one ``BEGIN IMMEDIATE`` transaction, which serialises the schedulers of every process
sharing the file."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from conveyor.schedule import Fire, FireOutcome, FireResult
from conveyor.store.base import NewJob
from conveyor.store.insert import inserted
from conveyor.store.rows import job_from_row
from conveyor.store.schedule import fire_params
from conveyor.store.sqlite.connector import (
    QUERIES,
    Fetched,
    SqliteConnector,
    decode_time,
    encode_time,
    rows,
)


async def record_fire(
    db: SqliteConnector, fire: Fire, job: NewJob | None, allow_overlap: bool, now: datetime
) -> FireResult:
    key = fire_params(fire, encode_time)
    plan = None if job is None else db.plan_insert([job], now=now)

    def run(conn: sqlite3.Connection) -> FireResult:
        outcome = FireOutcome.MISSED if plan is None else FireOutcome.ENQUEUED
        claim = {**key, "outcome": outcome.value, "now": encode_time(now)}
        if not rows(conn, "insert_fire", claim):
            return FireResult(FireOutcome.DUPLICATE)
        if fire.kind == "rule":
            conn.execute(QUERIES["advance_cursor"], key)
        if plan is None:
            return FireResult(FireOutcome.MISSED)
        if not allow_overlap and rows(conn, "unfinished_schedule_job", key):
            skipped = {**key, "outcome": FireOutcome.SKIPPED.value, "job_id": None}
            conn.execute(QUERIES["set_fire_result"], skipped)
            return FireResult(FireOutcome.SKIPPED)
        statement = plan.insert()
        created = Fetched(conn.execute(statement.sql, statement.params)).dicts()
        if (tally := plan.tally(created)) is not None:
            conn.execute(tally.sql, tally.params)
        [(job_id, _, _)] = inserted(created)
        stored = rows(conn, "link_fired_job", {**key, "id": job_id})[0]
        enqueued = {**key, "outcome": FireOutcome.ENQUEUED.value, "job_id": job_id}
        conn.execute(QUERIES["set_fire_result"], enqueued)
        return FireResult(FireOutcome.ENQUEUED, job_from_row(stored, decode_time))

    return await db.run_write(run)
