"""Transactional enqueue: run an insert plan on the application's own open connection.

The job rows are written by the application's transaction, so they exist if and only if
that transaction commits (DESIGN.md §2.4). Supported connections: ``sqlite3.Connection``,
psycopg 3 ``Connection``/``AsyncConnection``, and SQLAlchemy 2.0 ``Connection``,
``Session``, ``AsyncConnection`` and ``AsyncSession``.
"""

from __future__ import annotations

import inspect
import sqlite3
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.store.base import Inserted, InsertPlan, SqlStatement

Rows = list[dict[str, Any]]


def connection_dialect(connection: Any) -> str:
    """``"sqlite"`` or ``"postgresql"``: the SQL the connection speaks."""
    if isinstance(connection, sqlite3.Connection):
        return "sqlite"
    module = type(connection).__module__
    if module.startswith("psycopg"):
        return "postgresql"
    if module.startswith("sqlalchemy"):
        bind = connection.get_bind() if hasattr(connection, "get_bind") else connection
        name = str(bind.dialect.name)
        if name in {"sqlite", "postgresql"}:
            return name
        raise ConfigurationError(f"transactional enqueue does not support {name!r} databases")
    raise ConfigurationError(
        f"cannot enqueue through a {type(connection).__qualname__}: pass a sqlite3 or "
        "psycopg connection, or an SQLAlchemy Connection/Session (sync or async)"
    )


async def run_plan(plan: InsertPlan, connection: Any) -> list[Inserted]:
    """Execute ``plan`` on ``connection`` without committing: the caller's transaction
    decides whether the jobs exist."""
    inserted = await _fetch(connection, plan.insert())
    if (tally := plan.tally(inserted)) is not None:
        await _fetch(connection, tally)
    second = plan.existing(inserted)
    existing = [] if second is None else await _fetch(connection, second)
    return plan.finish(inserted, existing)


def run_plan_sync(plan: InsertPlan, connection: Any) -> list[Inserted]:
    """As ``run_plan``, for synchronous connections only."""
    inserted = _fetch_sync(connection, plan.insert())
    if (tally := plan.tally(inserted)) is not None:
        _fetch_sync(connection, tally)
    second = plan.existing(inserted)
    existing = [] if second is None else _fetch_sync(connection, second)
    return plan.finish(inserted, existing)


async def _fetch(connection: Any, statement: SqlStatement) -> Rows:
    module = type(connection).__module__
    if module.startswith("psycopg") and _is_async_psycopg(connection):
        from psycopg.rows import dict_row

        async with connection.cursor(row_factory=dict_row) as cur:
            await cur.execute(statement.sql, dict(statement.params))
            return list(await cur.fetchall())
    if module.startswith("sqlalchemy") and _is_async_sqlalchemy(connection):
        target = connection
        if hasattr(connection, "get_bind") and not hasattr(connection, "exec_driver_sql"):
            target = await connection.connection()  # AsyncSession -> AsyncConnection
        result = await target.exec_driver_sql(statement.sql, dict(statement.params))
        return [dict(row) for row in result.mappings().all()] if result.returns_rows else []
    return _fetch_sync(connection, statement)


def _fetch_sync(connection: Any, statement: SqlStatement) -> Rows:
    params = dict(statement.params)
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.row_factory = None  # plain tuples, whatever row_factory the application set
        try:
            cursor.execute(statement.sql, params)
            return _sqlite_rows(cursor)
        finally:
            cursor.close()
    module = type(connection).__module__
    if module.startswith("psycopg"):
        if _is_async_psycopg(connection):
            raise ConfigurationError("use `await app.enqueue(...)` with an async connection")
        from psycopg.rows import dict_row

        with connection.cursor(row_factory=dict_row) as cur:
            cur.execute(statement.sql, params)
            return list(cur.fetchall())
    if module.startswith("sqlalchemy"):
        if _is_async_sqlalchemy(connection):
            raise ConfigurationError("use `await app.enqueue(...)` with an async connection")
        target = connection.connection() if hasattr(connection, "get_bind") else connection
        result = target.exec_driver_sql(statement.sql, params)
        return [dict(row) for row in result.mappings().all()] if result.returns_rows else []
    connection_dialect(connection)  # raises a clear error for anything else
    raise AssertionError("unreachable")


def _sqlite_rows(cursor: sqlite3.Cursor) -> Rows:
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _is_async_psycopg(connection: Any) -> bool:
    return inspect.iscoroutinefunction(getattr(connection, "commit", None))


def _is_async_sqlalchemy(connection: Any) -> bool:
    return type(connection).__name__ in {"AsyncConnection", "AsyncSession"}


def check_same_dialect(connection: Any, store_dialect: str) -> None:
    dialect = connection_dialect(connection)
    if dialect != store_dialect:
        raise ConfigurationError(
            f"transactional enqueue needs a connection to the job store's database: the "
            f"store is {store_dialect}, the connection is {dialect}"
        )
