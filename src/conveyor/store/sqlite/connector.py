"""SqliteConnector: the one connection to the file, the thread that owns it, and how the
store's statements run on it (reads as they come, writes in IMMEDIATE transactions).

Operations run on one dedicated thread that owns the connection, so a process never has
two writers of its own; ``BEGIN IMMEDIATE`` plus a busy timeout serialise the writers of
several processes sharing the file. WAL lets readers run beside the writer. The lease
lifecycle writes (claim, ack, heartbeat, release) run on the caller's thread instead when
nothing has to be waited for (``SqliteConnector._write_now``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from conveyor.errors import StoreError, StoreUnavailable
from conveyor.job import Job
from conveyor.store.base import NewJob
from conveyor.store.insert import BatchInsertPlan, enqueue_counts_of
from conveyor.store.rows import job_from_row
from conveyor.store.runner import Params, Row
from conveyor.store.sql import load_queries
from conveyor.store.sqlite.turns import WriterTurns
from conveyor.store.sqlite.wakeup import WakeSender, wake_folder

T = TypeVar("T")
QUERIES = load_queries("conveyor.store.sqlite")


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


def database_now() -> datetime:
    """The database's clock, for lease arithmetic called with ``now=None``: an SQLite file
    is read and written on one host only, so its clock is this host's (never an app's
    injected ``Clock``, which may be frozen or wrong)."""
    return datetime.now(UTC)


def parse_row(row: Any) -> Job:
    return job_from_row(row, decode_time)


def rows(conn: sqlite3.Connection, name: str, params: Params) -> list[Row]:
    """Run the named statement on ``conn``; its rows as dicts."""
    return Fetched(conn.execute(QUERIES[name], params)).dicts()


class Fetched:
    """A statement's rows as fetched (tuples), turned into dicts on demand: inside a write
    transaction only what must be read there is converted, the rest after the commit."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.names = [d[0] for d in cursor.description or ()]
        self.rows: list[tuple[Any, ...]] = cursor.fetchall()

    def dicts(self) -> list[Row]:
        names = self.names
        return [dict(zip(names, values, strict=True)) for values in self.rows]


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
    """A lifecycle write could not run at once (SqliteConnector._write_now)."""


# OperationalError also covers a schema that is missing or behind: that is no outage, and
# a retry against the same file cannot succeed, so it is a StoreError (as on PostgreSQL).
_SCHEMA_ERRORS = ("no such table", "no such column")


def translate(exc: sqlite3.Error, url: str) -> StoreError:
    message = f"SQLite error on {url}: {exc}"
    if isinstance(exc, sqlite3.OperationalError) and not str(exc).startswith(_SCHEMA_ERRORS):
        return StoreUnavailable(message)
    return StoreError(message)


class SqliteConnector:
    """Times go in as fixed-width UTC text, lists as JSON arrays (SQLite has no array
    type; the statements read them with ``json_each``)."""

    def __init__(self, path: str, *, busy_timeout: timedelta) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._busy_timeout_ms = int(busy_timeout.total_seconds() * 1000)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self.wake_folder = wake_folder(path)
        self._wake = WakeSender(self.wake_folder)
        self._turns = WriterTurns(path)
        # Held by whichever thread uses the connection: the store's own, or the event
        # loop's for a lifecycle write run at once (_write_now).
        self._conn_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="conveyor-sqlite")
        try:
            self._conn = await self.call(self._connect)
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
                timeout=self.busy_timeout.total_seconds(),
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.url}: {exc}") from exc
        try:
            _enable_wal(conn, self.busy_timeout)
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
            await self.call(conn.close)
        await self.call(self._turns.close)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the connection's thread, holding the connection."""
        if self._executor is None:
            raise StoreUnavailable(f"store {self.url} is not open")
        loop = asyncio.get_running_loop()

        def locked() -> T:
            with self._conn_lock:
                return fn()

        return await loop.run_in_executor(self._executor, locked)

    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(f"store {self.url} is not open")
        return self._conn

    async def run_write(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
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
            conn = self.connection()
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
                raise translate(exc, self.url) from exc

        return await self.call(run)

    def _write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a lifecycle write (``durable=False``) on the calling thread if the
        connection, the writer turn and SQLite's write lock are all free; raise
        ``_MustWait`` otherwise, having done nothing.

        Handed to the store's thread, a claim or an ack held SQLite's write lock while
        that thread waited for the GIL behind the event loop's handlers, and every other
        process waited with it (docs/benchmarks.md). Only what needs no waiting runs here,
        so the event loop never blocks on another writer (a handler's open
        ``ctx.transaction()`` holds SQLite's lock and needs this very loop to finish).
        """
        if not self._conn_lock.acquire(blocking=False):
            raise _MustWait
        try:
            if not self._turns.try_take():
                raise _MustWait
            try:
                conn = self.connection()
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
                raise translate(exc, self.url) from exc
            finally:
                self._turns.give_back()
        finally:
            self._conn_lock.release()

    async def run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                return fn(self.connection())
            except sqlite3.Error as exc:
                raise translate(exc, self.url) from exc

        return await self.call(run)

    # -- the Connector protocol ---------------------------------------------------------

    async def read(self, name: str, params: Params, *, plan_each_time: bool = False) -> list[Row]:
        return await self.run_read(lambda conn: rows(conn, name, params))

    async def write(self, name: str, params: Params) -> list[Row]:
        return await self.run_write(lambda conn: rows(conn, name, params))

    async def write_jobs(self, name: str, params: Params) -> list[Row]:
        def run(conn: sqlite3.Connection) -> list[Row]:
            created = rows(conn, name, params)
            if created:
                conn.execute(QUERIES["tally_enqueued"], {"counts": enqueue_counts_of(created)})
            return created

        return await self.run_write(run)

    async def execute(self, name: str, params: Params) -> int:
        return await self.run_write(lambda conn: conn.execute(QUERIES[name], params).rowcount)

    async def execute_all(self, statements: Sequence[tuple[str, Params]]) -> list[int]:
        def run(conn: sqlite3.Connection) -> list[int]:
            return [conn.execute(QUERIES[name], params).rowcount for name, params in statements]

        return await self.run_write(run)

    def time(self, moment: datetime) -> str:
        return encode_time(moment)

    def array(self, values: Sequence[Any]) -> str:
        return json.dumps(list(values))

    def json(self, value: Any) -> str:
        return json.dumps(value)

    def when(self, value: Any) -> datetime:
        return decode_time(value)

    def lease_time(self, now: datetime | None) -> datetime:
        return now or database_now()

    def wake(self, queues: Iterable[str]) -> None:
        self._wake.send(queues)

    def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> BatchInsertPlan:
        return BatchInsertPlan(
            jobs=jobs,
            now=now,
            insert_sql=QUERIES["insert_jobs"],
            unkeyed_sql=QUERIES["insert_unkeyed_jobs"],
            existing_sql=QUERIES["select_existing_jobs"],
            encode_time=encode_time,
            parse_row=parse_row,
            tally_sql=QUERIES["tally_enqueued"],
        )
