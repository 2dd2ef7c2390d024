"""ItemLedger: a bulk job's record of each item's outcome, as its handler uses it (``ctx.items``).

A job that works through many items (recipients, CSV rows, customers) marks each one done,
skipped or failed. A retried or rescued attempt of the same job asks which items are done
and skips them, so "never mail a recipient twice" is the engine's property, not each
task's bookkeeping. Every child job of one batch shares the batch's ledger, so chunks of a
campaign see each other's items. A *re-run* (a new job cloned from a finished one) starts
with an empty ledger of its own: re-running means doing the work again.

Stable API (the car-wash bulk tasks build on it)::

    done = await ctx.items.done_keys()            # or: await ctx.items.is_done(key)
    for recipient in recipients:
        if str(recipient.id) in done:
            continue
        try:
            await send(recipient)
        except SmtpRefused as exc:
            await ctx.items.mark_failed(recipient.id, str(exc))
            continue
        await ctx.items.mark_done(recipient.id)

    async with ctx.transaction() as tx:           # exactly once for database effects:
        await tx.execute(...)                     # the item's write and its "done"
        tx.items.mark_done(row_key)               # commit together

Outside a transaction outcomes are buffered and written in batches (``flush_size`` marks,
or ``flush_interval`` since the last write, whichever first; reading the ledger and the
end of the attempt flush too). A worker killed mid-attempt therefore loses at most the
outcomes still buffered, and those items are processed again: at least once. Marking
inside ``ctx.transaction()`` makes it exactly once where the effect is a database write.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import timedelta

from conveyor.clock import Clock
from conveyor.item import ItemCounts, ItemMark, ItemOutcome
from conveyor.store.base import Store

ItemKey = str | int
"""An item's key; integers (customer ids) are stored as their decimal text."""


class ItemMarks:
    """Outcomes marked but not yet written, for one ledger and one attempt of one job."""

    def __init__(self, ledger: str, job_id: int, attempt: int) -> None:
        self.ledger = ledger
        self.job_id = job_id
        self.attempt = attempt
        self.pending: list[ItemMark] = []

    def add(self, key: ItemKey, outcome: ItemOutcome, reason: str | None) -> None:
        self.pending.append(
            ItemMark(self.ledger, str(key), outcome, self.job_id, self.attempt, reason)
        )

    def take(self) -> list[ItemMark]:
        taken, self.pending = self.pending, []
        return taken


class TransactionItems:
    """``tx.items`` inside ``ctx.transaction()``: marks written in that transaction's commit,
    so they exist if and only if the item's own writes do."""

    def __init__(self, marks: ItemMarks) -> None:
        self._marks = marks

    def mark_done(self, key: ItemKey) -> None:
        self._marks.add(key, ItemOutcome.DONE, None)

    def mark_skipped(self, key: ItemKey, reason: str | None = None) -> None:
        self._marks.add(key, ItemOutcome.SKIPPED, reason)

    def mark_failed(self, key: ItemKey, reason: str) -> None:
        self._marks.add(key, ItemOutcome.FAILED, reason)

    def take(self) -> list[ItemMark]:
        return self._marks.take()


class ItemLedger:
    """``ctx.items``: mark outcomes (buffered), ask which items are done, count them.

    Args:
        flush_size: pending marks that trigger a write (default 100).
        flush_interval: the longest a mark waits for its write while the handler keeps
            marking (default 1 s).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        ledger: str,
        job_id: int,
        attempt: int,
        flush_size: int = 100,
        flush_interval: timedelta = timedelta(seconds=1),
    ) -> None:
        self._store = store
        self._clock = clock
        self.ledger = ledger
        self._job_id = job_id
        self._attempt = attempt
        self._marks = ItemMarks(ledger, job_id, attempt)
        self._flush_size = flush_size
        self._flush_seconds = flush_interval.total_seconds()
        self._last_flush = time.monotonic()

    async def mark_done(self, key: ItemKey) -> None:
        """The item's effect happened; later attempts skip it."""
        await self._mark(key, ItemOutcome.DONE, None)

    async def mark_skipped(self, key: ItemKey, reason: str | None = None) -> None:
        await self._mark(key, ItemOutcome.SKIPPED, reason)

    async def mark_failed(self, key: ItemKey, reason: str) -> None:
        """The item could not be processed; ``reason`` is shown to operators."""
        await self._mark(key, ItemOutcome.FAILED, reason)

    async def done_keys(self, keys: Iterable[ItemKey] | None = None) -> set[str]:
        """The done keys of this ledger (only among ``keys`` when given), as text."""
        await self.flush()
        wanted: Sequence[str] | None = None if keys is None else [str(k) for k in keys]
        return await self._store.done_item_keys(ledger=self.ledger, keys=wanted)

    async def is_done(self, key: ItemKey) -> bool:
        return str(key) in await self.done_keys([key])

    async def counts(self) -> ItemCounts:
        await self.flush()
        return await self._store.count_items(ledger=self.ledger)

    async def flush(self) -> None:
        """Write every pending mark now (the worker does so when the attempt ends)."""
        marks = self._marks.take()
        self._last_flush = time.monotonic()
        if marks:
            try:
                await self._store.record_items(marks=marks, now=self._clock.now())
            except BaseException:
                self._marks.pending[:0] = marks  # keep them for the next flush
                raise

    def transaction_marks(self) -> TransactionItems:
        """A buffer for ``tx.items`` whose marks the transaction writes at commit."""
        return TransactionItems(ItemMarks(self.ledger, self._job_id, self._attempt))

    async def _mark(self, key: ItemKey, outcome: ItemOutcome, reason: str | None) -> None:
        self._marks.add(key, outcome, reason)
        if (
            len(self._marks.pending) >= self._flush_size
            or time.monotonic() - self._last_flush >= self._flush_seconds
        ):
            await self.flush()
