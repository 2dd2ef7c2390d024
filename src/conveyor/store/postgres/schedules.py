"""Schedule fires on PostgreSQL, decided exactly once: the fire's row, its job and its
outcome in one transaction (the fire's primary key refuses a second scheduler)."""

from __future__ import annotations

from datetime import datetime

from conveyor.schedule import Fire, FireOutcome, FireResult
from conveyor.store.base import NewJob
from conveyor.store.insert import inserted
from conveyor.store.postgres.connector import QUERIES, PostgresConnector, decode_time
from conveyor.store.rows import job_from_row
from conveyor.store.schedule import fire_params


def _same(moment: datetime) -> datetime:
    return moment


async def record_fire(
    db: PostgresConnector, fire: Fire, job: NewJob | None, allow_overlap: bool, now: datetime
) -> FireResult:
    key = fire_params(fire, _same)
    outcome = FireOutcome.MISSED if job is None else FireOutcome.ENQUEUED
    async with db.transaction() as cur:
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
        statement = db.plan_insert([job], now=now).insert()
        await cur.execute(statement.sql, dict(statement.params))
        [(job_id, _, _)] = inserted(await cur.fetchall())
        await cur.execute(QUERIES["link_fired_job"], {**key, "id": job_id})
        stored = job_from_row((await cur.fetchall())[0], decode_time)
        enqueued = {**key, "outcome": FireOutcome.ENQUEUED.value, "job_id": job_id}
        await cur.execute(QUERIES["set_fire_result"], enqueued)
        return FireResult(FireOutcome.ENQUEUED, stored)
