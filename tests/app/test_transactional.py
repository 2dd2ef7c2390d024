"""Transactional enqueue: a job enqueued on the application's connection lives or dies with it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from typing import Any

import psycopg
import pydantic
import pytest
import sqlalchemy as sa
from psycopg.rows import namedtuple_row, tuple_row
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from conveyor import ConfigurationError, Conveyor, Job, JobNotFound, JobState, Task
from conveyor.clock import FrozenClock
from conveyor.store.factory import sqlite_path
from conveyor.testing import drain

OUTCOMES = ["rollback", "commit"]


class Invoice(pydantic.BaseModel):
    order_id: int


async def send_invoice(payload: Invoice) -> dict[str, int]:
    return {"sent": payload.order_id}


# -- helpers -------------------------------------------------------------------------------


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def _sqlalchemy_url(url: str) -> str:
    """``sqlite:////abs/path`` as is; ``postgresql://`` with SQLAlchemy's psycopg 3 driver."""
    if _is_sqlite(url):
        return f"sqlite:///{sqlite_path(url)}"
    return "postgresql+psycopg://" + url.removeprefix("postgresql://")


def _run_sql(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run one statement on a connection of its own and commit."""
    if _is_sqlite(url):
        with closing(sqlite3.connect(sqlite_path(url))) as conn:
            rows = conn.execute(sql).fetchall()
            conn.commit()
            return rows
    with psycopg.connect(url) as pg:
        cur = pg.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def _orders(url: str) -> list[int]:
    return [row[0] for row in _run_sql(url, "SELECT id FROM orders ORDER BY id")]


async def _prepare(app: Conveyor, url: str) -> Task[Any]:
    """Open (and migrate) the app's store, create the application's ``orders`` table and
    register the task. The store is opened first: migrating an SQLite file needs its write
    lock, which the test's own transaction would otherwise hold."""
    await app.store()
    _run_sql(url, "CREATE TABLE orders (id integer PRIMARY KEY)")
    return app.task(send_invoice)


async def _assert_outcome(app: Conveyor, url: str, job: Job, committed: bool) -> None:
    """Both the order and the job exist after a commit; neither after a rollback."""
    jobs = (await app.list_jobs()).jobs
    if committed:
        assert _orders(url) == [1]
        assert [j.id for j in jobs] == [job.id]
        stored = await app.get_job(job.id)
        assert stored.to_json() == job.to_json()
        assert await drain(app) == 1
        assert (await app.get_job(job.id)).result == {"sent": 1}
    else:
        assert _orders(url) == []
        assert jobs == []
        with pytest.raises(JobNotFound):
            await app.get_job(job.id)


def _assert_enqueued(job: Job, task: Task[Any], clock: FrozenClock) -> None:
    assert job.id > 0
    assert job.task == task.name
    assert job.state is JobState.AVAILABLE
    assert job.payload == {"order_id": 1}
    assert job.created_at == clock.now()


async def _invisible_outside(app: Conveyor) -> None:
    """Before the application commits, nobody else sees the job."""
    assert (await app.list_jobs()).jobs == []


@pytest.fixture
async def sqlite_app(sqlite_url: str, clock: FrozenClock) -> AsyncIterator[Conveyor]:
    conveyor = Conveyor(sqlite_url, clock=clock)
    yield conveyor
    await conveyor.close()


@pytest.fixture
async def pg_app(pg_url: str, clock: FrozenClock) -> AsyncIterator[Conveyor]:
    conveyor = Conveyor(pg_url, clock=clock)
    yield conveyor
    await conveyor.close()


# -- sqlite3 -------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["async", "sync"])
@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_sqlite3_connection(
    sqlite_app: Conveyor, sqlite_url: str, clock: FrozenClock, outcome: str, api: str
) -> None:
    task = await _prepare(sqlite_app, sqlite_url)

    with closing(sqlite3.connect(sqlite_path(sqlite_url))) as conn:
        conn.execute("INSERT INTO orders (id) VALUES (1)")
        if api == "async":
            job = await sqlite_app.enqueue("send_invoice", {"order_id": 1}, connection=conn)
        else:
            job = sqlite_app.enqueue_sync("send_invoice", {"order_id": 1}, connection=conn)
        _assert_enqueued(job, task, clock)
        await _invisible_outside(sqlite_app)
        if outcome == "commit":
            conn.commit()
        else:
            conn.rollback()

    await _assert_outcome(sqlite_app, sqlite_url, job, outcome == "commit")


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_sqlite3_connection_enqueue_many(
    sqlite_app: Conveyor, sqlite_url: str, outcome: str
) -> None:
    task = await _prepare(sqlite_app, sqlite_url)

    with closing(sqlite3.connect(sqlite_path(sqlite_url))) as conn:
        conn.execute("INSERT INTO orders (id) VALUES (1)")
        jobs = await task.enqueue_many([Invoice(order_id=i) for i in range(3)], connection=conn)
        assert [j.payload["order_id"] for j in jobs] == [0, 1, 2]
        assert len({j.id for j in jobs}) == 3
        if outcome == "commit":
            conn.commit()
        else:
            conn.rollback()

    listed = (await sqlite_app.list_jobs()).jobs
    expected = sorted((j.id for j in jobs), reverse=True) if outcome == "commit" else []
    assert [j.id for j in listed] == expected
    assert _orders(sqlite_url) == ([1] if outcome == "commit" else [])


async def test_sqlite3_idempotency_inside_and_across_transactions(
    sqlite_app: Conveyor, sqlite_url: str
) -> None:
    task = await _prepare(sqlite_app, sqlite_url)
    held = await task.enqueue(Invoice(order_id=0), idempotency_key="held")

    with closing(sqlite3.connect(sqlite_path(sqlite_url))) as conn:
        first = await task.enqueue(Invoice(order_id=1), idempotency_key="k", connection=conn)
        again = await task.enqueue(Invoice(order_id=2), idempotency_key="k", connection=conn)
        old = await task.enqueue(Invoice(order_id=3), idempotency_key="held", connection=conn)
        conn.commit()

    assert again.id == first.id
    assert old.id == held.id
    assert sorted(j.id for j in (await sqlite_app.list_jobs()).jobs) == sorted([held.id, first.id])


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


@pytest.mark.parametrize("row_factory", [sqlite3.Row, _dict_row], ids=["Row", "dict"])
async def test_sqlite3_connection_with_the_applications_row_factory(
    sqlite_app: Conveyor, sqlite_url: str, row_factory: Any
) -> None:
    task = await _prepare(sqlite_app, sqlite_url)

    with closing(sqlite3.connect(sqlite_path(sqlite_url))) as conn:
        conn.row_factory = row_factory
        job = await task.enqueue(Invoice(order_id=1), connection=conn)
        synced = sqlite_app.enqueue_sync(task, Invoice(order_id=2), connection=conn)
        conn.commit()
        assert conn.row_factory is row_factory, "the application's setting is left alone"

    assert job.payload == {"order_id": 1}
    assert synced.payload == {"order_id": 2}
    assert [j.id for j in (await sqlite_app.list_jobs()).jobs] == [synced.id, job.id]


# -- psycopg -------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["sync", "async"])
@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_psycopg_connection(
    pg_app: Conveyor, pg_url: str, clock: FrozenClock, outcome: str, api: str
) -> None:
    task = await _prepare(pg_app, pg_url)

    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO orders (id) VALUES (1)")
        if api == "sync":
            job = pg_app.enqueue_sync(task, Invoice(order_id=1), connection=conn)
        else:
            job = await pg_app.enqueue(task, Invoice(order_id=1), connection=conn)
        _assert_enqueued(job, task, clock)
        await _invisible_outside(pg_app)
        if outcome == "commit":
            conn.commit()
        else:
            conn.rollback()

    await _assert_outcome(pg_app, pg_url, job, outcome == "commit")


@pytest.mark.parametrize("row_factory", [namedtuple_row, tuple_row], ids=["namedtuple", "tuple"])
async def test_psycopg_connection_with_the_applications_row_factory(
    pg_app: Conveyor, pg_url: str, row_factory: Any
) -> None:
    task = await _prepare(pg_app, pg_url)

    with psycopg.connect(pg_url, row_factory=row_factory) as conn:
        job = pg_app.enqueue_sync(task, Invoice(order_id=1), connection=conn)
        conn.commit()

    assert job.payload == {"order_id": 1}
    assert (await pg_app.get_job(job.id)).to_json() == job.to_json()


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_psycopg_async_connection(
    pg_app: Conveyor, pg_url: str, clock: FrozenClock, outcome: str
) -> None:
    task = await _prepare(pg_app, pg_url)

    aconn = await psycopg.AsyncConnection.connect(pg_url)
    try:
        await aconn.execute("INSERT INTO orders (id) VALUES (1)")
        job = await pg_app.enqueue("send_invoice", {"order_id": 1}, connection=aconn)
        _assert_enqueued(job, task, clock)
        await _invisible_outside(pg_app)
        if outcome == "commit":
            await aconn.commit()
        else:
            await aconn.rollback()
    finally:
        await aconn.close()

    await _assert_outcome(pg_app, pg_url, job, outcome == "commit")


async def test_psycopg_transaction_block_rolls_back_on_error(pg_app: Conveyor, pg_url: str) -> None:
    task = await _prepare(pg_app, pg_url)

    class Abort(Exception):
        pass

    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(Abort), conn.transaction():
            conn.execute("INSERT INTO orders (id) VALUES (1)")
            job = pg_app.enqueue_sync(task, Invoice(order_id=1), connection=conn)
            raise Abort
        with conn.transaction():
            conn.execute("INSERT INTO orders (id) VALUES (2)")
            kept = pg_app.enqueue_sync(task, Invoice(order_id=2), connection=conn)

    assert _orders(pg_url) == [2]
    assert [j.id for j in (await pg_app.list_jobs()).jobs] == [kept.id]
    with pytest.raises(JobNotFound):
        await pg_app.get_job(job.id)


async def test_enqueue_sync_works_before_the_app_opened_its_store(
    pg_url: str, clock: FrozenClock
) -> None:
    # A sync web app may never run the event loop that opens the store.
    app = Conveyor(pg_url, clock=clock)
    task = app.task(send_invoice)
    with psycopg.connect(pg_url) as conn:
        job = app.enqueue_sync(task, Invoice(order_id=5), connection=conn)
        conn.commit()

    assert app._store is None, "enqueue_sync opened no store"
    rows = _run_sql(pg_url, f"SELECT id, task FROM conveyor_jobs WHERE id = {job.id}")
    assert rows == [(job.id, task.name)]


async def test_enqueue_sync_refuses_an_async_connection(pg_app: Conveyor, pg_url: str) -> None:
    task = await _prepare(pg_app, pg_url)

    aconn = await psycopg.AsyncConnection.connect(pg_url)
    try:
        with pytest.raises(ConfigurationError, match="await"):
            pg_app.enqueue_sync(task, Invoice(order_id=1), connection=aconn)
    finally:
        await aconn.close()
    assert (await pg_app.list_jobs()).jobs == []


# -- SQLAlchemy 2.0 --------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["sync", "async"])
@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_sqlalchemy_connection(
    app: Conveyor, store_url: str, clock: FrozenClock, outcome: str, api: str
) -> None:
    task = await _prepare(app, store_url)
    engine = sa.create_engine(_sqlalchemy_url(store_url))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("INSERT INTO orders (id) VALUES (1)"))
            if api == "sync":
                job = app.enqueue_sync(task, Invoice(order_id=1), connection=conn)
            else:
                job = await app.enqueue(task, Invoice(order_id=1), connection=conn)
            _assert_enqueued(job, task, clock)
            await _invisible_outside(app)
            if outcome == "commit":
                conn.commit()
            else:
                conn.rollback()
    finally:
        engine.dispose()

    await _assert_outcome(app, store_url, job, outcome == "commit")


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_sqlalchemy_session(
    app: Conveyor, store_url: str, clock: FrozenClock, outcome: str
) -> None:
    task = await _prepare(app, store_url)
    engine = sa.create_engine(_sqlalchemy_url(store_url))
    try:
        with Session(engine) as session:
            session.execute(sa.text("INSERT INTO orders (id) VALUES (1)"))
            job = app.enqueue_sync("send_invoice", {"order_id": 1}, connection=session)
            _assert_enqueued(job, task, clock)
            await _invisible_outside(app)
            if outcome == "commit":
                session.commit()
            else:
                session.rollback()
    finally:
        engine.dispose()

    await _assert_outcome(app, store_url, job, outcome == "commit")


async def test_sqlalchemy_session_begin_block_rolls_back_on_error(
    app: Conveyor, store_url: str
) -> None:
    task = await _prepare(app, store_url)
    engine = sa.create_engine(_sqlalchemy_url(store_url))

    class Abort(Exception):
        pass

    try:
        with Session(engine) as session:
            with pytest.raises(Abort), session.begin():
                session.execute(sa.text("INSERT INTO orders (id) VALUES (1)"))
                job = app.enqueue_sync(task, Invoice(order_id=1), connection=session)
                raise Abort
            with session.begin():
                session.execute(sa.text("INSERT INTO orders (id) VALUES (2)"))
                kept = app.enqueue_sync(task, Invoice(order_id=2), connection=session)
    finally:
        engine.dispose()

    assert _orders(store_url) == [2]
    jobs = (await app.list_jobs()).jobs
    assert [(j.id, j.payload) for j in jobs] == [(kept.id, {"order_id": 2})]
    # SQLite may hand a rolled-back id out again; it never names the rolled-back job.
    assert job.payload == {"order_id": 1}


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_sqlalchemy_async_connection(
    pg_app: Conveyor, pg_url: str, clock: FrozenClock, outcome: str
) -> None:
    task = await _prepare(pg_app, pg_url)
    engine = create_async_engine(_sqlalchemy_url(pg_url))
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("INSERT INTO orders (id) VALUES (1)"))
            job = await pg_app.enqueue(task, Invoice(order_id=1), connection=conn)
            _assert_enqueued(job, task, clock)
            await _invisible_outside(pg_app)
            if outcome == "commit":
                await conn.commit()
            else:
                await conn.rollback()
    finally:
        await engine.dispose()

    await _assert_outcome(pg_app, pg_url, job, outcome == "commit")


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_sqlalchemy_async_session(
    pg_app: Conveyor, pg_url: str, clock: FrozenClock, outcome: str
) -> None:
    task = await _prepare(pg_app, pg_url)
    engine = create_async_engine(_sqlalchemy_url(pg_url))
    try:
        async with AsyncSession(engine) as session:
            await session.execute(sa.text("INSERT INTO orders (id) VALUES (1)"))
            job = await task.enqueue(Invoice(order_id=1), connection=session)
            _assert_enqueued(job, task, clock)
            await _invisible_outside(pg_app)
            if outcome == "commit":
                await session.commit()
            else:
                await session.rollback()
    finally:
        await engine.dispose()

    await _assert_outcome(pg_app, pg_url, job, outcome == "commit")


async def test_enqueue_sync_refuses_a_sqlalchemy_async_connection(
    pg_app: Conveyor, pg_url: str
) -> None:
    task = await _prepare(pg_app, pg_url)
    engine = create_async_engine(_sqlalchemy_url(pg_url))
    try:
        async with engine.connect() as conn:
            with pytest.raises(ConfigurationError, match="await"):
                pg_app.enqueue_sync(task, Invoice(order_id=1), connection=conn)
    finally:
        await engine.dispose()


# -- the wrong kind of connection ------------------------------------------------------------


async def test_a_sqlite3_connection_for_a_postgres_app_is_refused(
    pg_app: Conveyor, pg_url: str
) -> None:
    task = await _prepare(pg_app, pg_url)

    with closing(sqlite3.connect(":memory:")) as conn:
        with pytest.raises(ConfigurationError) as info:
            await task.enqueue(Invoice(order_id=1), connection=conn)
        assert "postgresql" in str(info.value) and "sqlite" in str(info.value)
        with pytest.raises(ConfigurationError):
            pg_app.enqueue_sync(task, Invoice(order_id=1), connection=conn)

    assert (await pg_app.list_jobs()).jobs == []


async def test_postgres_connections_for_a_sqlite_app_are_refused(
    sqlite_app: Conveyor, sqlite_url: str, pg_url: str
) -> None:
    task = await _prepare(sqlite_app, sqlite_url)
    engine = sa.create_engine(_sqlalchemy_url(pg_url))
    try:
        with psycopg.connect(pg_url) as conn:
            with pytest.raises(ConfigurationError):
                await task.enqueue(Invoice(order_id=1), connection=conn)
            with pytest.raises(ConfigurationError):
                sqlite_app.enqueue_sync(task, Invoice(order_id=1), connection=conn)
        with engine.connect() as sa_conn, pytest.raises(ConfigurationError):
            sqlite_app.enqueue_sync(task, Invoice(order_id=1), connection=sa_conn)
        with Session(engine) as session, pytest.raises(ConfigurationError):
            sqlite_app.enqueue_sync(task, Invoice(order_id=1), connection=session)
    finally:
        engine.dispose()

    assert (await sqlite_app.list_jobs()).jobs == []
    assert _run_sql(pg_url, "SELECT count(*) FROM conveyor_jobs") == [(0,)]


@pytest.mark.parametrize("connection", [object(), "postgresql://nope", 42])
async def test_something_that_is_not_a_connection_is_refused(
    app: Conveyor, store_url: str, connection: Any
) -> None:
    task = await _prepare(app, store_url)
    with pytest.raises(ConfigurationError, match="cannot enqueue through"):
        await task.enqueue(Invoice(order_id=1), connection=connection)
    with pytest.raises(ConfigurationError, match="cannot enqueue through"):
        app.enqueue_sync(task, Invoice(order_id=1), connection=connection)
    assert (await app.list_jobs()).jobs == []
