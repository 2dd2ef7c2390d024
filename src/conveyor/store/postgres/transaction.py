"""PostgresTransaction: a handler's own transaction, in which its job's writes are fenced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, LiteralString

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from conveyor.item import ItemMark
from conveyor.job import Lease
from conveyor.store.base import Completion
from conveyor.store.items import items_json
from conveyor.store.postgres.fence import fenced, results_json, returned_ids
from conveyor.store.sql import load_queries

QUERIES = load_queries("conveyor.store.postgres")


class PostgresTransaction:
    """Wraps one pooled connection inside ``BEGIN``; the store commits or rolls it back.

    ``connection`` is the psycopg ``AsyncConnection`` for the handler's own SQL (or an
    SQLAlchemy session bound to it); the fenced methods write the job row in the same
    transaction, so they commit or vanish together with the handler's writes.
    """

    dialect = "postgresql"

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.connection = connection

    async def execute(
        self, sql: LiteralString, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run the handler's statement (psycopg ``%(name)s`` parameters); returns its rows."""
        async with self.connection.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, dict(params or {}))
            return await cur.fetchall() if cur.description else []

    async def _fenced(self, name: str, params: dict[str, Any]) -> bool:
        async with self.connection.cursor(row_factory=dict_row) as cur:
            await cur.execute(QUERIES[name], params)
            return bool(await cur.fetchall())

    async def hold_lease(self, lease: Lease) -> bool:
        """Lock the job row and confirm the lease is still held."""
        return await self._fenced("hold_lease", {"id": lease.job_id, "token": lease.token})

    async def save_checkpoint(self, lease: Lease, checkpoint: Any) -> bool:
        params = {"id": lease.job_id, "token": lease.token, "checkpoint": Jsonb(checkpoint)}
        return await self._fenced("save_checkpoint", params)

    async def complete_job(self, lease: Lease, result: Any, now: Any) -> bool:
        completion = Completion(lease.job_id, lease.token, result)
        params = {**fenced([completion]), "results": results_json([completion]), "now": now}
        async with self.connection.cursor(row_factory=dict_row) as cur:
            await cur.execute(QUERIES["complete_jobs"], params)
            return bool(returned_ids(await cur.fetchall()))

    async def record_items(self, marks: Sequence[ItemMark], now: Any) -> None:
        if marks:
            await self.connection.execute(
                QUERIES["record_items"], {"items": items_json(marks), "now": now}
            )
