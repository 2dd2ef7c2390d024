"""Flow control on SQLite: the flow claim (limits, rate tokens, fairness) and what
``explain`` reads about limits. A mixin of SqliteStore."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from conveyor.store.base import RateBucket, bucket_from_row

T = TypeVar("T")
Row = dict[str, Any]


class SqliteFlow:
    """The flow claim runs inside the plain claim's write transaction, after it."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _rows(conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> list[Row]:
        raise NotImplementedError  # SqliteStore's

    def _claim_flow(self, conn: sqlite3.Connection, params: dict[str, Any]) -> list[Row]:
        """Claim up to ``params["limit"]`` flow jobs and take their rate tokens."""
        rows = self._rows(conn, "claim_flow_jobs", {"queues": None, **params})
        rated = [row["id"] for row in rows if row["rate_key"] is not None]
        if rated:
            self._rows(conn, "take_rate_tokens", {"ids": json.dumps(rated), "now": params["now"]})
        return rows

    @staticmethod
    def _when(value: Any) -> datetime:
        raise NotImplementedError  # SqliteStore's

    async def rate_bucket(self, *, key: str) -> RateBucket | None:
        rows = await self._read(lambda c: self._rows(c, "get_rate_bucket", {"key": key}))
        return bucket_from_row(rows[0], self._when) if rows else None

    async def running_with_key(self, *, key: str) -> list[int]:
        rows = await self._read(lambda c: self._rows(c, "running_with_key", {"key": key}))
        return [int(r["id"]) for r in rows]
