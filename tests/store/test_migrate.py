"""Conformance: schema migrations, including concurrent ones on an empty database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
