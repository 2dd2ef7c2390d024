"""JobChannel: claimed jobs waiting for an executor, handed out without waking idle ones in vain."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable

from conveyor.job import Job

# Each woken executor that finds a job wakes this many more while jobs wait.
SPREAD = 2


class JobChannel:
    """A first-in, first-out line of claimed jobs that the worker's executors take from.

    ``asyncio.Queue`` wakes one waiting getter for each item put, so a claim of a hundred
    jobs woke a hundred idle executors. When the handlers never await (most short jobs),
    the first executor ran the whole batch before the others got the loop, and each of
    them woke only to wait again. Here a batch wakes one idle executor, and each woken
    executor that takes a job wakes ``SPREAD`` more while jobs still wait: handlers that
    await (I/O) have a batch of a hundred all started within about seven turns of the event
    loop, and a batch that one executor runs alone costs a couple of wake-ups, not one per
    job. ``get_nowait`` (an executor taking its next job at once) wakes nobody.
    """

    def __init__(self) -> None:
        self._jobs: deque[Job] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._pending = 0  # woken waiters that have not run yet
        self.wakeups = 0  # waiters woken in all (for tests and tools)

    def qsize(self) -> int:
        return len(self._jobs)

    def empty(self) -> bool:
        return not self._jobs

    def put_many(self, jobs: Iterable[Job]) -> None:
        self._jobs.extend(jobs)
        if not self._pending:
            self._wake(1)

    def get_nowait(self) -> Job:
        """The next job; raises ``IndexError`` when none waits."""
        return self._jobs.popleft()

    async def get(self) -> Job:
        """The next job, waiting for one; cancellable (the executors' idle timeout)."""
        woken = False
        while not self._jobs:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    # Woken, then cancelled before it ran: pass the wake-up on.
                    self._pending -= 1
                    self._wake(1)
                else:
                    waiter.cancel()
                    # A wake-up may have passed over it (and dropped it) already.
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                raise
            self._pending -= 1
            woken = True
        job = self._jobs.popleft()
        if woken:
            self._wake(SPREAD)
        return job

    def _wake(self, count: int) -> None:
        count = min(count, len(self._jobs) - self._pending)
        while count > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._pending += 1
                self.wakeups += 1
                count -= 1
