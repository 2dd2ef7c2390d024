"""AckBuffer: acknowledgements collected and written in one statement per flush.

A flush happens when ``max_size`` acks are waiting or ``interval`` has passed since the
first of them, whichever is first, and once more on close. Heartbeats use the same shape
(``HeartbeatLoop`` in ``worker.py``) but on a fixed period over the leases held.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from conveyor.clock import Clock
from conveyor.errors import LeaseLost, StoreError, StoreUnavailable
from conveyor.job import JobError
from conveyor.store.base import Ack, Failure, Store

log = logging.getLogger("conveyor.worker")


class AckBuffer:
    """Buffers acks; ``flush`` writes them all in one ``ack_jobs`` call.

    Invariant: an ack is removed from the buffer only after the store accepted the batch
    (or rejected it per job as ``LeaseLost``); a flush that fails because the store is
    unreachable keeps the acks and is retried, so a completed job is never forgotten while
    the process lives. A batch the store refuses for its data is split until the one ack at
    fault is found, and that job is failed with the store's reason instead: one bad value
    never holds up the acks of other jobs.
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
            rejected = await self._write(batch)
            del self._pending[: len(batch)]
            for lost in rejected:
                log.warning("ack rejected: %s", lost)
                if self._on_lost is not None:
                    self._on_lost(lost)
            if self._on_flushed is not None:
                self._on_flushed(batch)

    async def _write(self, batch: Sequence[Ack]) -> list[LeaseLost]:
        """Write ``batch``; on a refusal for its data, write its halves apart, and replace
        the one ack at fault by a failure that carries the store's reason."""
        try:
            return list((await self._store.ack_jobs(acks=batch, now=self._clock.now())).lost)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            if len(batch) > 1:
                middle = len(batch) // 2
                return [*await self._write(batch[:middle]), *await self._write(batch[middle:])]
            [ack] = batch
            if isinstance(ack, Failure) and ack.error.type == _REFUSED:
                raise  # even the plain failure was refused: keep it and retry
            log.error("the store refused the outcome of job %s: %s", ack.job_id, exc)
            return await self._write([_refused(ack, self._clock.now())])

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


_REFUSED = "OutcomeRefused"


def _refused(ack: Ack, now: datetime) -> Failure:
    """A failure for good in place of ``ack``, whose values the store could not hold; its
    text is plain ASCII so that the store can always take it."""
    attempt = ack.error.attempt if isinstance(ack, Failure) else 0
    message = (
        "the store refused this job's outcome (a result, error or other value it cannot"
        " hold, such as NaN, an infinity or a lone surrogate); the job is failed for good"
    )
    return Failure(ack.job_id, ack.token, JobError(attempt, _REFUSED, message, "", now))
