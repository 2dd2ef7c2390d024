"""SQLite stores queue for the write lock on ``<database>-turns`` (see store/sqlite/turns.py)
instead of polling SQLite's lock with sleeps."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from pathlib import Path

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


async def _ticks_while(task: asyncio.Task[object], seconds: float) -> int:
    """How often a 10 ms ticker ran on this event loop over ``seconds`` while ``task`` ran:
    near zero if something blocked the loop."""
    ticks = 0
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline and not task.done():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


async def test_an_uncontended_claim_and_ack_run_on_the_callers_thread(tmp_path: Path) -> None:
    # Handed to the store's thread, they held SQLite's lock while that thread waited for
    # the GIL behind the event loop (store/sqlite/store.py, _write_now).
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    try:
        await store.migrate()
        await insert_many(store, 3)
        threads: dict[str, set[int]] = {"UPDATE": set(), "INSERT": set()}

        def trace(statement: str) -> None:
            for verb, seen in threads.items():
                if statement.lstrip().startswith(verb):
                    seen.add(threading.get_ident())

        conn = store._conn
        assert conn is not None
        conn.set_trace_callback(trace)
        jobs = await claim(store)
        await store.ack_jobs(acks=[complete(job) for job in jobs], now=NOW)
        await insert_many(store, 1)  # an enqueue is durable: it stays on the store's thread
        assert threads["UPDATE"] == {threading.get_ident()}
        assert threading.get_ident() not in threads["INSERT"]
    finally:
        await store.close()


async def test_a_claim_waiting_for_another_process_does_not_block_the_event_loop(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    try:
        await store.migrate()
        await insert_many(store, 2)
        fd = os.open(tmp_path / "jobs.db-turns", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another process's store, mid-write
            claiming = asyncio.create_task(claim(store))
            assert await _ticks_while(claiming, 0.5) >= 10
            assert not claiming.done()
            fcntl.flock(fd, fcntl.LOCK_UN)
            assert len(await claiming) == 2
        finally:
            os.close(fd)
    finally:
        await store.close()


async def test_a_claim_waits_for_a_handler_transaction_of_its_own_process(
    tmp_path: Path,
) -> None:
    # The handler's transaction holds SQLite's write lock and needs this event loop to
    # commit: a claim that waited for that lock on the loop would wait out the busy timeout.
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    try:
        await store.migrate()
        await insert_many(store, 2)
        async with store.transaction() as tx:
            claiming = asyncio.create_task(claim(store))
            assert await _ticks_while(claiming, 0.5) >= 10
            assert not claiming.done()
            await tx.execute("SELECT 1")  # the loop still serves the handler
        assert len(await asyncio.wait_for(claiming, timeout=10)) == 2
    finally:
        await store.close()
