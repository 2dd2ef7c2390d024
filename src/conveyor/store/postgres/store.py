"""PostgresStore: the multi-machine store on PostgreSQL through psycopg 3 and its pools
(``PostgresConnector``). What is written here is what PostgreSQL does its own way: the
schema, the insert pipeline, claims and the lease lifecycle's batched writes, handler
transactions and LISTEN/NOTIFY; the rest is the shared store code."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from conveyor.batches import Batch, NewBatch
from conveyor.errors import LeaseLost, StoreError
from conveyor.job import Job, Lease
from conveyor.metrics.tally import Tally
from conveyor.schedule import Fire, FireResult
from conveyor.store.base import (
    Ack,
    AckOutcome,
    Capabilities,
    Completion,
    Failure,
    Inserted,
    InsertPlan,
    Listener,
    NewJob,
    StoreTx,
)
from conveyor.store.batches import batch_from_row
from conveyor.store.insert import insert_params
from conveyor.store.postgres import schedules
from conveyor.store.postgres.claim import claim_flow, claim_plain
from conveyor.store.postgres.connector import (
    QUERIES,
    PostgresConnector,
    decode_time,
    json_as_text,
    translate,
)
from conveyor.store.postgres.fence import fenced, results_json, returned_ids
from conveyor.store.postgres.listener import PostgresListener
from conveyor.store.postgres.transaction import PostgresTransaction
from conveyor.store.rows import ClaimStamp, claimed_jobs_from_columns
from conveyor.store.runner import Row
from conveyor.store.shared import SharedMethods
from conveyor.store.sql import load_migrations

MIGRATIONS = load_migrations("conveyor.store.postgres")


class PostgresStore(SharedMethods):
    """The job store on PostgreSQL: SKIP LOCKED claims, batched fenced acks, a pool."""

    dialect = "postgresql"
    capabilities = Capabilities(
        listen_notify=True,
        skip_locked=True,
        multi_host=True,
        time_precision=timedelta(microseconds=1),
    )

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: timedelta = timedelta(seconds=5),
    ) -> None:
        self._db = self._pg = PostgresConnector(
            url,
            min_connections=min_connections,
            max_connections=max_connections,
            connect_timeout=connect_timeout,
        )

    @property
    def url(self) -> str:
        return self._pg.url

    @property
    def expected_version(self) -> int:
        return len(MIGRATIONS)

    async def open(self) -> None:
        await self._pg.open()

    async def close(self) -> None:
        await self._pg.close()

    # -- schema -------------------------------------------------------------------------

    async def migrate(self) -> int:
        try:
            async with self._pg.pool().connection() as conn, conn.transaction():
                await conn.execute(QUERIES["begin_migration"])
                await conn.execute(QUERIES["create_migrations_table"])
                cur = await conn.execute(QUERIES["applied_migrations"])
                applied = {row[0] for row in await cur.fetchall()}
                for migration in MIGRATIONS:
                    if migration.version in applied:
                        continue
                    await conn.execute(migration.sql)
                    await conn.execute(
                        QUERIES["record_migration"],
                        {"version": migration.version, "name": migration.name},
                    )
        except psycopg.Error as exc:
            raise StoreError(f"migrating PostgreSQL at {self.url} failed: {exc}") from exc
        return len(MIGRATIONS)

    async def schema_version(self) -> int:
        if not (await self._pg.read("migrations_table_exists", {}))[0]["present"]:
            return 0
        return int((await self._pg.read("schema_version", {}))[0]["version"])

    # -- insert -------------------------------------------------------------------------

    def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> InsertPlan:
        return self._pg.plan_insert(jobs, now=now)

    async def insert_jobs(self, *, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        plan = self._pg.plan_insert(jobs, now=now)
        first = plan.insert()
        inserted = await self._pg.fetch(first.sql, first.params)
        second = plan.existing(inserted)
        existing = [] if second is None else await self._pg.fetch(second.sql, second.params)
        return plan.finish(inserted, existing)

    async def insert_job_chunks(
        self, *, chunks: Iterable[Sequence[NewJob]], now: datetime
    ) -> list[Inserted]:
        # One transaction on one connection in pipeline mode: each chunk's insert goes out
        # as soon as it is built, so the server inserts chunk k while the caller validates
        # and encodes chunk k + 1 (done one after the other, the two each took about half
        # of a bulk enqueue). The results are read once everything is sent.
        jobs: list[NewJob] = []
        cursors: list[psycopg.AsyncCursor[Row]] = []
        try:
            async with (
                self._pg.pool().connection() as conn,
                conn.transaction(),
                conn.pipeline(),
            ):
                for chunk in chunks:
                    if not chunk:
                        continue
                    statement = self._pg.plan_insert(chunk, now=now).insert()
                    cursor = conn.cursor(row_factory=dict_row)
                    await cursor.execute(statement.sql, dict(statement.params))
                    cursors.append(cursor)
                    jobs.extend(chunk)
                plan = self._pg.plan_insert(jobs, now=now)
                plan.prepare()  # while the server still inserts the last chunks
                inserted = [row for cursor in cursors for row in await cursor.fetchall()]
                existing: list[Row] = []
                if (second := plan.existing(inserted)) is not None:
                    cursor = conn.cursor(row_factory=dict_row)
                    json_as_text(cursor)
                    await cursor.execute(second.sql, dict(second.params))
                    existing = await cursor.fetchall()
        except psycopg.Error as exc:
            raise translate(exc, self.url) from exc
        return plan.finish(inserted, existing)

    # -- worker hot path ----------------------------------------------------------------

    async def claim_jobs(
        self,
        *,
        queues: Sequence[str] | None,
        limit: int,
        lease_ttl: timedelta,
        worker_id: str,
        now: datetime | None,
    ) -> list[Job]:
        if limit <= 0 or (queues is not None and not queues):
            return []
        params: dict[str, Any] = {
            "limit": limit,
            "now": now,  # None: the database's clock (queries.sql, claim_jobs)
            "expires_at": None if now is None else now + lease_ttl,
            "lease_ttl": lease_ttl,
            "worker_id": worker_id,
        }
        name = "claim_jobs_any_queue"
        if queues is not None:
            name, params["queues"] = "claim_jobs", list(queues)
        names, claimed, flow_waiting = await claim_plain(self._pg, name, params)
        # Flow jobs fill what plain jobs left (store/postgres/claim.py), when there are
        # any: the probe came back with the claim, the flow claim's locked transaction
        # takes more round trips.
        if len(claimed) < limit and flow_waiting:
            try:
                flow = await claim_flow(self._pg, {**params, "limit": limit - len(claimed)})
                claimed += [tuple(row[name] for name in names) for row in flow]
            except StoreError as exc:
                if not claimed:
                    raise
                # The plain jobs are claimed (committed): hand them out, not lose them.
                logging.getLogger("conveyor.store").warning("flow claim failed: %s", exc)
        if not claimed:
            return []
        columns = dict(zip(names, zip(*claimed, strict=True), strict=True))
        if now is None:
            now = next(t for t in columns["database_now"] if t is not None)
        stamp = ClaimStamp(now.astimezone(UTC), (now + lease_ttl).astimezone(UTC), worker_id)
        return claimed_jobs_from_columns(columns, decode_time, stamp)

    async def ack_jobs(self, *, acks: Sequence[Ack], now: datetime) -> AckOutcome:
        completions = [a for a in acks if isinstance(a, Completion)]
        failures = [a for a in acks if isinstance(a, Failure)]
        done: set[int] = set()
        if completions:
            params = {**fenced(completions), "results": results_json(completions), "now": now}
            done.update(returned_ids(await self._pg.write("complete_jobs", params)))
        if failures:
            params = {
                **fenced(failures),
                "errors": [json.dumps(a.error.to_json()) for a in failures],
                "retry_ats": [a.retry_at for a in failures],
                "now": now,
            }
            done.update(returned_ids(await self._pg.write("fail_jobs", params)))
        return AckOutcome(
            acked=[a.job_id for a in acks if a.job_id in done],
            lost=[LeaseLost(a.job_id, a.token) for a in acks if a.job_id not in done],
        )

    async def extend_leases(
        self, *, leases: Sequence[Lease], ttl: timedelta, now: datetime | None
    ) -> list[LeaseLost]:
        if not leases:
            return []
        params = {**fenced(leases), "expires_at": None if now is None else now + ttl, "ttl": ttl}
        held = set(returned_ids(await self._pg.write("extend_leases", params)))
        return [LeaseLost(le.job_id, le.token) for le in leases if le.job_id not in held]

    async def release_jobs(self, *, leases: Sequence[Lease], now: datetime) -> list[int]:
        if not leases:
            return []
        rows = await self._pg.write("release_jobs", {**fenced(leases), "now": now})
        return sorted(returned_ids(rows))

    async def compact_enqueue_tally(self) -> int:
        rows = await self._pg.write("compact_enqueue_tally", {})
        return int(rows[0]["moved"]) if rows else 0

    async def prune_workers(self, *, before: datetime) -> int:
        async with self._pg.transaction() as cur:
            await cur.execute(QUERIES["prune_workers_returning"], {"before": before})
            pruned = await cur.fetchall()
            if not pruned:
                return 0
            await cur.execute(QUERIES["metric_totals"], {})
            folded = Tally.merged([r["metrics"] for r in await cur.fetchall() + pruned])
            await cur.execute(QUERIES["save_metric_totals"], {"metrics": folded.to_json()})
            return len(pruned)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[StoreTx]:
        try:
            async with self._pg.pool().connection() as conn, conn.transaction():
                yield PostgresTransaction(conn)
        except psycopg.Error as exc:
            raise translate(exc, self.url) from exc

    async def listen(self, *, on_notify: Callable[[str], None]) -> Listener:
        listener = PostgresListener(self._pg.conninfo, self.url, on_notify)
        await listener.start()
        return listener

    async def notify_queues(self, *, queues: Sequence[str]) -> None:
        if queues:
            await self._pg.write("notify_queues", {"queues": list(queues)})

    async def insert_batch(
        self, *, batch: NewBatch, jobs: Sequence[NewJob], now: datetime
    ) -> tuple[Batch, bool]:
        children = insert_params(jobs, now, lambda moment: moment.isoformat())
        params = {**batch.params(len(jobs)), **children}
        row = (await self._pg.write("insert_batch", params))[0]
        if row["batch_id"] is not None:
            return await self.get_batch(batch_id=int(row["batch_id"])), True
        held = await self._pg.read("get_batch_by_key", {"idempotency_key": batch.idempotency_key})
        return batch_from_row(held[0], decode_time), False

    async def record_fire(
        self, *, fire: Fire, job: NewJob | None, allow_overlap: bool, now: datetime
    ) -> FireResult:
        return await schedules.record_fire(self._pg, fire, job, allow_overlap, now)
