"""Fixtures for the car-wash app: a database with both schemas, a real SMTP sink, the app."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from carwash.app import build_app
from carwash.config import CarwashConfig
from carwash.db import make_engine
from carwash.mailsink import MailSink
from carwash.schema import migrate as migrate_domain
from conveyor import Conveyor, RetryPolicy
from conveyor.store.factory import open_store
from conveyor.worker.worker import Worker, WorkerOptions
from tests import pg

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(base_delay=timedelta(milliseconds=50), max_delay=timedelta(seconds=1))


async def migrate_all(url: str) -> None:
    store = await open_store(url, migrate=True)
    await store.close()
    await asyncio.to_thread(migrate_domain, url)


@pytest.fixture(scope="session")
def carwash_pg_template(pg_template: str) -> Iterator[str]:
    """A database with the engine's and the domain's schema, cloned for each test."""
    name = pg.unique_name("carwash_tpl")
    url = pg.create_database(name, template=pg_template)
    asyncio.run(migrate_all(url))
    yield name
    pg.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def carwash_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'carwash.db'}"
        asyncio.run(migrate_all(url))
        yield url
        return
    template = request.getfixturevalue("carwash_pg_template")
    name = pg.unique_name("carwash_t")
    url = pg.create_database(name, template=template)
    yield url
    pg.drop_database(name)


@pytest.fixture
def engine(carwash_url: str) -> Iterator[Engine]:
    made = make_engine(carwash_url)
    yield made
    made.dispose()


@pytest.fixture
def reader(carwash_url: str) -> Iterator[Engine]:
    """An engine for polling: on SQLite its reads do not take the write lock that the
    worker under test needs."""
    made = make_engine(carwash_url, reads_only=True)
    yield made
    made.dispose()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    mail_sink = MailSink()
    async with mail_sink.running():
        yield mail_sink


@pytest.fixture
def config(sink: MailSink) -> CarwashConfig:
    return CarwashConfig(
        smtp_url=sink.url,
        email_retry=FAST_RETRY,
        email_max_attempts=50,
        email_chunks_per_tenant=8,
        run_mail_sink=False,
    )


@pytest.fixture
async def make_app(
    carwash_url: str, tmp_path: Path, config: CarwashConfig
) -> AsyncIterator[Callable[..., Conveyor]]:
    """Builds car-wash apps on the test's database; closes them afterwards."""
    made: list[Conveyor] = []

    def make(**changes: object) -> Conveyor:
        app = build_app(carwash_url, config=replace(config, **changes), data_dir=tmp_path / "data")
        made.append(app)
        return app

    yield make
    for app in made:
        await app.close()


@dataclass
class RunningWorker:
    worker: Worker
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.worker.stop()
        await self.task


@pytest.fixture
async def start_worker() -> AsyncIterator[Callable[..., RunningWorker]]:
    """Starts in-process workers (stopped after the test)."""
    running: list[RunningWorker] = []

    def start(app: Conveyor, concurrency: int = 8) -> RunningWorker:
        worker = Worker(
            app,
            WorkerOptions(max_concurrency=concurrency, poll_interval=timedelta(milliseconds=100)),
        )
        handle = RunningWorker(worker, asyncio.create_task(worker.run()))
        running.append(handle)
        return handle

    yield start
    for handle in running:
        if not handle.task.done():
            await handle.stop()


async def eventually(check: Callable[[], object], timeout: float = 60.0) -> None:
    """Re-check a condition (sync or async) until it holds; the only waiting tests do."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
