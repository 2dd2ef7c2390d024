"""SqliteStore: the embedded store, one file, one connection and one thread per process.

Operations run on one dedicated thread that owns the connection, so a process never has
two writers of its own; ``BEGIN IMMEDIATE`` plus a busy timeout serialise the writers of
several processes sharing the file. WAL lets readers run beside the writer. The lease
lifecycle writes (claim, ack, heartbeat, release) run on the caller's thread instead when
nothing has to be waited for (``SqliteStore._write_now``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

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
from conveyor.store.rows import (
    ClaimStamp,
    claimed_jobs_from_columns,
    depth_from_row,
    job_from_row,
    queues_from_rows,
    worker_from_row,
)
from conveyor.store.sql import load_migrations, load_queries
from conveyor.store.sqlite.batches import SqliteBatches
from conveyor.store.sqlite.flow import SqliteFlow
from conveyor.store.sqlite.items import SqliteItemLedger
from conveyor.store.sqlite.schedules import SqliteSchedules
from conveyor.store.sqlite.transaction import SqliteTransaction
from conveyor.store.sqlite.turns import WriterTurns
from conveyor.store.sqlite.wakeup import WakeListener, WakeSender, wake_folder

T = TypeVar("T")
_PACKAGE = "conveyor.store.sqlite"
QUERIES = load_queries(_PACKAGE)
MIGRATIONS = load_migrations(_PACKAGE)
Row = dict[str, Any]


def database_now() -> datetime:
    """The database's clock, for lease arithmetic called with ``now=None``: an SQLite file
    is read and written on one host only, so its clock is this host's (never an app's
    injected ``Clock``, which may be frozen or wrong)."""
    return datetime.now(UTC)


def encode_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that comparing text compares time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat, not strftime: strftime("%Y") does not zero-pad years before 1000.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def decode_time(value: Any) -> datetime:
    return _decode_time_text(str(value))


@functools.lru_cache(maxsize=4096)
def _decode_time_text(text: str) -> datetime:
    # Cached: the jobs of one enqueue share their created_at and usually their run_at, so
    # a claimed batch repeats a few stamps many times (datetimes are immutable).
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse_row(row: Any) -> Job:
    return job_from_row(row, decode_time)


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


def _enable_wal(conn: sqlite3.Connection, busy_timeout: timedelta) -> None:
    """Switch the file to WAL, waiting up to ``busy_timeout`` for other connections.

    Switching a fresh file to WAL takes an exclusive lock, and when several connections
    open the file at once (two processes starting together) SQLite answers "database is
    locked" at once instead of calling the busy handler, so we retry here ourselves.
    """
    deadline = time.monotonic() + busy_timeout.total_seconds()
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def _committed(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn`` inside the transaction the caller began: committed, or rolled back if it
    raises."""
    try:
        value = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return value


def _is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused for a lock another connection holds (any SQLITE_BUSY code)."""
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


class _MustWait(Exception):
    """A lifecycle write could not run at once (SqliteStore._write_now)."""


def _dict_rows(cursor: sqlite3.Cursor) -> list[Row]:
    return _Fetched(cursor).dicts()


class _Fetched:
    """A statement's rows as fetched (tuples), turned into dicts on demand: inside a write
    transaction only what must be read there is converted, the rest after the commit."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.names = [d[0] for d in cursor.description or ()]
        self.rows: list[tuple[Any, ...]] = cursor.fetchall()

    def dicts(self) -> list[Row]:
        names = self.names
        return [dict(zip(names, values, strict=True)) for values in self.rows]


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


def _list_param(values: Sequence[Any] | None) -> str | None:
    return (
        None
        if values is None
        else json.dumps([str(v) if isinstance(v, JobState) else v for v in values])
    )


def _filter_params(f: JobFilter) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return None if moment is None else encode_time(moment)

    return {
        "states": _list_param(f.states),
        "tasks": _list_param(f.tasks),
        "queues": _list_param(f.queues),
        "ids": _list_param(f.ids),
        "idempotency_key": f.idempotency_key,
        "created_after": when(f.created_after),
        "created_before": when(f.created_before),
        "finished_after": when(f.finished_after),
        "finished_before": when(f.finished_before),
    }


class SqliteStore(SqliteSchedules, SqliteItemLedger, SqliteBatches, SqliteFlow, IncidentMethods):
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
        self._busy_timeout = busy_timeout
        self._busy_timeout_ms = int(busy_timeout.total_seconds() * 1000)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._wake_folder = wake_folder(self.path)
        self._wake = WakeSender(self._wake_folder)
        self._turns = WriterTurns(self.path)
        # Held by whichever thread uses the connection: the store's own, or the event
        # loop's for a lifecycle write run at once (_write_now).
        self._conn_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    @property
    def expected_version(self) -> int:
        return len(MIGRATIONS)

    # -- plumbing -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="conveyor-sqlite")
        try:
            self._conn = await self._call(self._connect)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,
                timeout=self._busy_timeout.total_seconds(),
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.url}: {exc}") from exc
        try:
            _enable_wal(conn, self._busy_timeout)
            # FULL: a commit that returned survives a power cut, as DESIGN §2.1 promises.
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreUnavailable(f"cannot open SQLite database {self.url}: {exc}") from exc
        self._turns.open()
        return conn

    async def close(self) -> None:
        self._wake.close()
        if self._executor is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._call(conn.close)
        await self._call(self._turns.close)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def _call(self, fn: Callable[[], T]) -> T:
        if self._executor is None:
            raise StoreUnavailable(f"store {self.url} is not open")
        loop = asyncio.get_running_loop()

        def locked() -> T:
            with self._conn_lock:
                return fn()

        return await loop.run_in_executor(self._executor, locked)

    async def _write(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run ``fn`` in one IMMEDIATE transaction on the store's thread.

        ``durable=False`` is for the lease lifecycle (claim, ack, heartbeat, release): its
        commit is not synced to disk by itself (``synchronous=NORMAL``) but by the next
        durable commit or checkpoint. A process crash loses none of it (the WAL is
        written); a power cut may lose the last of it, and each such loss only runs a job
        again, which at-least-once allows. Enqueues, the handler's own transactions and
        admin changes stay ``synchronous=FULL``: DESIGN §2.1's durable enqueue.
        """

        if not durable:
            with contextlib.suppress(_MustWait):
                return self._write_now(fn)

        def run() -> T:
            conn = self._connection()
            try:
                if not durable:
                    conn.execute("PRAGMA synchronous=NORMAL")
                try:
                    with self._turns.turn():
                        conn.execute("BEGIN IMMEDIATE")
                        return _committed(conn, fn)
                finally:
                    if not durable:
                        conn.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                raise _translate(exc, self.url) from exc

        return await self._call(run)

    def _write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a lifecycle write (``durable=False``) on the calling thread if the
        connection, the writer turn and SQLite's write lock are all free; raise
        ``_MustWait`` otherwise, having done nothing.

        Handed to the store's thread, a claim or an ack held SQLite's write lock while
        that thread waited for the GIL behind the event loop's handlers, and every other
        process waited with it: run here when they can, the two workers of a W1-like run
        held the lock 12% less (docs/benchmarks.md, "This round"). Only what
        needs no waiting runs here, so the event loop never blocks on another writer (a
        handler's open ``ctx.transaction()`` holds SQLite's lock and needs this very
        loop to finish).
        """
        if not self._conn_lock.acquire(blocking=False):
            raise _MustWait
        try:
            if not self._turns.try_take():
                raise _MustWait
            try:
                conn = self._connection()
                try:
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute("PRAGMA busy_timeout=0")
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                    except sqlite3.OperationalError as exc:
                        if _is_busy(exc):
                            raise _MustWait from None
                        raise
                    finally:
                        conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
                    return _committed(conn, fn)
                finally:
                    conn.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                raise _translate(exc, self.url) from exc
            finally:
                self._turns.give_back()
        finally:
            self._conn_lock.release()

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                return fn(self._connection())
            except sqlite3.Error as exc:
                raise _translate(exc, self.url) from exc

        return await self._call(run)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(f"store {self.url} is not open")
        return self._conn

    @staticmethod
    def _rows(conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> list[Row]:
        return _dict_rows(conn.execute(QUERIES[name], params))

    @staticmethod
    def _time(moment: datetime) -> str:
        return encode_time(moment)

    @staticmethod
    def _when(value: Any) -> datetime:
        return decode_time(value)

    @staticmethod
    def _job(row: Row) -> Job:
        return parse_row(row)

    # -- schema -------------------------------------------------------------------------

    async def migrate(self) -> int:
        def run() -> int:
            conn = self._connection()
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

        return await self._call(run)

    async def schema_version(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            if not self._rows(conn, "migrations_table_exists", {})[0]["present"]:
                return 0
            return int(self._rows(conn, "schema_version", {})[0]["version"])

        return await self._read(run)

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
            encode_time=encode_time,
            parse_row=parse_row,
        )

    async def insert_jobs(self, *, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        # The statement's parameters and the jobs to return are built before and after
        # the write transaction, not inside it: every other writer waits for its lock
        # (building them inside held it twice as long for a bulk enqueue).
        plan = self._plan_insert(jobs, now=now)
        first = plan.insert()
        plan.prepare()

        def run(conn: sqlite3.Connection) -> tuple[_Fetched, list[Row]]:
            inserted = _Fetched(conn.execute(first.sql, first.params))
            if not plan.keyed:  # nothing can conflict: no need for the rows as dicts here
                return inserted, []
            second = plan.existing(inserted.dicts())
            existing = [] if second is None else _dict_rows(conn.execute(second.sql, second.params))
            return inserted, existing

        inserted, existing = await self._write(run)
        outcome = plan.finish(inserted.dicts(), existing)
        self._wake_queues(
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
            # the write lock that every other process waits for (a dict per row, built
            # inside, was a sixth of a claim's time holding it).
            cursor = conn.execute(QUERIES[name], params)
            names = [d[0] for d in cursor.description]
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            # Flow jobs fill what plain jobs left (store/sqlite/flow.py), when there are any.
            if len(rows) < limit and conn.execute(QUERIES["flow_jobs_waiting"]).fetchone():
                flow = self._claim_flow(conn, {**params, "limit": limit - len(rows)})
                rows += [tuple(row[name] for name in names) for row in flow]
            return names, rows

        names, rows = await self._write(run, durable=False)
        if not rows:
            return []
        stamp = ClaimStamp(decode_time(params["now"]), decode_time(params["expires_at"]), worker_id)
        columns = dict(zip(names, zip(*rows, strict=True), strict=True))
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

        done = await self._write(run, durable=False) if acks else set()
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
        held = await self._write(_fenced("extend_leases", jobs, params), durable=False)
        return [LeaseLost(le.job_id, le.token) for le in leases if le.job_id not in held]

    async def release_jobs(self, *, leases: Sequence[Lease], now: datetime) -> list[int]:
        if not leases:
            return []
        jobs = [[le.job_id, le.token] for le in leases]
        params = {"now": encode_time(now)}
        released = await self._write(_fenced("release_jobs", jobs, params), durable=False)
        return sorted(released)

    async def rescue_expired(self, *, now: datetime | None, limit: int) -> list[int]:
        now = now or database_now()
        params = {"now": encode_time(now), "now_text": now.isoformat(), "limit": limit}
        rows = await self._write(lambda c: self._rows(c, "rescue_expired", params))
        return sorted(int(r["id"]) for r in rows)

    async def save_progress(self, *, lease: Lease, progress: Progress) -> bool:
        params = {
            "id": lease.job_id,
            "token": lease.token,
            "done": progress.done,
            "total": progress.total,
        }
        return bool(await self._write(lambda c: self._rows(c, "save_progress", params)))

    async def save_checkpoint(self, *, lease: Lease, checkpoint: Any) -> bool:
        params = {"id": lease.job_id, "token": lease.token, "checkpoint": json.dumps(checkpoint)}
        return bool(await self._write(lambda c: self._rows(c, "save_checkpoint", params)))

    # -- reading and administration -----------------------------------------------------

    async def get_job(self, *, job_id: int) -> Job:
        rows = await self._read(lambda c: self._rows(c, "get_job", {"id": job_id}))
        if not rows:
            raise JobNotFound(job_id)
        return parse_row(rows[0])

    async def list_jobs(self, *, filter: JobFilter, after: int | None, limit: int) -> Page:
        params = {**_filter_params(filter), "after": after, "limit": limit + 1}
        rows = await self._read(lambda c: self._rows(c, "list_jobs", params))
        jobs = [parse_row(r) for r in rows[:limit]]
        return Page(jobs, jobs[-1].id if len(rows) > limit and jobs else None)

    async def cancel_jobs(self, *, ids: Sequence[int], now: datetime) -> list[Job]:
        params = {"ids": json.dumps(list(ids)), "now": encode_time(now)}
        rows = await self._write(lambda c: self._rows(c, "cancel_jobs", params))
        return sorted(map(parse_row, rows), key=lambda j: j.id)

    async def retry_jobs(self, *, ids: Sequence[int], now: datetime) -> list[Job]:
        params = {"ids": json.dumps(list(ids)), "now": encode_time(now)}
        rows = await self._write(lambda c: self._rows(c, "retry_jobs", params))
        return sorted(map(parse_row, rows), key=lambda j: j.id)

    async def retry_failed(self, *, filter: JobFilter, now: datetime) -> int:
        params = {**_filter_params(filter), "now": encode_time(now)}
        params.pop("states")
        return await self._write(lambda c: c.execute(QUERIES["retry_failed"], params).rowcount)

    async def rerun_job(self, *, job_id: int, now: datetime) -> Job:
        params = {"id": job_id, "now": encode_time(now)}

        def run(conn: sqlite3.Connection) -> Row | None:
            rows = self._rows(conn, "rerun_job", params)
            return rows[0] if rows else None

        row = await self._write(run)
        if row is None:
            original = await self.get_job(job_id=job_id)  # raises JobNotFound
            raise InvalidTransition(job_id, original.state.value, "re-run")
        return parse_row(row)

    # -- queues -------------------------------------------------------------------------

    async def pause_queue(self, *, queue: str, now: datetime) -> bool:
        params = {"queue": queue, "now": encode_time(now)}
        return bool(await self._write(lambda c: self._rows(c, "pause_queue", params)))

    async def resume_queue(self, *, queue: str, now: datetime) -> bool:
        params = {"queue": queue, "now": encode_time(now)}
        resumed = bool(await self._write(lambda c: self._rows(c, "resume_queue", params)))
        if resumed:  # its jobs may have waited long: wake its idle workers, as an enqueue does
            self._wake_queues([queue])
        return resumed

    async def list_queues(self, *, now: datetime) -> list[QueueInfo]:
        params = {"now": encode_time(now)}
        rows = await self._read(lambda c: self._rows(c, "list_queues", params))
        return queues_from_rows(rows, decode_time, now)

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
            "now": encode_time(now),
        }
        await self._write(lambda c: c.execute(QUERIES["register_worker"], params))

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
            "metrics": metrics,
            "now": encode_time(now),
        }
        await self._write(lambda c: c.execute(QUERIES["heartbeat_worker"], params))

    async def list_workers(self, *, limit: int = 100) -> list[WorkerInfo]:
        rows = await self._read(lambda c: self._rows(c, "list_workers", {"limit": limit}))
        return [worker_from_row(r, decode_time) for r in rows]

    async def mark_dead_workers(self, *, before: datetime, now: datetime) -> list[str]:
        params = {"before": encode_time(before), "now": encode_time(now)}
        rows = await self._write(lambda c: self._rows(c, "mark_dead_workers", params))
        return sorted(str(r["id"]) for r in rows)

    async def prune_workers(self, *, before: datetime) -> int:
        params = {"before": encode_time(before)}

        def prune(conn: sqlite3.Connection) -> int:
            pruned = self._rows(conn, "prune_workers_returning", params)
            if not pruned:
                return 0
            totals = self._rows(conn, "metric_totals", {})
            folded = Tally.merged([r["metrics"] for r in totals + pruned])
            conn.execute(QUERIES["save_metric_totals"], {"metrics": folded.to_json()})
            return len(pruned)

        return await self._write(prune)

    async def queue_depths(self, *, now: datetime) -> list[QueueDepth]:
        rows = await self._read(lambda c: self._rows(c, "queue_depths", {"now": encode_time(now)}))
        return [depth_from_row(r, decode_time) for r in rows]

    async def worker_tallies(self) -> list[str]:
        rows = await self._read(lambda c: self._rows(c, "worker_tallies", {}))
        return [str(r["metrics"]) for r in rows]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[StoreTx]:
        tx = SqliteTransaction(self.path, self._busy_timeout.total_seconds(), encode_time)
        committed = False
        try:
            await tx.begin()
            yield tx
            committed = True
        except sqlite3.Error as exc:
            raise _translate(exc, self.url) from exc
        finally:
            try:
                await tx.finish(commit=committed)
            except sqlite3.Error as exc:
                raise _translate(exc, self.url) from exc

    async def listen(self, *, on_notify: Callable[[str], None]) -> Listener:
        listener = WakeListener(self._wake_folder, on_notify)
        listener.start()
        return listener

    async def count_jobs(self) -> list[QueueCount]:
        rows = await self._read(lambda c: self._rows(c, "count_jobs", {}))
        return [QueueCount(r["queue"], JobState(r["state"]), int(r["count"])) for r in rows]

    async def job_stats(self, *, now: datetime, since: datetime) -> JobStats:
        def run(conn: sqlite3.Connection) -> JobStats:
            counts = self._rows(conn, "count_jobs", {})
            minutes = self._rows(conn, "finished_per_minute", {"since": encode_time(since)})
            oldest = self._rows(conn, "oldest_waiting", {"now": encode_time(now)})[0]["run_at"]
            return JobStats(
                counts=[
                    QueueCount(r["queue"], JobState(r["state"]), int(r["count"])) for r in counts
                ],
                finished_per_minute=[
                    MinuteCount(
                        decode_time(r["minute"] + ":00"), JobState(r["state"]), int(r["count"])
                    )
                    for r in minutes
                ],
                oldest_waiting_run_at=None if oldest is None else decode_time(oldest),
            )

        return await self._read(run)

    async def notify_queues(self, *, queues: Sequence[str]) -> None:
        self._wake.send(queues)

    def _wake_queues(self, queues: Iterable[str]) -> None:
        self._wake.send(queues)

    async def prune_finished(self, *, before: datetime, limit: int) -> int:
        params = {"before": encode_time(before), "limit": limit}
        return await self._write(lambda c: c.execute(QUERIES["prune_finished"], params).rowcount)


# OperationalError also covers a schema that is missing or behind: that is no outage, and
# a retry against the same file cannot succeed, so it is a StoreError (as on PostgreSQL).
_SCHEMA_ERRORS = ("no such table", "no such column")


def _translate(exc: sqlite3.Error, url: str) -> StoreError:
    message = f"SQLite error on {url}: {exc}"
    if isinstance(exc, sqlite3.OperationalError) and not str(exc).startswith(_SCHEMA_ERRORS):
        return StoreUnavailable(message)
    return StoreError(message)
