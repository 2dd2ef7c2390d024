"""AckBuffer: acknowledgements collected and written in one statement per flush.

A flush happens when ``max_size`` acks are waiting or ``interval`` has passed since the
first of them, whichever is first, and once more on close. Heartbeats use the same shape
(``HeartbeatLoop`` in ``worker.py``) but on a fixed period over the leases held.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from conveyor.clock import Clock
from conveyor.errors import LeaseLost
from conveyor.store.base import Ack, Store

log = logging.getLogger("conveyor.worker")


class AckBuffer:
    """Buffers acks; ``flush`` writes them all in one ``ack_jobs`` call.

    Invariant: an ack is removed from the buffer only after the store accepted the batch
    (or rejected it per job as ``LeaseLost``); a failed flush keeps the acks and is retried,
    so a completed job is never forgotten while the process lives.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_size: int = 200,
        interval: timedelta = timedelta(milliseconds=5),
        on_lost: Callable[[LeaseLost], None] | None = None,
        on_flushed: Callable[[Sequence[Ack]], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_size = max_size
        self._interval = interval.total_seconds()
        self._pending: list[Ack] = []
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._on_lost = on_lost
        self._on_flushed = on_flushed
        self._closed = False

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, ack: Ack) -> None:
        self._pending.append(ack)
        if len(self._pending) >= self._max_size or len(self._pending) == 1:
            self._wake.set()

    async def flush(self) -> None:
        async with self._flush_lock:
            if not self._pending:
                return
            batch = self._pending[: self._max_size * 5]
            outcome = await self._store.ack_jobs(acks=batch, now=self._clock.now())
            del self._pending[: len(batch)]
            for lost in outcome.lost:
                log.warning("ack rejected: %s", lost)
                if self._on_lost is not None:
                    self._on_lost(lost)
            if self._on_flushed is not None:
                self._on_flushed(batch)

    async def run(self) -> None:
        """Flush loop; returns after ``close`` once everything is written."""
        while not (self._closed and not self._pending):
            await self._wake.wait()
            self._wake.clear()
            if len(self._pending) < self._max_size and not self._closed:
                # Give more acks a moment to join this flush: one statement for many jobs.
                await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # keep the acks and retry: a lost ack would rerun a finished job
                log.exception("ack flush failed, will retry")
                await asyncio.sleep(min(1.0, max(self._interval, 0.05) * 10))
            if self._pending:
                self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
