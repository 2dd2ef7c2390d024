"""PostgresConnector: the connection pools, and how the store's statements run on them
(each on a pooled autocommit connection, or several in one transaction)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import AsyncCursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool

from conveyor.errors import StoreError, StoreUnavailable
from conveyor.job import Job
from conveyor.store.base import NewJob
from conveyor.store.insert import BatchInsertPlan
from conveyor.store.rows import job_from_row
from conveyor.store.runner import Params, Row
from conveyor.store.sql import load_queries

QUERIES = load_queries("conveyor.store.postgres")
Cursor = TypeVar("Cursor", bound=AsyncCursor[Any])
AsyncConnection = psycopg.AsyncConnection[Any]
Pool = AsyncConnectionPool[AsyncConnection]


def json_as_text(cursor: Cursor) -> Cursor:
    """Have ``cursor`` return jsonb as JSON text, as SQLite does, so that rows.decode_json
    parses every value alike (psycopg's own decoding turns the JSON string "x" into the str
    "x", which decode_json cannot tell from JSON text). Per cursor: handler SQL on pooled
    connections keeps psycopg's default."""
    cursor.adapters.register_loader("jsonb", TextLoader)
    return cursor


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


def parse_row(row: Any) -> Job:
    return job_from_row(row, decode_time)


def translate(exc: psycopg.Error, url: str) -> StoreError:
    if isinstance(exc, psycopg.OperationalError):
        return StoreUnavailable(f"PostgreSQL at {url}: {exc}")
    return StoreError(f"PostgreSQL at {url}: {exc}")


class PostgresConnector:
    """Times and lists go to psycopg as they are; its statements NOTIFY for themselves."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: timedelta = timedelta(seconds=5),
    ) -> None:
        self.conninfo = conninfo
        self._min = min_connections
        self._max = max_connections
        self._connect_timeout = connect_timeout
        self._pool: Pool | None = None
        self._guard: asyncio.Task[None] | None = None
        self._side_pools: dict[str, Pool] = {}
        self._side_pools_lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return redact_url(self.conninfo)

    async def open(self) -> None:
        if self._pool is not None:
            return
        timeout = max(1, int(self._connect_timeout.total_seconds()))
        # One direct connection first: a wrong or unreachable URL fails fast with the
        # driver's reason instead of a pool timeout after retries.
        try:
            probe = await psycopg.AsyncConnection.connect(self.conninfo, connect_timeout=timeout)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {self.url}: {reason}") from exc
        await probe.close()
        self._pool = await self._open_pool(min_size=self._min, max_size=self._max)
        self._guard = asyncio.create_task(self._close_at_loop_end(), name="conveyor-store-guard")

    async def _close_at_loop_end(self) -> None:
        """Wait to be cancelled, then close the pools if they are still open.

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

    async def side_pool(
        self, name: str, *, max_size: int, configure: Callable[[AsyncConnection], Awaitable[None]]
    ) -> Pool:
        """The pool ``name`` beside the main one, for connections whose session settings
        must reach no other SQL; opened on first use, closed with the main pool."""
        self.pool()  # the store is open
        async with self._side_pools_lock:
            if name not in self._side_pools:
                self._side_pools[name] = await self._open_pool(
                    min_size=1, max_size=max_size, configure=configure
                )
            return self._side_pools[name]

    async def _open_pool(
        self,
        *,
        min_size: int,
        max_size: int,
        configure: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> Pool:
        timeout = max(1, int(self._connect_timeout.total_seconds()))
        pool: Pool = AsyncConnectionPool(
            self.conninfo,
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
        pools = [self._pool, *self._side_pools.values()]
        self._pool, self._side_pools = None, {}
        for each in pools:
            if each is not None:
                await each.close()

    def pool(self) -> Pool:
        if self._pool is None:
            raise StoreUnavailable(f"store {self.url} is not open")
        return self._pool

    async def fetch(
        self, sql: LiteralString, params: Params, *, prepare: bool | None = None
    ) -> list[Row]:
        """Run ``sql`` on a pooled connection; its rows as dicts, jsonb as JSON text."""
        try:
            async with self.pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                json_as_text(cur)
                await cur.execute(sql, params, prepare=prepare)
                return await cur.fetchall()
        except psycopg.Error as exc:
            raise translate(exc, self.url) from exc

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncCursor[Row]]:
        """A dict-row cursor (jsonb as JSON text) inside one transaction on one pooled
        connection."""
        try:
            async with (
                self.pool().connection() as conn,
                conn.transaction(),
                conn.cursor(row_factory=dict_row) as cur,
            ):
                yield json_as_text(cur)
        except psycopg.Error as exc:
            raise translate(exc, self.url) from exc

    # -- the Connector protocol ---------------------------------------------------------

    async def read(self, name: str, params: Params, *, plan_each_time: bool = False) -> list[Row]:
        return await self.fetch(QUERIES[name], params, prepare=False if plan_each_time else None)

    async def write(self, name: str, params: Params) -> list[Row]:
        return await self.fetch(QUERIES[name], params)

    async def write_jobs(self, name: str, params: Params) -> list[Row]:
        # The statement counts what it inserts itself (a data-modifying CTE).
        return await self.write(name, params)

    async def execute(self, name: str, params: Params) -> int:
        return (await self.execute_all([(name, params)]))[0]

    async def execute_all(self, statements: Sequence[tuple[str, Params]]) -> list[int]:
        if len(statements) == 1:  # autocommit: no BEGIN and COMMIT round trips
            name, params = statements[0]
            try:
                async with self.pool().connection() as conn:
                    return [max((await conn.execute(QUERIES[name], params)).rowcount, 0)]
            except psycopg.Error as exc:
                raise translate(exc, self.url) from exc
        counts: list[int] = []
        async with self.transaction() as cur:
            for name, params in statements:
                await cur.execute(QUERIES[name], params)
                counts.append(max(cur.rowcount, 0))
        return counts

    def time(self, moment: datetime) -> datetime:
        return moment

    def array(self, values: Sequence[Any]) -> list[Any]:
        return list(values)

    def json(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def when(self, value: Any) -> datetime:
        return decode_time(value)

    def lease_time(self, now: datetime | None) -> datetime | None:
        return now  # None: the statement reads the database's clock (now())

    def wake(self, queues: Iterable[str]) -> None:
        pass  # the statements that make jobs runnable NOTIFY in their own transaction

    def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> BatchInsertPlan:
        return BatchInsertPlan(
            jobs=jobs,
            now=now,
            insert_sql=QUERIES["insert_jobs"],
            unkeyed_sql=QUERIES["insert_unkeyed_jobs"],
            existing_sql=QUERIES["select_existing_jobs"],
            encode_time=lambda moment: moment.isoformat(),
            parse_row=parse_row,
        )
