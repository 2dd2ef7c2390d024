"""The item ledger's records as they cross the Store interface, their batch encoding, and
the ledger's Store methods, written once for both dialects."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from conveyor.job import Job
from conveyor.store.runner import QueryRunner


class ItemOutcome(StrEnum):
    """How one item of a bulk job ended."""

    DONE = "done"
    """Its effect happened. Final: a later attempt should skip it and cannot undo it."""
    SKIPPED = "skipped"
    """Deliberately not processed (unsubscribed recipient, empty row); asked again later."""
    FAILED = "failed"
    """Not processed because of an error (the ``reason``); a later attempt may retry it."""


def ledger_of(job: Job) -> str:
    """The ledger a job's handler writes: its batch's, or its own."""
    return job_ledger(job.id) if job.batch_id is None else batch_ledger(job.batch_id)


def job_ledger(job_id: int) -> str:
    """The ledger of a job that is not part of a batch."""
    return f"job:{job_id}"


def batch_ledger(batch_id: int) -> str:
    """The ledger every child job of a batch shares."""
    return f"batch:{batch_id}"


@dataclass(frozen=True, slots=True)
class ItemMark:
    """One outcome to record: ``key`` in ``ledger`` ended as ``outcome`` in ``job_id``'s
    ``attempt``."""

    ledger: str
    key: str
    outcome: ItemOutcome
    job_id: int
    attempt: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item's outcome as the ledger holds it."""

    key: str
    outcome: ItemOutcome
    reason: str | None
    job_id: int
    attempt: int
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class ItemPage:
    """Items in key order; ``next_after`` is the key to pass for the next page."""

    items: list[ItemRecord]
    next_after: str | None


@dataclass(frozen=True, slots=True)
class ItemCounts:
    """How many items of a ledger ended in each outcome."""

    done: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.done + self.skipped + self.failed


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
    statement per call; mixed into each store with its dialect's ``QueryRunner``."""

    @staticmethod
    def _recorded_at(value: Any) -> datetime:
        """A row's ``recorded_at`` as the dialect's driver returns it, as a datetime."""
        raise NotImplementedError

    async def record_items(self, *, marks: Sequence[ItemMark], now: datetime) -> None:
        if marks:
            params = {"items": items_json(marks), "now": self._param_time(now)}
            await self._execute("record_items", params)

    async def done_item_keys(self, *, ledger: str, keys: Sequence[str] | None) -> set[str]:
        params = {
            "ledger": ledger,
            "keys": None if keys is None else self._param_strings(list(keys)),
        }
        return {str(r["item_key"]) for r in await self._read_rows("done_item_keys", params)}

    async def count_items(self, *, ledger: str) -> ItemCounts:
        return counts_from_rows(await self._read_rows("count_items", {"ledger": ledger}))

    async def list_items(
        self, *, ledger: str, outcome: ItemOutcome | None, after: str | None, limit: int
    ) -> ItemPage:
        params = {
            "ledger": ledger,
            "outcome": None if outcome is None else outcome.value,
            "after": after,
            "limit": limit + 1,
        }
        rows = await self._read_rows("list_items", params)
        items = [record_from_row(r, self._recorded_at(r["recorded_at"])) for r in rows[:limit]]
        return ItemPage(items, items[-1].key if len(rows) > limit and items else None)
