"""LISTEN on PostgreSQL: the connection that hears enqueues and wakes idle workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg


class PostgresListener:
    """LISTEN on one dedicated connection; reconnects after a failure (the poll interval
    covers the gap, so a lost notification delays a job but never loses it)."""

    def __init__(self, conninfo: str, url: str, on_notify: Callable[[str], None]) -> None:
        self._conninfo = conninfo
        self._url = url
        self._on_notify = on_notify
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="conveyor-listen")
        # Wait for the first LISTEN so that an enqueue right after start() is not missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def _run(self) -> None:
        log = logging.getLogger("conveyor.store")
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                async with conn:
                    await conn.execute("LISTEN conveyor_jobs")
                    self._ready.set()
                    async for notice in conn.notifies():
                        self._on_notify(notice.payload)
            except psycopg.Error as exc:
                log.warning("LISTEN on %s failed, reconnecting: %s", self._url, exc)
                self._ready.set()
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
