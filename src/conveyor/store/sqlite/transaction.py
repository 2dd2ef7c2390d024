"""SqliteTransaction: a handler's own transaction on its own connection to the file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, LiteralString, TypeVar

from conveyor.item import ItemMark
from conveyor.job import Lease
from conveyor.store.items import items_json
from conveyor.store.sql import load_queries

T = TypeVar("T")
QUERIES = load_queries("conveyor.store.sqlite")


class SqliteTransaction:
    """One ``BEGIN IMMEDIATE`` transaction on a connection of its own, run on a thread of
    its own: the store's connection stays free for acks and heartbeats meanwhile. The
    write lock is held until commit, so keep these transactions short (a chunk of work).
    """

    dialect = "sqlite"

    def __init__(self, path: str, busy_timeout: float, encode_time: Callable[[datetime], str]):
        self._path = path
        self._busy_timeout = busy_timeout
        self._encode_time = encode_time
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="conveyor-sqlite-tx")
        self.connection: sqlite3.Connection | None = None

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def begin(self) -> None:
        def run() -> sqlite3.Connection:
            conn = sqlite3.connect(
                self._path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_timeout,
            )
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            return conn

        self.connection = await self._call(run)

    async def finish(self, *, commit: bool) -> None:
        conn = self.connection
        try:
            if conn is not None:
                await self._call(lambda: conn.execute("COMMIT" if commit else "ROLLBACK"))
        finally:
            if conn is not None:
                await self._call(conn.close)
            self._executor.shutdown(wait=False)

    async def execute(
        self, sql: LiteralString, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run the handler's statement (sqlite3 ``:name`` parameters); returns its rows."""
        conn = self._require()

        def run() -> list[dict[str, Any]]:
            cursor = conn.execute(sql, dict(params or {}))
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        return await self._call(run)

    def _require(self) -> sqlite3.Connection:
        if self.connection is None:
            raise RuntimeError("transaction has not begun")
        return self.connection

    async def _fenced(self, name: str, params: dict[str, Any]) -> bool:
        conn = self._require()
        return bool(await self._call(lambda: conn.execute(QUERIES[name], params).fetchall()))

    async def hold_lease(self, lease: Lease) -> bool:
        return await self._fenced("hold_lease", {"id": lease.job_id, "token": lease.token})

    async def save_checkpoint(self, lease: Lease, checkpoint: Any) -> bool:
        params = {"id": lease.job_id, "token": lease.token, "checkpoint": json.dumps(checkpoint)}
        return await self._fenced("save_checkpoint", params)

    async def complete_job(self, lease: Lease, result: Any, now: datetime) -> bool:
        params = {
            "jobs": json.dumps([[lease.job_id, lease.token, json.dumps(result)]]),
            "now": self._encode_time(now),
        }
        return await self._fenced("complete_jobs", params)

    async def record_items(self, marks: Sequence[ItemMark], now: datetime) -> None:
        if not marks:
            return
        conn = self._require()
        params = {"items": items_json(marks), "now": self._encode_time(now)}
        await self._call(lambda: conn.execute(QUERIES["record_items"], params))
