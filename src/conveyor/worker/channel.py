"""JobChannel: claimed jobs waiting for an executor, handed out without waking idle ones in vain."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from conveyor.job import Job


class JobChannel:
    """A first-in, first-out line of claimed jobs that the worker's executors take from.

    ``asyncio.Queue`` wakes one waiting getter for each item put, so a claim of a hundred
    jobs woke a hundred idle executors. When the handlers never await (most short jobs),
    the first executor ran the whole batch before the others got the loop, and each of
    them woke only to wait again. Here at most one waiting executor is woken at a time,
    and taking a job wakes the next one only while more jobs wait: a handler that awaits
    still leaves the rest to other executors at once, and a batch that one executor runs
    alone costs one wake-up, not one per job.
    """

    def __init__(self) -> None:
        self._jobs: deque[Job] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._waking = False  # a woken waiter has not run yet

    def qsize(self) -> int:
        return len(self._jobs)

    def empty(self) -> bool:
        return not self._jobs

    def put_many(self, jobs: Iterable[Job]) -> None:
        self._jobs.extend(jobs)
        self._wake_one()

    def get_nowait(self) -> Job:
        """The next job; raises ``IndexError`` when none waits."""
        job = self._jobs.popleft()
        self._wake_one()
        return job

    async def get(self) -> Job:
        """The next job, waiting for one; cancellable (the executors' idle timeout)."""
        while not self._jobs:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    # Woken, then cancelled before it ran: pass the wake-up on.
                    self._waking = False
                    self._wake_one()
                else:
                    waiter.cancel()
                    self._waiters.remove(waiter)
                raise
            self._waking = False
        return self.get_nowait()

    def _wake_one(self) -> None:
        if self._waking or not self._jobs:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._waking = True
                return
