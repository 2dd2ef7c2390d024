"""The item ledger on SQLite: a mixin of SqliteStore (one statement per call)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from conveyor.store.items import (
    ItemCounts,
    ItemMark,
    ItemOutcome,
    ItemPage,
    counts_from_rows,
    items_json,
    record_from_row,
)

T = TypeVar("T")
Row = dict[str, Any]


class SqliteItemLedger:
    """``record_items``, ``done_item_keys``, ``count_items`` and ``list_items``."""

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _rows(conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> list[Row]:
        raise NotImplementedError  # SqliteStore's

    @staticmethod
    def _time(moment: datetime) -> str:
        raise NotImplementedError  # SqliteStore's

    async def record_items(self, *, marks: Sequence[ItemMark], now: datetime) -> None:
        if not marks:
            return
        params = {"items": items_json(marks), "now": self._time(now)}
        await self._write(lambda c: self._rows(c, "record_items", params))

    async def done_item_keys(self, *, ledger: str, keys: Sequence[str] | None) -> set[str]:
        params = {"ledger": ledger, "keys": None if keys is None else json.dumps(list(keys))}
        rows = await self._read(lambda c: self._rows(c, "done_item_keys", params))
        return {str(r["item_key"]) for r in rows}

    async def count_items(self, *, ledger: str) -> ItemCounts:
        rows = await self._read(lambda c: self._rows(c, "count_items", {"ledger": ledger}))
        return counts_from_rows(rows)

    async def list_items(
        self, *, ledger: str, outcome: ItemOutcome | None, after: str | None, limit: int
    ) -> ItemPage:
        params = {
            "ledger": ledger,
            "outcome": None if outcome is None else outcome.value,
            "after": after,
            "limit": limit + 1,
        }
        rows = await self._read(lambda c: self._rows(c, "list_items", params))
        items = [
            record_from_row(r, datetime.fromisoformat(r["recorded_at"] + "+00:00"))
            for r in rows[:limit]
        ]
        return ItemPage(items, items[-1].key if len(rows) > limit and items else None)
