"""The item ledger on PostgreSQL: a mixin of PostgresStore (one statement per call)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conveyor.store.items import (
    ItemCounts,
    ItemMark,
    ItemOutcome,
    ItemPage,
    counts_from_rows,
    items_json,
    record_from_row,
)

Row = dict[str, Any]


class PostgresItemLedger:
    """``record_items``, ``done_item_keys``, ``count_items`` and ``list_items``."""

    async def _rows(self, name: str, params: dict[str, Any]) -> list[Row]:
        raise NotImplementedError  # PostgresStore's

    async def _rowcount(self, name: str, params: dict[str, Any]) -> int:
        raise NotImplementedError  # PostgresStore's

    async def record_items(self, *, marks: Sequence[ItemMark], now: datetime) -> None:
        if marks:
            await self._rowcount("record_items", {"items": items_json(marks), "now": now})

    async def done_item_keys(self, *, ledger: str, keys: Sequence[str] | None) -> set[str]:
        params = {"ledger": ledger, "keys": None if keys is None else list(keys)}
        return {str(r["item_key"]) for r in await self._rows("done_item_keys", params)}

    async def count_items(self, *, ledger: str) -> ItemCounts:
        return counts_from_rows(await self._rows("count_items", {"ledger": ledger}))

    async def list_items(
        self, *, ledger: str, outcome: ItemOutcome | None, after: str | None, limit: int
    ) -> ItemPage:
        params = {
            "ledger": ledger,
            "outcome": None if outcome is None else outcome.value,
            "after": after,
            "limit": limit + 1,
        }
        rows = await self._rows("list_items", params)
        items = [record_from_row(r, r["recorded_at"]) for r in rows[:limit]]
        return ItemPage(items, items[-1].key if len(rows) > limit and items else None)
