"""Flow control on PostgreSQL: the flow claim (limits, rate tokens, fairness) and what
``explain`` reads about limits. A mixin of PostgresStore."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from conveyor.store.base import RateBucket, bucket_from_row
from conveyor.store.postgres.runner import json_as_text
from conveyor.store.sql import load_queries

QUERIES = load_queries("conveyor.store.postgres")
Row = dict[str, Any]


class PostgresFlow:
    """Flow claims serialise on an advisory lock (see ``lock_flow_claims``)."""

    async def _rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        raise NotImplementedError  # PostgresStore's

    def _require_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        raise NotImplementedError  # PostgresStore's

    async def _claim_flow(self, params: dict[str, Any]) -> list[Row]:
        """Claim up to ``params["limit"]`` flow jobs and take their rate tokens, in one
        transaction behind the flow lock. Raises ``psycopg.Error`` for the caller."""
        async with (
            self._require_pool().connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=dict_row) as cur,
        ):
            json_as_text(cur)
            await cur.execute(QUERIES["lock_flow_claims"])
            await cur.execute(QUERIES["claim_flow_jobs"], {"queues": None, **params})
            rows = await cur.fetchall()
            rated = [row["id"] for row in rows if row["rate_key"] is not None]
            if rated:
                await cur.execute(QUERIES["take_rate_tokens"], {"ids": rated, "now": params["now"]})
            return rows

    @staticmethod
    def _when(value: Any) -> datetime:
        raise NotImplementedError  # PostgresStore's

    async def rate_bucket(self, *, key: str) -> RateBucket | None:
        rows = await self._rows("get_rate_bucket", {"key": key})
        return bucket_from_row(rows[0], self._when) if rows else None

    async def running_with_key(self, *, key: str) -> list[int]:
        return [int(r["id"]) for r in await self._rows("running_with_key", {"key": key})]
