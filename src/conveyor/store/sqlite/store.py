"""SqliteStore: the embedded store, one file, one connection and one thread per process
(``SqliteConnector``). What is written here is what SQLite does its own way: the schema,
the insert pipeline, the lease lifecycle's batched writes, handler transactions and
wake-ups; the rest is the shared store code."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from conveyor.batches import Batch, NewBatch
from conveyor.errors import LeaseLost, StoreError
from conveyor.job import Job, JobState, Lease
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
from conveyor.store.rows import ClaimStamp, claimed_jobs_from_columns
from conveyor.store.shared import SharedMethods
from conveyor.store.sql import load_migrations
from conveyor.store.sqlite import batches, schedules
from conveyor.store.sqlite.connector import (
    QUERIES,
    Fetched,
    SqliteConnector,
    database_now,
    decode_time,
    encode_time,
    rows,
    translate,
)
from conveyor.store.sqlite.flow import claim_flow
from conveyor.store.sqlite.transaction import SqliteTransaction
from conveyor.store.sqlite.wakeup import WakeListener

MIGRATIONS = load_migrations("conveyor.store.sqlite")


def split_statements(script: str) -> list[str]:
    """Split a migration script into statements, so it can run inside our transaction
    (``executescript`` would commit first)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in pending.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement in migration: {pending[:80]!r}")
    return statements


def _fenced(
    name: str, jobs: Sequence[list[Any]], params: dict[str, Any]
) -> Callable[[sqlite3.Connection], set[int]]:
    """One of the fenced batch updates of queries.sql, to run inside a write transaction;
    ``jobs`` holds a list per job, its id and lease token first. The update returns the
    ids of the jobs it changed. The JSON is encoded here, before the transaction takes
    the write lock that every other writer waits for."""
    if not jobs:
        return lambda conn: set()
    bound = {**params, "jobs": json.dumps(jobs)}
    return lambda conn: {int(row[0]) for row in conn.execute(QUERIES[name], bound)}


class SqliteStore(SharedMethods):
    """The embedded job store on one SQLite file (WAL mode)."""

    dialect = "sqlite"
    capabilities = Capabilities(
        listen_notify=sys.platform != "win32",  # Unix datagram sockets (store/sqlite/wakeup.py)
        skip_locked=False,
        multi_host=False,
        time_precision=timedelta(microseconds=1),
    )

    def __init__(self, path: str | Path, *, busy_timeout: timedelta = timedelta(seconds=30)):
        self.path = str(path)
        self._db = self._sqlite = SqliteConnector(self.path, busy_timeout=busy_timeout)

    @property
    def url(self) -> str:
        return self._sqlite.url

    @property
    def expected_version(self) -> int:
        return len(MIGRATIONS)

    async def open(self) -> None:
        await self._sqlite.open()

    async def close(self) -> None:
        await self._sqlite.close()

    # -- schema -------------------------------------------------------------------------

    async def migrate(self) -> int:
        def run() -> int:
            conn = self._sqlite.connection()
            try:
                conn.execute(QUERIES["begin_migration"])
                try:
                    conn.execute(QUERIES["create_migrations_table"])
                    applied = {r[0] for r in conn.execute(QUERIES["applied_migrations"])}
                    for migration in MIGRATIONS:
                        if migration.version in applied:
                            continue
                        for statement in split_statements(migration.sql):
                            conn.execute(statement)
                        conn.execute(
                            QUERIES["record_migration"],
                            {"version": migration.version, "name": migration.name},
                        )
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"migrating {self.url} failed: {exc}") from exc
            return len(MIGRATIONS)

        return await self._sqlite.call(run)

    async def schema_version(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            if not rows(conn, "migrations_table_exists", {})[0]["present"]:
                return 0
            return int(rows(conn, "schema_version", {})[0]["version"])

        return await self._sqlite.run_read(run)

    # -- insert -------------------------------------------------------------------------

    def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> InsertPlan:
        return self._sqlite.plan_insert(jobs, now=now)

    async def insert_jobs(self, *, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        # The statement's parameters and the jobs to return are built before and after
        # the write transaction, not inside it: every other writer waits for its lock
        # (building them inside would hold it longer).
        plan = self._sqlite.plan_insert(jobs, now=now)
        first = plan.insert()
        plan.prepare()
        # Without keys every job is created: its count is known before the insert.
        unkeyed_tally = None if plan.keyed else plan.tally([])

        def run(conn: sqlite3.Connection) -> tuple[Fetched, list[dict[str, Any]]]:
            inserted = Fetched(conn.execute(first.sql, first.params))
            if unkeyed_tally is not None:  # nothing can conflict: no need for row dicts
                conn.execute(unkeyed_tally.sql, unkeyed_tally.params)
                return inserted, []
            rows = inserted.dicts()
            if (tally := plan.tally(rows)) is not None:
                conn.execute(tally.sql, tally.params)
            second = plan.existing(rows)
            existing = (
                [] if second is None else Fetched(conn.execute(second.sql, second.params)).dicts()
            )
            return inserted, existing

        inserted, existing = await self._sqlite.run_write(run)
        outcome = plan.finish(inserted.dicts(), existing)
        self._db.wake(
            item.job.queue
            for item in outcome
            if item.created and item.job.state is JobState.AVAILABLE
        )
        return outcome

    async def insert_job_chunks(
        self, *, chunks: Iterable[Sequence[NewJob]], now: datetime
    ) -> list[Inserted]:
        # Built whole and inserted as one batch: overlapping the two would take handing
        # the chunks to the store's thread as they are built (not done).
        return await self.insert_jobs(jobs=[job for chunk in chunks for job in chunk], now=now)

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
        now = now or database_now()
        if limit <= 0 or (queues is not None and not queues):
            return []
        params: dict[str, Any] = {
            "limit": limit,
            "now": encode_time(now),
            "expires_at": encode_time(now + lease_ttl),
            "worker_id": worker_id,
        }
        name = "claim_jobs_any_queue"
        if queues is not None:
            name, params["queues"] = "claim_jobs", json.dumps(list(queues))

        def run(conn: sqlite3.Connection) -> tuple[list[str], list[tuple[Any, ...]]]:
            # Tuples and their column names: the jobs are built after the commit, outside
            # the write lock that every other process waits for.
            cursor = conn.execute(QUERIES[name], params)
            names = [d[0] for d in cursor.description]
            claimed: list[tuple[Any, ...]] = cursor.fetchall()
            # Flow jobs fill what plain jobs left (store/sqlite/flow.py), when there are any.
            if len(claimed) < limit and conn.execute(QUERIES["flow_jobs_waiting"]).fetchone():
                flow = claim_flow(conn, {**params, "limit": limit - len(claimed)})
                claimed += [tuple(row[name] for name in names) for row in flow]
            return names, claimed

        names, claimed = await self._sqlite.run_write(run, durable=False)
        if not claimed:
            return []
        stamp = ClaimStamp(decode_time(params["now"]), decode_time(params["expires_at"]), worker_id)
        columns = dict(zip(names, zip(*claimed, strict=True), strict=True))
        return claimed_jobs_from_columns(columns, decode_time, stamp)

    async def ack_jobs(self, *, acks: Sequence[Ack], now: datetime) -> AckOutcome:
        params = {"now": encode_time(now)}
        completions = [
            [a.job_id, a.token, json.dumps(a.result)] for a in acks if isinstance(a, Completion)
        ]
        failures = [
            [
                a.job_id,
                a.token,
                json.dumps(a.error.to_json()),
                None if a.retry_at is None else encode_time(a.retry_at),
            ]
            for a in acks
            if isinstance(a, Failure)
        ]

        complete = _fenced("complete_jobs", completions, params)
        fail = _fenced("fail_jobs", failures, params)

        def run(conn: sqlite3.Connection) -> set[int]:
            return complete(conn) | fail(conn)

        done = await self._sqlite.run_write(run, durable=False) if acks else set()
        return AckOutcome(
            acked=[a.job_id for a in acks if a.job_id in done],
            lost=[LeaseLost(a.job_id, a.token) for a in acks if a.job_id not in done],
        )

    async def extend_leases(
        self, *, leases: Sequence[Lease], ttl: timedelta, now: datetime | None
    ) -> list[LeaseLost]:
        if not leases:
            return []
        jobs = [[le.job_id, le.token] for le in leases]
        params = {"expires_at": encode_time((now or database_now()) + ttl)}
        held = await self._sqlite.run_write(_fenced("extend_leases", jobs, params), durable=False)
        return [LeaseLost(le.job_id, le.token) for le in leases if le.job_id not in held]

    async def release_jobs(self, *, leases: Sequence[Lease], now: datetime) -> list[int]:
        if not leases:
            return []
        jobs = [[le.job_id, le.token] for le in leases]
        params = {"now": encode_time(now)}
        released = await self._sqlite.run_write(
            _fenced("release_jobs", jobs, params), durable=False
        )
        return sorted(released)

    async def compact_enqueue_tally(self) -> int:
        # One writer and no row locks: the counts are updated in place, nothing to fold.
        return 0

    async def prune_workers(self, *, before: datetime) -> int:
        params = {"before": encode_time(before)}

        def prune(conn: sqlite3.Connection) -> int:
            pruned = rows(conn, "prune_workers_returning", params)
            if not pruned:
                return 0
            totals = rows(conn, "metric_totals", {})
            folded = Tally.merged([r["metrics"] for r in totals + pruned])
            conn.execute(QUERIES["save_metric_totals"], {"metrics": folded.to_json()})
            return len(pruned)

        return await self._sqlite.run_write(prune)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[StoreTx]:
        tx = SqliteTransaction(self.path, self._sqlite.busy_timeout.total_seconds(), encode_time)
        committed = False
        try:
            await tx.begin()
            yield tx
            committed = True
        except sqlite3.Error as exc:
            raise translate(exc, self.url) from exc
        finally:
            try:
                await tx.finish(commit=committed)
            except sqlite3.Error as exc:
                raise translate(exc, self.url) from exc

    async def listen(self, *, on_notify: Callable[[str], None]) -> Listener:
        listener = WakeListener(self._sqlite.wake_folder, on_notify)
        listener.start()
        return listener

    async def notify_queues(self, *, queues: Sequence[str]) -> None:
        self._db.wake(queues)

    async def insert_batch(
        self, *, batch: NewBatch, jobs: Sequence[NewJob], now: datetime
    ) -> tuple[Batch, bool]:
        return await batches.insert_batch(self._sqlite, batch, jobs, now)

    async def record_fire(
        self, *, fire: Fire, job: NewJob | None, allow_overlap: bool, now: datetime
    ) -> FireResult:
        return await schedules.record_fire(self._sqlite, fire, job, allow_overlap, now)
