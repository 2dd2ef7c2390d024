"""The item ledger's batch encoding and row decoding, and its Store methods, written once
for both dialects."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from conveyor.item import ItemCounts, ItemMark, ItemOutcome, ItemPage, ItemRecord
from conveyor.store.runner import QueryRunner


def items_json(marks: Sequence[ItemMark]) -> str:
    """One JSON array for the ``record_items`` statement, one entry per (ledger, key).

    An upsert may not touch one row twice, so repeated keys are folded here: the last
    outcome wins, except that ``done`` is final, as in the store.
    """
    folded: dict[tuple[str, str], ItemMark] = {}
    for mark in marks:
        seen = folded.get((mark.ledger, mark.key))
        if seen is None or seen.outcome is not ItemOutcome.DONE:
            folded[(mark.ledger, mark.key)] = mark
    return json.dumps(
        [
            {
                "ledger": m.ledger,
                "key": m.key,
                "outcome": m.outcome.value,
                "reason": m.reason,
                "job_id": m.job_id,
                "attempt": m.attempt,
            }
            for m in folded.values()
        ]
    )


def counts_from_rows(rows: Sequence[Mapping[str, Any]]) -> ItemCounts:
    by_outcome = {str(r["outcome"]): int(r["count"]) for r in rows}
    return ItemCounts(
        done=by_outcome.get("done", 0),
        skipped=by_outcome.get("skipped", 0),
        failed=by_outcome.get("failed", 0),
    )


def record_from_row(row: Mapping[str, Any], recorded_at: datetime) -> ItemRecord:
    return ItemRecord(
        key=str(row["item_key"]),
        outcome=ItemOutcome(row["outcome"]),
        reason=row["reason"],
        job_id=int(row["job_id"]),
        attempt=int(row["attempt"]),
        recorded_at=recorded_at,
    )


class ItemLedgerMethods(QueryRunner):
    """``record_items``, ``done_item_keys``, ``count_items`` and ``list_items``, one
    statement per call."""

    async def record_items(self, *, marks: Sequence[ItemMark], now: datetime) -> None:
        if marks:
            params = {"items": items_json(marks), "now": self._db.time(now)}
            await self._db.execute("record_items", params)

    async def done_item_keys(self, *, ledger: str, keys: Sequence[str] | None) -> set[str]:
        params = {
            "ledger": ledger,
            "keys": None if keys is None else self._db.array(list(keys)),
        }
        return {str(r["item_key"]) for r in await self._db.read("done_item_keys", params)}

    async def count_items(self, *, ledger: str) -> ItemCounts:
        return counts_from_rows(await self._db.read("count_items", {"ledger": ledger}))

    async def list_items(
        self, *, ledger: str, outcome: ItemOutcome | None, after: str | None, limit: int
    ) -> ItemPage:
        params = {
            "ledger": ledger,
            "outcome": None if outcome is None else outcome.value,
            "after": after,
            "limit": limit + 1,
        }
        rows = await self._db.read("list_items", params)
        items = [record_from_row(r, self._db.when(r["recorded_at"])) for r in rows[:limit]]
        return ItemPage(items, items[-1].key if len(rows) > limit and items else None)
