"""The domain's database access: SQLAlchemy engines on the queue's database, and running
SQLAlchemy Core statements inside a job's own transaction (``ctx.transaction()``).

Two paths, on purpose. Work that must commit together with its job (a credit grant, a
sync chunk and its checkpoint, an import batch) builds Core statements and runs them
through ``run(tx, statement)``: compiled for the transaction's dialect and executed on the
job's fenced connection, with SQLAlchemy's own type conversions applied both ways.
Everything else (the API, the mail chunks' per-recipient state, demo data) uses an
ordinary ``Engine`` from ``make_engine``.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import NullPool, QueuePool
from sqlalchemy.sql import ClauseElement, Select
from sqlalchemy.sql.compiler import SQLCompiler

Row = dict[str, Any]
T = TypeVar("T")
_EXPANDED = re.compile(r"^(.*)_\d+$")


class JobTx(Protocol):
    """What ``run`` needs of ``ctx.transaction()``'s handle."""

    @property
    def dialect(self) -> str: ...

    async def execute(
        self, sql: Any, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy URL for a Conveyor database URL (psycopg 3 for PostgreSQL)."""
    scheme, sep, rest = url.partition("://")
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        return f"postgresql+psycopg://{rest}"
    if scheme == "sqlite" and sep:
        return url
    raise ValueError(f"unsupported database URL {url!r}")


def make_engine(url: str, *, pooled: bool = True, reads_only: bool = False) -> Engine:
    """An engine on the queue's database. On SQLite every transaction begins IMMEDIATE
    (takes the write lock at once): a deferred one that later writes can fail with
    "database is locked" instead of waiting for the queue's writer. An engine for
    ``reads_only`` begins deferred instead, so a read never waits for (or holds up) a
    writer: WAL gives it a snapshot.

    SQLite connections are pooled too: a fresh one parses the whole schema on its first
    statement, which made a one-row ``UPDATE`` ten times slower than on a reused one."""
    target = sqlalchemy_url(url)
    if target.startswith("sqlite"):
        engine = create_engine(
            target,
            # Pooled connections move between the threads of ``asyncio.to_thread``.
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=QueuePool if pooled else NullPool,
        )
        begin = "BEGIN" if reads_only else "BEGIN IMMEDIATE"

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below decides
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        return engine
    return create_engine(target, pool_pre_ping=True, **({} if pooled else {"poolclass": NullPool}))


@cache
def dialect_named(name: str) -> Dialect:
    if name == "postgresql":
        return cast(Dialect, postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]
    if name == "sqlite":
        return cast(Dialect, sqlite.pysqlite.dialect(paramstyle="named"))
    raise ValueError(f"no dialect {name!r}")


def compile_statement(statement: ClauseElement, dialect_name: str) -> tuple[str, dict[str, Any]]:
    """SQL text and bound parameters for ``statement`` in the driver's own paramstyle,
    with each parameter converted by its column type (e.g. datetimes to text on SQLite)."""
    dialect = dialect_named(dialect_name)
    compiled = cast(
        SQLCompiler,
        statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True}),
    )
    params = compiled.construct_params() or {}
    converted: dict[str, Any] = {}
    for name, value in params.items():
        bind = compiled.binds.get(name)
        if bind is None and (match := _EXPANDED.match(name)):  # one value of an IN list
            bind = compiled.binds.get(match.group(1))
        processor = (
            bind.type.dialect_impl(dialect).bind_processor(dialect) if bind is not None else None
        )
        converted[name] = processor(value) if processor and value is not None else value
    return str(compiled), converted


async def run(tx: JobTx, statement: ClauseElement) -> list[Row]:
    """Execute ``statement`` in a job's transaction; a SELECT's rows come back as dicts
    with SQLAlchemy's result conversions applied (dates as ``date``, times as UTC)."""
    sql, params = compile_statement(statement, tx.dialect)
    rows = await tx.execute(sql, params)
    if isinstance(statement, Select) and rows:
        dialect = dialect_named(tx.dialect)
        processors = {}
        for column in statement.selected_columns:
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None and column.key is not None:
                processors[column.key] = processor
        if processors:
            for row in rows:
                for key, processor in processors.items():
                    if row.get(key) is not None:
                        row[key] = processor(row[key])
    return rows


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Database:
    """The domain's engines on the app's database, created on first use. ``read`` and
    ``write`` run a function on a connection in a worker thread, so the event loop (and
    the worker's heartbeats) never wait on the database; ``write`` commits on success,
    ``read`` must not write (on SQLite it does not take the write lock)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._reader: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
            # Close pooled connections when the app goes away without dispose() (an app
            # is often just dropped): a driver connection left to the GC warns.
            weakref.finalize(self, self._engine.dispose)
        return self._engine

    @property
    def reader(self) -> Engine:
        if self._reader is None:
            sqlite = sqlalchemy_url(self.url).startswith("sqlite")
            self._reader = make_engine(self.url, reads_only=True) if sqlite else self.engine
            weakref.finalize(self, self._reader.dispose)
        return self._reader

    async def read(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self.reader.connect() as conn:
                return fn(conn)

        return await asyncio.to_thread(run)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self.engine.begin() as conn:
                return fn(conn)

        return await asyncio.to_thread(run)

    def dispose(self) -> None:
        for engine in (self._reader, self._engine):
            if engine is not None:
                engine.dispose()
        self._engine = self._reader = None
