"""PostgresStore: the multi-machine store on PostgreSQL through psycopg 3 and a pool."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from conveyor.errors import (
    InvalidTransition,
    JobNotFound,
    LeaseLost,
    StoreError,
    StoreUnavailable,
)
from conveyor.job import Job, JobState, Lease, Page, Progress
from conveyor.metrics.tally import Tally
from conveyor.queue import QueueInfo
from conveyor.stats import JobStats, MinuteCount, QueueCount, QueueDepth, WorkerInfo
from conveyor.store.base import (
    Ack,
    AckOutcome,
    Capabilities,
    Completion,
    Failure,
    Inserted,
    InsertPlan,
    JobFilter,
    Listener,
    NewJob,
    StoreTx,
)
from conveyor.store.incident_methods import IncidentMethods
from conveyor.store.insert import BatchInsertPlan
from conveyor.store.postgres.batches import PostgresBatches
from conveyor.store.postgres.fence import fenced, results_json, returned_ids
from conveyor.store.postgres.flow import PostgresFlow
from conveyor.store.postgres.items import PostgresItemLedger
from conveyor.store.postgres.runner import json_as_text
from conveyor.store.postgres.schedules import PostgresSchedules
from conveyor.store.postgres.transaction import PostgresTransaction
from conveyor.store.rows import (
    ClaimStamp,
    claimed_jobs_from_columns,
    depth_from_row,
    job_from_row,
    queues_from_rows,
    worker_from_row,
)
from conveyor.store.sql import load_migrations, load_queries

_PACKAGE = "conveyor.store.postgres"
QUERIES = load_queries(_PACKAGE)
MIGRATIONS = load_migrations(_PACKAGE)
Row = dict[str, Any]


def _with_flow_probe(claim: LiteralString) -> LiteralString:
    """``claim`` (a plain claim statement) with the flow probe answered beside it: every
    row gains a last column ``flow_waiting``, and a claim that takes nothing still
    returns one row (all job columns NULL) to carry the answer. Composed here so that the
    probe is written once, in ``flow_jobs_waiting``."""
    probe = QUERIES["flow_jobs_waiting"].rstrip().removesuffix(";")
    return (
        "WITH claimed AS (" + claim.rstrip().removesuffix(";") + "), flow AS (" + probe + ")"
        " SELECT claimed.*, EXISTS (SELECT FROM flow) AS flow_waiting"
        " FROM (SELECT) AS one LEFT JOIN claimed ON true"
    )


_WITH_FLOW_PROBE = {
    name: _with_flow_probe(QUERIES[name]) for name in ("claim_jobs", "claim_jobs_any_queue")
}


def redact_url(url: str) -> str:
    """The URL with any password (``user:pass@`` or ``?password=``) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", r"\1\2=***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def decode_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


async def _configure_claim_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """Session settings of the store's own claim connections (never lent to other SQL).

    ``synchronous_commit = off``: a claim's commit returns without waiting for its WAL
    flush (~0.3 ms here, more on a busy disk), the largest fixed cost of starting a job
    on an idle worker. A PostgreSQL crash may forget claims of the last few hundred
    milliseconds (``wal_writer_delay``, three times over at most); such a job is
    ``available`` again and runs once more, as at-least-once allows (DESIGN §2.2), and
    its first run's ack is fenced out by the lost lease token. Every later synchronous
    commit (an ack, a heartbeat, an enqueue) flushes the claim with it. Enqueues, acks
    and handler transactions use the main pool and stay fully durable (DESIGN §2.1).
    """
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET enable_sort = off")
    # A priced-out sort puts every claim plan's cost past jit_above_cost: with JIT on,
    # each claim compiled its plan to machine code first (~300 ms on a 2-core machine).
    await conn.execute("SET jit = off")
    # Planned once per connection, not per claim. Once statistics exist, PostgreSQL's
    # default (auto) often judges a custom plan cheaper for the claim and then plans it
    # afresh on every execution: a sixth of a claim's backend CPU went to the planner.
    # Without the limit's value a generic plan may expect many picked rows and update
    # them by hashing a scan of the whole table; with hash and merge joins priced out it
    # is the custom plan's shape, one primary-key lookup per picked job.
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute("SET enable_hashjoin = off")
    await conn.execute("SET enable_mergejoin = off")
    # psycopg hands timestamps back in the session's zone: for 'UTC' that is
    # datetime.timezone.utc, which the store keeps as it is; for a named zone (even
    # 'Etc/UTC') a ZoneInfo that every value must be converted from, twice the decoding.
    await conn.execute("SET TIME ZONE 'UTC'")


def parse_row(row: Any) -> Job:
    return job_from_row(row, decode_time)


def _filter_params(f: JobFilter) -> dict[str, Any]:
    return {
        "states": None if f.states is None else [str(s) for s in f.states],
        "tasks": None if f.tasks is None else list(f.tasks),
        "queues": None if f.queues is None else list(f.queues),
        "ids": None if f.ids is None else list(f.ids),
        "idempotency_key": f.idempotency_key,
        "created_after": f.created_after,
        "created_before": f.created_before,
        "finished_after": f.finished_after,
        "finished_before": f.finished_before,
    }


class PostgresStore(
    PostgresSchedules, PostgresItemLedger, PostgresBatches, PostgresFlow, IncidentMethods
):
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
        self._conninfo = url
        self._min = min_connections
        self._max = max_connections
        self._connect_timeout = connect_timeout
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._guard: asyncio.Task[None] | None = None
        # Plain claims get connections of their own (see _claim_plain), opened on first use.
        self._claim_pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._claim_pool_lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return redact_url(self._conninfo)

    @property
    def expected_version(self) -> int:
        return len(MIGRATIONS)

    # -- plumbing -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        timeout = max(1, int(self._connect_timeout.total_seconds()))
        # One direct connection first: a wrong or unreachable URL fails fast with the
        # driver's reason instead of a pool timeout after retries.
        try:
            probe = await psycopg.AsyncConnection.connect(self._conninfo, connect_timeout=timeout)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {self.url}: {reason}") from exc
        await probe.close()
        self._pool = await self._open_pool(min_size=self._min, max_size=self._max)
        self._guard = asyncio.create_task(self._close_at_loop_end(), name="conveyor-store-guard")

    async def _close_at_loop_end(self) -> None:
        """Wait to be cancelled, then close the store if it is still open.

        A program that ends its event loop (``asyncio.run`` returning) without closing the
        app has every task cancelled, the pools' own among them: a pool that was connecting
        in the background takes that cancellation for a failed attempt and schedules
        another, and the loop never finishes. Closing the pools here stops them first.
        """
        try:
            await asyncio.Future()
        except asyncio.CancelledError:
            if self._pool is not None:
                await self.close()
            raise

    async def _open_pool(
        self,
        *,
        min_size: int,
        max_size: int,
        configure: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]] | None = None,
    ) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        timeout = max(1, int(self._connect_timeout.total_seconds()))
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self._conninfo,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": timeout},
            configure=configure,
            timeout=self._connect_timeout.total_seconds() * 6,
        )
        await pool.open(wait=True, timeout=self._connect_timeout.total_seconds() * 2)
        return pool

    async def close(self) -> None:
        guard, self._guard = self._guard, None
        if guard is not None and guard is not asyncio.current_task():
            guard.cancel()
        pool, self._pool = self._pool, None
        claim_pool, self._claim_pool = self._claim_pool, None
        for each in (pool, claim_pool):
            if each is not None:
                await each.close()

    def _require_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            raise StoreUnavailable(f"store {self.url} is not open")
        return self._pool

    async def _rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        return await self._fetch(QUERIES[name], params)

    @staticmethod
    def _when(value: Any) -> datetime:
        return decode_time(value)

    @staticmethod
    def _job(row: Row) -> Job:
        return parse_row(row)

    async def _fetch(
        self, sql: LiteralString, params: dict[str, Any], *, prepare: bool | None = None
    ) -> list[Row]:
        try:
            async with (
                self._require_pool().connection() as conn,
                conn.cursor(row_factory=dict_row) as cur,
            ):
                json_as_text(cur)
                await cur.execute(sql, params, prepare=prepare)
                return await cur.fetchall()
        except psycopg.Error as exc:
            raise _translate(exc, self.url) from exc

    async def _claim_plain(
        self, name: str, params: dict[str, Any]
    ) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        """Run the plain claim ``name`` with the flow probe (``flow_jobs_waiting``) in one
        statement on a claim connection (``_WITH_FLOW_PROBE``): the claimed rows' column
        names, the rows (as tuples: rows.claimed_jobs_from_columns reads them by column,
        so a dict per row would only be taken apart again), and whether a flow job waits.

        A one-job claim (an idle worker woken by one enqueue) always leaves free slots, so
        the question rides with every claim. Asked as a second statement it cost as much
        as the claim itself in its own round trip, and ~0.12 ms more than this form in a
        pipeline with it. The probe reads rows the claim never touches (plain and flow
        jobs are disjoint).

        The claim must walk its index in claim order and stop at the limit. A planner
        without fresh statistics (a burst of jobs into a table autovacuum has not analysed
        yet) may instead read every due job and sort them, for every batch: with a backlog
        of 20,000 that made each claim ~5x slower. The claim connections have
        ``enable_sort = off`` for their whole session, which leaves the index walk as the
        only cheap plan in one round trip; they are the store's own, never lent to handler
        SQL, so the setting (and ``synchronous_commit``, see ``_configure_claim_connection``)
        reaches no other statement.
        """
        try:
            async with (
                (await self._claim_connections()).connection() as conn,
                conn.cursor() as cur,
            ):
                json_as_text(cur)
                await cur.execute(_WITH_FLOW_PROBE[name], params)
                rows = await cur.fetchall()
                names = [column.name for column in cur.description or ()]
        except psycopg.Error as exc:
            raise _translate(exc, self.url) from exc
        # The last column is the probe's answer; a claim that took nothing leaves the one
        # row of the outer join, whose job columns are all NULL.
        flow_waiting = bool(rows[0][-1])
        claimed = [row[:-1] for row in rows if row[0] is not None]
        return names[:-1], claimed, flow_waiting

    async def _claim_connections(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        self._require_pool()  # the store is open
        async with self._claim_pool_lock:
            if self._claim_pool is None:
                self._claim_pool = await self._open_pool(
                    min_size=1, max_size=2, configure=_configure_claim_connection
                )
            return self._claim_pool

    async def _rowcount(self, name: str, params: dict[str, Any]) -> int:
        try:
            async with self._require_pool().connection() as conn:
                cur = await conn.execute(QUERIES[name], params)
                return max(cur.rowcount, 0)
        except psycopg.Error as exc:
            raise _translate(exc, self.url) from exc

    # -- schema -------------------------------------------------------------------------

    async def migrate(self) -> int:
        try:
            async with self._require_pool().connection() as conn, conn.transaction():
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
        if not (await self._rows("migrations_table_exists", {}))[0]["present"]:
            return 0
        return int((await self._rows("schema_version", {}))[0]["version"])

    # -- insert -------------------------------------------------------------------------

    def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> InsertPlan:
        return self._plan_insert(jobs, now=now)

    def _plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> BatchInsertPlan:
        return BatchInsertPlan(
            jobs=jobs,
            now=now,
            insert_sql=QUERIES["insert_jobs"],
            unkeyed_sql=QUERIES["insert_unkeyed_jobs"],
            existing_sql=QUERIES["select_existing_jobs"],
            encode_time=lambda moment: moment.isoformat(),
            parse_row=parse_row,
        )

    async def insert_jobs(self, *, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        plan = self.plan_insert(jobs, now=now)
        first = plan.insert()
        inserted = await self._fetch(first.sql, dict(first.params))
        second = plan.existing(inserted)
        existing = [] if second is None else await self._fetch(second.sql, dict(second.params))
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
                self._require_pool().connection() as conn,
                conn.transaction(),
                conn.pipeline(),
            ):
                for chunk in chunks:
                    if not chunk:
                        continue
                    statement = self.plan_insert(chunk, now=now).insert()
                    cursor = conn.cursor(row_factory=dict_row)
                    await cursor.execute(statement.sql, dict(statement.params))
                    cursors.append(cursor)
                    jobs.extend(chunk)
                plan = self._plan_insert(jobs, now=now)
                plan.prepare()  # while the server still inserts the last chunks
                inserted = [row for cursor in cursors for row in await cursor.fetchall()]
                existing: list[Row] = []
                if (second := plan.existing(inserted)) is not None:
                    cursor = conn.cursor(row_factory=dict_row)
                    json_as_text(cursor)
                    await cursor.execute(second.sql, dict(second.params))
                    existing = await cursor.fetchall()
        except psycopg.Error as exc:
            raise _translate(exc, self.url) from exc
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
        names, rows, flow_waiting = await self._claim_plain(name, params)
        # Flow jobs fill what plain jobs left (store/postgres/flow.py), when there are any:
        # the probe came back with the claim, the flow claim's locked transaction is four
        # more round trips.
        if len(rows) < limit and flow_waiting:
            try:
                flow = await self._claim_flow({**params, "limit": limit - len(rows)})
                rows += [tuple(row[name] for name in names) for row in flow]
            except psycopg.Error as exc:
                if not rows:
                    raise _translate(exc, self.url) from exc
                # The plain jobs are claimed (committed): hand them out, not lose them.
                logging.getLogger("conveyor.store").warning("flow claim failed: %s", exc)
        if not rows:
            return []
        columns = dict(zip(names, zip(*rows, strict=True), strict=True))
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
            done.update(returned_ids(await self._rows("complete_jobs", params)))
        if failures:
            params = {
                **fenced(failures),
                "errors": [json.dumps(a.error.to_json()) for a in failures],
                "retry_ats": [a.retry_at for a in failures],
                "now": now,
            }
            done.update(returned_ids(await self._rows("fail_jobs", params)))
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
        held = set(returned_ids(await self._rows("extend_leases", params)))
        return [LeaseLost(le.job_id, le.token) for le in leases if le.job_id not in held]

    async def release_jobs(self, *, leases: Sequence[Lease], now: datetime) -> list[int]:
        if not leases:
            return []
        rows = await self._rows("release_jobs", {**fenced(leases), "now": now})
        return sorted(returned_ids(rows))

    async def rescue_expired(self, *, now: datetime | None, limit: int) -> list[int]:
        now_text = None if now is None else now.isoformat()
        params = {"now": now, "now_text": now_text, "limit": limit}
        return sorted(int(r["id"]) for r in await self._rows("rescue_expired", params))

    async def save_progress(self, *, lease: Lease, progress: Progress) -> bool:
        params = {
            "id": lease.job_id,
            "token": lease.token,
            "done": progress.done,
            "total": progress.total,
        }
        return bool(await self._rows("save_progress", params))

    async def save_checkpoint(self, *, lease: Lease, checkpoint: Any) -> bool:
        params = {"id": lease.job_id, "token": lease.token, "checkpoint": Jsonb(checkpoint)}
        return bool(await self._rows("save_checkpoint", params))

    # -- reading and administration -----------------------------------------------------

    async def get_job(self, *, job_id: int) -> Job:
        rows = await self._rows("get_job", {"id": job_id})
        if not rows:
            raise JobNotFound(job_id)
        return parse_row(rows[0])

    async def list_jobs(self, *, filter: JobFilter, after: int | None, limit: int) -> Page:
        params = {**_filter_params(filter), "after": after, "limit": limit + 1}
        rows = await self._fetch(QUERIES["list_jobs"], params, prepare=False)
        jobs = [parse_row(r) for r in rows[:limit]]
        return Page(jobs, jobs[-1].id if len(rows) > limit and jobs else None)

    async def cancel_jobs(self, *, ids: Sequence[int], now: datetime) -> list[Job]:
        rows = await self._rows("cancel_jobs", {"ids": list(ids), "now": now})
        return sorted(map(parse_row, rows), key=lambda j: j.id)

    async def retry_jobs(self, *, ids: Sequence[int], now: datetime) -> list[Job]:
        rows = await self._rows("retry_jobs", {"ids": list(ids), "now": now})
        return sorted(map(parse_row, rows), key=lambda j: j.id)

    async def retry_failed(self, *, filter: JobFilter, now: datetime) -> int:
        params = {**_filter_params(filter), "now": now}
        params.pop("states")
        return await self._rowcount("retry_failed", params)

    async def rerun_job(self, *, job_id: int, now: datetime) -> Job:
        rows = await self._rows("rerun_job", {"id": job_id, "now": now})
        if not rows:
            original = await self.get_job(job_id=job_id)  # raises JobNotFound
            raise InvalidTransition(job_id, original.state.value, "re-run")
        return parse_row(rows[0])

    # -- queues -------------------------------------------------------------------------

    async def pause_queue(self, *, queue: str, now: datetime) -> bool:
        return bool(await self._rows("pause_queue", {"queue": queue, "now": now}))

    async def resume_queue(self, *, queue: str, now: datetime) -> bool:
        return bool(await self._rows("resume_queue", {"queue": queue, "now": now}))

    async def list_queues(self, *, now: datetime) -> list[QueueInfo]:
        return queues_from_rows(await self._rows("list_queues", {"now": now}), decode_time, now)

    # -- worker registry ----------------------------------------------------------------

    async def register_worker(
        self,
        *,
        worker_id: str,
        host: str,
        pid: int,
        queues: Sequence[str] | None,
        concurrency: int,
        now: datetime,
    ) -> None:
        params = {
            "id": worker_id,
            "host": host,
            "pid": pid,
            "queues": None if queues is None else json.dumps(list(queues)),
            "concurrency": concurrency,
            "now": now,
        }
        await self._rowcount("register_worker", params)

    async def heartbeat_worker(
        self,
        *,
        worker_id: str,
        executors: int,
        running: int,
        completed: int,
        state: str,
        now: datetime,
        metrics: str | None = None,
    ) -> None:
        params = {
            "id": worker_id,
            "executors": executors,
            "running": running,
            "completed": completed,
            "state": state,
            "now": now,
            "metrics": metrics,
        }
        await self._rowcount("heartbeat_worker", params)

    async def list_workers(self, *, limit: int = 100) -> list[WorkerInfo]:
        rows = await self._rows("list_workers", {"limit": limit})
        return [worker_from_row(r, decode_time) for r in rows]

    async def mark_dead_workers(self, *, before: datetime, now: datetime) -> list[str]:
        rows = await self._rows("mark_dead_workers", {"before": before, "now": now})
        return sorted(str(r["id"]) for r in rows)

    async def prune_workers(self, *, before: datetime) -> int:
        try:
            async with self._require_pool().connection() as conn, conn.transaction():
                pruned = await (
                    await conn.execute(QUERIES["prune_workers_returning"], {"before": before})
                ).fetchall()
                if not pruned:
                    return 0
                totals = await (await conn.execute(QUERIES["metric_totals"], {})).fetchall()
                folded = Tally.merged([r[0] for r in totals] + [r[0] for r in pruned])
                await conn.execute(QUERIES["save_metric_totals"], {"metrics": folded.to_json()})
                return len(pruned)
        except psycopg.Error as exc:
            raise _translate(exc, self.url) from exc

    async def queue_depths(self, *, now: datetime) -> list[QueueDepth]:
        rows = await self._rows("queue_depths", {"now": now})
        return [depth_from_row(r, decode_time) for r in rows]

    async def worker_tallies(self) -> list[str]:
        return [str(r["metrics"]) for r in await self._rows("worker_tallies", {})]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[StoreTx]:
        try:
            async with self._require_pool().connection() as conn, conn.transaction():
                yield PostgresTransaction(conn)
        except psycopg.Error as exc:
            raise _translate(exc, self.url) from exc

    async def listen(self, *, on_notify: Callable[[str], None]) -> Listener:
        listener = PostgresListener(self._conninfo, self.url, on_notify)
        await listener.start()
        return listener

    async def count_jobs(self) -> list[QueueCount]:
        rows = await self._rows("count_jobs", {})
        return [QueueCount(r["queue"], JobState(r["state"]), int(r["count"])) for r in rows]

    async def job_stats(self, *, now: datetime, since: datetime) -> JobStats:
        counts = await self.count_jobs()
        minutes = await self._rows("finished_per_minute", {"since": since})
        oldest = await self._rows("oldest_waiting", {"now": now})
        return JobStats(
            counts=counts,
            finished_per_minute=[
                MinuteCount(decode_time(r["minute"]), JobState(r["state"]), int(r["count"]))
                for r in minutes
            ],
            oldest_waiting_run_at=None
            if oldest[0]["run_at"] is None
            else decode_time(oldest[0]["run_at"]),
        )

    async def notify_queues(self, *, queues: Sequence[str]) -> None:
        if queues:
            await self._rows("notify_queues", {"queues": list(queues)})

    async def prune_finished(self, *, before: datetime, limit: int) -> int:
        return await self._rowcount("prune_finished", {"before": before, "limit": limit})


def _translate(exc: psycopg.Error, url: str) -> StoreError:
    if isinstance(exc, psycopg.OperationalError):
        return StoreUnavailable(f"PostgreSQL at {url}: {exc}")
    return StoreError(f"PostgreSQL at {url}: {exc}")


class PostgresListener:
    """LISTEN on one dedicated connection; reconnects after a failure (the poll interval
    covers the gap, so a lost notification delays a job but never loses it)."""

    def __init__(self, conninfo: str, url: str, on_notify: Callable[[str], None]) -> None:
        self._conninfo = conninfo
        self._url = url
        self._on_notify = on_notify
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="conveyor-listen")
        # Wait for the first LISTEN so that an enqueue right after start() is not missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def _run(self) -> None:
        log = logging.getLogger("conveyor.store")
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                async with conn:
                    await conn.execute("LISTEN conveyor_jobs")
                    self._ready.set()
                    async for notice in conn.notifies():
                        self._on_notify(notice.payload)
            except psycopg.Error as exc:
                log.warning("LISTEN on %s failed, reconnecting: %s", self._url, exc)
                self._ready.set()
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
