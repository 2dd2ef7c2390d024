"""The item ledger as values: how one item of a bulk job ended, and the ledgers' names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from conveyor.job import Job


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
