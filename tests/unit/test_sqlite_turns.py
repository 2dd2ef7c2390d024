"""SQLite stores queue for the write lock on ``<database>-turns`` (see store/sqlite/turns.py)
instead of polling SQLite's lock with sleeps."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

from conveyor.store.sqlite.store import SqliteStore
from tests.store.helpers import claim, insert_many


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
