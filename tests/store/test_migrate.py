"""Conformance: schema migrations, including concurrent ones on an empty database."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from conveyor.errors import StoreError, StoreUnavailable
from conveyor.store.base import Store
from conveyor.store.factory import open_store
from tests import pg
from tests.store.helpers import NOW, insert, is_sqlite_url


@pytest.fixture
async def empty_url(store_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A brand-new, never migrated database of the same kind as ``store_url``.

    Creating an empty database is the one thing that depends on the kind of URL; every
    assertion below is the same for both backends.
    """
    if is_sqlite_url(store_url):
        yield f"sqlite:///{tmp_path / 'empty' / 'fresh.db'}"
        return
    name = pg.unique_name("conveyor_empty")
    url = pg.create_database(name)
    try:
        yield url
    finally:
        pg.drop_database(name)


@pytest.fixture
def poisoned_url(empty_url: str) -> str:
    """An empty database holding a foreign table named as Conveyor's jobs table, so that
    the first migration fails; the same SQL on both backends."""
    if is_sqlite_url(empty_url):
        path = Path(empty_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("CREATE TABLE conveyor_jobs (unrelated integer)")
    else:
        with psycopg.connect(empty_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE conveyor_jobs (unrelated integer)")
    return empty_url


async def test_migrated_store_is_at_the_expected_version(store: Store) -> None:
    assert store.expected_version >= 1
    assert await store.schema_version() == store.expected_version


async def test_migrate_is_idempotent_and_keeps_data(store: Store) -> None:
    [job] = await insert(store)

    assert await store.migrate() == store.expected_version
    assert await store.migrate() == store.expected_version

    assert await store.schema_version() == store.expected_version
    assert await store.get_job(job_id=job.id) == job


async def test_empty_database_is_at_version_zero_until_migrated(empty_url: str) -> None:
    store = await open_store(empty_url)
    try:
        assert await store.schema_version() == 0

        assert await store.migrate() == store.expected_version

        assert await store.schema_version() == store.expected_version
        [job] = await insert(store)
        assert (await store.get_job(job_id=job.id)).created_at == NOW
    finally:
        await store.close()


async def test_concurrent_migrations_of_an_empty_database_are_safe(empty_url: str) -> None:
    stores = await asyncio.gather(*(open_store(empty_url) for _ in range(8)))
    try:
        versions = await asyncio.gather(*(s.migrate() for s in stores))

        expected = stores[0].expected_version
        assert versions == [expected] * len(stores)
        assert [await s.schema_version() for s in stores] == [expected] * len(stores)
        [job] = await insert(stores[0])
        assert await stores[-1].get_job(job_id=job.id) == job
    finally:
        for s in stores:
            await s.close()


async def test_failed_migration_is_a_store_error_not_an_outage(poisoned_url: str) -> None:
    store = await open_store(poisoned_url)
    try:
        with pytest.raises(StoreError) as raised:
            await store.migrate()
        assert not isinstance(raised.value, StoreUnavailable)
    finally:
        await store.close()


async def test_unmigrated_database_is_a_store_error_not_an_outage(empty_url: str) -> None:
    store = await open_store(empty_url)
    try:
        with pytest.raises(StoreError) as raised:
            await store.get_job(job_id=1)
        assert not isinstance(raised.value, StoreUnavailable)
    finally:
        await store.close()
