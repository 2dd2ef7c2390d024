"""Wake-ups across store objects and processes: what makes jobs runnable wakes listeners."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from conveyor.store.base import Store
from conveyor.store.factory import open_store
from tests.store.helpers import NOW, insert, new_job

CHILD_ENQUEUES = """
import asyncio, sys
from conveyor.store.base import NewJob
from conveyor.store.factory import open_store
from datetime import UTC, datetime

async def main() -> None:
    store = await open_store(sys.argv[1])
    now = datetime.now(UTC)
    job = NewJob(task="t", queue="from-child", payload={}, run_at=now)
    await store.insert_jobs(jobs=[job], now=now)
    await store.close()

asyncio.run(main())
"""


@asynccontextmanager
async def listening(store_url: str) -> AsyncIterator[asyncio.Queue[str]]:
    """The queue names a listener on a store object of its own hears."""
    other = await open_store(store_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await other.listen(on_notify=heard.put_nowait)
    try:
        yield heard
    finally:
        await listener.close()
        await other.close()


def needs_wakeups(store: Store) -> None:
    if not store.capabilities.listen_notify:
        pytest.skip("no cross-process notifications (capabilities.listen_notify)")


async def test_an_insert_wakes_the_listeners_of_other_store_objects(
    store: Store, store_url: str
) -> None:
    needs_wakeups(store)
    async with listening(store_url) as heard:
        await insert(store, new_job(queue="mail"), new_job(queue="mail"))

        assert await asyncio.wait_for(heard.get(), timeout=10) == "mail"


async def test_a_job_for_later_wakes_nobody(store: Store, store_url: str) -> None:
    needs_wakeups(store)
    async with listening(store_url) as heard:
        await insert(store, new_job(queue="later", run_at=NOW + timedelta(hours=1)))
        await insert(store, new_job(queue="due"))

        assert await asyncio.wait_for(heard.get(), timeout=10) == "due"
        assert heard.empty()


async def test_an_enqueue_in_another_process_wakes_a_listener(
    store: Store, store_url: str, request: pytest.FixtureRequest
) -> None:
    needs_wakeups(store)
    async with listening(store_url) as heard:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD_ENQUEUES, store_url, cwd=request.config.rootpath
        )
        assert await asyncio.wait_for(child.wait(), timeout=60) == 0

        assert await asyncio.wait_for(heard.get(), timeout=10) == "from-child"
