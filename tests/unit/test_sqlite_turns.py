"""SQLite stores queue for the write lock on ``<database>-turns`` (see store/sqlite/turns.py)
instead of polling SQLite's lock with sleeps."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.job import Job
from conveyor.store.sqlite.store import SqliteStore
from tests.store.helpers import NOW, claim, complete, insert_many


async def test_a_write_waits_for_the_turn_another_process_holds(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    try:
        await store.migrate()
        fd = os.open(tmp_path / "jobs.db-turns", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # as another process's store would, mid-write
            write = asyncio.create_task(insert_many(store, 3))
            # Ample time for a write that did not wait (it takes milliseconds); a write that
            # waits, as it must, never finishes here, however slow the machine.
            await asyncio.wait({write}, timeout=1.0)
            assert not write.done()
            fcntl.flock(fd, fcntl.LOCK_UN)
            assert len(await write) == 3
        finally:
            os.close(fd)
        assert len(await claim(store)) == 3
    finally:
        await store.close()


async def test_a_folder_without_write_access_for_the_turn_file_still_works(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    await store.migrate()
    await store.close()
    os.unlink(tmp_path / "jobs.db-turns")
    os.mkdir(tmp_path / "jobs.db-turns")  # cannot be opened as a file: no turns, no error
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    try:
        assert len(await insert_many(store, 2)) == 2
    finally:
        await store.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An open, migrated store holding two available jobs."""
    opened = SqliteStore(tmp_path / "jobs.db")
    await opened.open()
    try:
        await opened.migrate()
        await insert_many(opened, 2)
        yield opened
    finally:
        await opened.close()


async def _claim_held_back(store: SqliteStore) -> asyncio.Task[list[Job]]:
    """Start a claim and check that it is still waiting half a second later while a 10 ms
    ticker kept running on this event loop (it would not, had the claim blocked it)."""
    claiming = asyncio.create_task(claim(store))
    ticks = 0
    deadline = asyncio.get_running_loop().time() + 0.5
    while asyncio.get_running_loop().time() < deadline and not claiming.done():
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks >= 10
    assert not claiming.done()
    return claiming


async def test_an_uncontended_claim_and_ack_run_on_the_callers_thread(
    store: SqliteStore,
) -> None:
    # Handed to the store's thread, they held SQLite's lock while that thread waited for
    # the GIL behind the event loop (store/sqlite/connector.py, _write_now).
    threads: dict[str, set[int]] = {"UPDATE": set(), "INSERT": set()}

    def trace(statement: str) -> None:
        for verb, seen in threads.items():
            if statement.lstrip().startswith(verb):
                seen.add(threading.get_ident())

    conn = store._sqlite._conn
    assert conn is not None
    conn.set_trace_callback(trace)
    jobs = await claim(store)
    await store.ack_jobs(acks=[complete(job) for job in jobs], now=NOW)
    await insert_many(store, 1)  # an enqueue is durable: it stays on the store's thread
    assert threads["UPDATE"] == {threading.get_ident()}
    assert threading.get_ident() not in threads["INSERT"]


async def test_a_claim_waiting_for_another_process_does_not_block_the_event_loop(
    store: SqliteStore, tmp_path: Path
) -> None:
    fd = os.open(tmp_path / "jobs.db-turns", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process's store, mid-write
        claiming = await _claim_held_back(store)
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert len(await claiming) == 2
    finally:
        os.close(fd)


async def test_a_claim_waits_for_a_handler_transaction_of_its_own_process(
    store: SqliteStore,
) -> None:
    # The handler's transaction holds SQLite's write lock and needs this event loop to
    # commit: a claim that waited for that lock on the loop would wait out the busy timeout.
    async with store.transaction() as tx:
        claiming = await _claim_held_back(store)
        await tx.execute("SELECT 1")  # the loop still serves the handler
    assert len(await asyncio.wait_for(claiming, timeout=10)) == 2
