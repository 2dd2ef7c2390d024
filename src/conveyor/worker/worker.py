"""Worker: claims jobs in batches, runs them on a scaling pool of executors, acks in batches.

Parts, all on one asyncio loop: the fetch loop claims as many jobs as there are free
slots in one statement and feeds a bounded channel; executors (between 1 and
``max_concurrency``, following the backlog) run jobs from it; the ``AckBuffer`` writes
outcomes in batches; the heartbeat loop extends every held lease in one statement and
cancels jobs whose lease was lost; the rescue loop returns other workers' expired leases.
``stop()`` drains: no more claims, running jobs get ``drain_timeout`` to finish, whatever
is left is handed back to the queue at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from conveyor.context import JobContext
from conveyor.errors import ConveyorError, LeaseLost
from conveyor.job import Job, Lease
from conveyor.store.base import Ack, Store
from conveyor.worker.acker import AckBuffer
from conveyor.worker.executor import execute
from conveyor.worker.scaling import target_concurrency

if TYPE_CHECKING:
    from conveyor.app import Conveyor

log = logging.getLogger("conveyor.worker")


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How a worker runs.

    Attributes:
        queues: queues to serve; ``None`` serves every queue (default).
        max_concurrency: most jobs running at once (default 10).
        scaling_threshold: backlog per extra executor (default 1).
        lease_ttl: how long a claim holds a job without a heartbeat (default 30 s).
        heartbeat_interval: how often held leases are extended (default lease_ttl / 3).
        poll_interval: the longest wait between claims when nothing wakes the worker (1 s).
        rescue_interval: how often expired leases are looked for (default 5 s).
        drain_timeout: how long running jobs may finish after stop (default 30 s).
        idle_timeout: an idle executor above the minimum retires after this (default 5 s).
        max_jobs: stop (gracefully) after this many jobs, ``None`` for never (default);
            the supervisor then starts a fresh process.
    """

    queues: Sequence[str] | None = None
    max_concurrency: int = 10
    scaling_threshold: int = 1
    lease_ttl: timedelta = timedelta(seconds=30)
    heartbeat_interval: timedelta | None = None
    poll_interval: timedelta = timedelta(seconds=1)
    rescue_interval: timedelta = timedelta(seconds=5)
    drain_timeout: timedelta = timedelta(seconds=30)
    idle_timeout: timedelta = timedelta(seconds=5)
    max_jobs: int | None = None

    @property
    def heartbeat_every(self) -> float:
        return (self.heartbeat_interval or self.lease_ttl / 3).total_seconds()


class Worker:
    """One worker runtime in one process. Invariant: every job in ``_held`` is either in
    the channel, running, or waiting for its ack to flush; nothing else holds a lease."""

    def __init__(self, app: Conveyor, options: WorkerOptions | None = None) -> None:
        self.app = app
        self.options = options or WorkerOptions()
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._held: dict[int, Lease] = {}
        self._contexts: dict[int, tuple[asyncio.Task[Ack | None], JobContext]] = {}
        self._channel: asyncio.Queue[Job] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._executors: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._acks: AckBuffer | None = None
        self._acked = 0
        self._acked_changed = asyncio.Event()
        self.completed = 0

    # -- public -------------------------------------------------------------------------

    @property
    def executor_count(self) -> int:
        return len(self._executors)

    @property
    def running_count(self) -> int:
        return self._busy

    @property
    def acked_count(self) -> int:
        """Acks written to the store so far (completions and failures)."""
        return self._acked

    async def wait_acked(self, count: int) -> None:
        """Wait until at least ``count`` acks were written (for tests and tools)."""
        while self._acked < count:
            self._acked_changed.clear()
            await self._acked_changed.wait()

    def _on_flushed(self, count: int) -> None:
        self._acked += count
        self._acked_changed.set()

    def wake(self) -> None:
        """Claim now instead of at the next poll (a notification arrived)."""
        self._wake.set()

    def _on_notify(self, queue: str) -> None:
        if self.options.queues is None or queue in self.options.queues:
            self._wake.set()

    def stop(self) -> None:
        """Begin a graceful drain (idempotent)."""
        self._stopping.set()
        self._wake.set()

    async def run(self, *, handle_signals: bool = False) -> None:
        """Run until ``stop()`` (or SIGTERM/SIGINT with ``handle_signals``)."""
        store = await self.app.store()
        acks = AckBuffer(
            store, self.app.clock, on_lost=self._on_ack_lost, on_flushed=self._on_flushed
        )
        self._acks = acks
        if handle_signals:
            self._install_signal_handlers()
        await store.register_worker(
            worker_id=self.id,
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=self.options.queues,
            concurrency=self.options.max_concurrency,
            now=self.app.clock.now(),
        )
        unsubscribe = self.app.add_wakeup_listener(self.wake)
        listener = await store.listen(on_notify=self._on_notify)
        background = [
            asyncio.create_task(acks.run(), name="conveyor-acks"),
            asyncio.create_task(self._heartbeat_loop(store), name="conveyor-heartbeat"),
            asyncio.create_task(self._rescue_loop(store), name="conveyor-rescue"),
        ]
        try:
            self._spawn_executor(store)
            await self._fetch_loop(store)
            await self._report(store, "stopping")
            await self._drain(store)
        finally:
            unsubscribe()
            await listener.close()
            acks.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(background[0], timeout=10)
            for task in background[1:] + list(self._executors):
                task.cancel()
            await asyncio.gather(*background, *self._executors, return_exceptions=True)
            with contextlib.suppress(ConveyorError):
                await self._report(store, "stopped")
            self._stopped.set()
        log.info("worker %s stopped after %d jobs", self.id, self.completed)

    # -- fetching -----------------------------------------------------------------------

    async def _fetch_loop(self, store: Store) -> None:
        options = self.options
        while not self._stopping.is_set():
            free = options.max_concurrency - len(self._held)
            if options.max_jobs is not None:  # do not claim what we would not run
                free = min(free, options.max_jobs - self.completed - len(self._held))
            claimed: list[Job] = []
            if free > 0:
                try:
                    claimed = await store.claim_jobs(
                        queues=options.queues,
                        limit=free,
                        lease_ttl=options.lease_ttl,
                        worker_id=self.id,
                        now=self.app.clock.now(),
                    )
                except ConveyorError as exc:
                    log.error("claim failed, retrying after the poll interval: %s", exc)
                for job in claimed:
                    if job.lease is not None:
                        self._held[job.id] = job.lease
                        self._channel.put_nowait(job)
                self._scale(store)
                if claimed and len(claimed) == free:
                    continue  # a full batch: more is likely waiting, but wait for free slots
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), options.poll_interval.total_seconds())

    def _scale(self, store: Store) -> None:
        backlog = self._channel.qsize() + self._busy
        target = target_concurrency(
            backlog,
            max_concurrency=self.options.max_concurrency,
            scaling_threshold=self.options.scaling_threshold,
        )
        while len(self._executors) < target:
            self._spawn_executor(store)

    # -- executing ----------------------------------------------------------------------

    def _spawn_executor(self, store: Store) -> None:
        task = asyncio.create_task(self._executor(store), name="conveyor-executor")
        self._executors.add(task)
        task.add_done_callback(self._executors.discard)

    async def _executor(self, store: Store) -> None:
        idle = self.options.idle_timeout.total_seconds()
        while True:
            try:
                job = await asyncio.wait_for(self._channel.get(), idle)
            except TimeoutError:
                if len(self._executors) > 1:
                    return  # retire: the backlog no longer needs us
                continue
            if job.id not in self._held:
                continue  # its lease was lost while it waited in the channel
            await self._run_one(store, job)

    async def _run_one(self, store: Store, job: Job) -> None:
        self._busy += 1
        self._idle.clear()
        runner: asyncio.Task[Ack | None] | None = None

        def remember(ctx: JobContext) -> None:
            if runner is not None:
                self._contexts[job.id] = (runner, ctx)

        try:
            runner = asyncio.create_task(
                execute(
                    job,
                    tasks=self.app.tasks,
                    store=store,
                    clock=self.app.clock,
                    on_context=remember,
                    hooks=self.app.hooks,
                )
            )
            try:
                ack = await runner
            except asyncio.CancelledError:
                if self._stopping.is_set() or job.id not in self._held:
                    return  # force-stopped or lease lost: the drain or the rescuer has it
                raise
            if self._held.pop(job.id, None) is not None:
                self.completed += 1
                if self.options.max_jobs is not None and self.completed >= self.options.max_jobs:
                    self.stop()
                if ack is None:  # completed inside the handler's own transaction
                    self._on_flushed(1)
                elif self._acks is not None:
                    self._acks.add(ack)
        finally:
            self._contexts.pop(job.id, None)
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()
        self._maybe_wake_fetcher()

    def _maybe_wake_fetcher(self) -> None:
        # Claiming one job per completion would be one round trip per job: wait until
        # half the slots are free, or until the executors would otherwise go idle.
        free = self.options.max_concurrency - len(self._held)
        if free >= max(1, self.options.max_concurrency // 2) or self._channel.empty():
            self._wake.set()

    def _on_ack_lost(self, lost: LeaseLost) -> None:
        log.warning("job %s finished after losing its lease; its result was discarded", lost.job_id)

    # -- leases -------------------------------------------------------------------------

    async def _heartbeat_loop(self, store: Store) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_every)
            leases = list(self._held.values())
            try:
                if leases:
                    lost = await store.extend_leases(
                        leases=leases, ttl=self.options.lease_ttl, now=self.app.clock.now()
                    )
                    for item in lost:
                        self._lose(item.job_id)
                await self._report(store, "stopping" if self._stopping.is_set() else "running")
            except ConveyorError as exc:
                log.error("heartbeat failed: %s", exc)

    async def _report(self, store: Store, state: str) -> None:
        """Write this worker's vital signs to the registry."""
        await store.heartbeat_worker(
            worker_id=self.id,
            executors=self.executor_count,
            running=self.running_count,
            completed=self.completed,
            state=state,
            now=self.app.clock.now(),
        )

    def _lose(self, job_id: int) -> None:
        """The job was cancelled, rescued or finished elsewhere: stop working on it."""
        self._held.pop(job_id, None)
        running = self._contexts.get(job_id)
        if running is not None:
            runner, ctx = running
            ctx.mark_cancelled()
            runner.cancel()
            log.info("job %s lost its lease (cancelled or rescued); stopping it", job_id)

    async def _rescue_loop(self, store: Store) -> None:
        """Return expired leases to the queue, and mark workers that went silent dead."""
        while True:
            await asyncio.sleep(self.options.rescue_interval.total_seconds())
            now = self.app.clock.now()
            try:
                rescued = await store.rescue_expired(now=now, limit=1000)
                dead = await store.mark_dead_workers(
                    before=now - 2 * self.options.lease_ttl, now=now
                )
            except ConveyorError as exc:
                log.error("rescue failed: %s", exc)
                continue
            if dead:
                log.warning("workers stopped heart-beating, marked dead: %s", dead)
            if rescued:
                log.warning("rescued %d jobs whose lease expired: %s", len(rescued), rescued)
                self._wake.set()

    # -- shutdown -----------------------------------------------------------------------

    async def _drain(self, store: Store) -> None:
        """Let running jobs finish within the drain timeout, then hand back the rest."""
        waiting: list[Lease] = []
        while not self._channel.empty():
            job = self._channel.get_nowait()
            lease = self._held.pop(job.id, None)
            if lease is not None:
                waiting.append(lease)
        if self._busy:
            timeout = self.options.drain_timeout.total_seconds()
            try:
                await asyncio.wait_for(self._idle.wait(), timeout)
            except TimeoutError:
                log.warning("drain timeout: cancelling %d running jobs", self._busy)
                for runner, _ in list(self._contexts.values()):
                    runner.cancel()
                await self._idle.wait()
        leftovers = waiting + [lease for lease in self._held.values()]
        self._held.clear()
        if leftovers:
            released = await store.release_jobs(leases=leftovers, now=self.app.clock.now())
            log.warning("handed %d unfinished jobs back to the queue: %s", len(released), released)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        signals_seen = 0

        def on_signal() -> None:
            nonlocal signals_seen
            signals_seen += 1
            if signals_seen == 1:
                log.warning("shutting down: draining running jobs (signal again to force)")
                self.stop()
            else:
                log.warning("forced shutdown: handing running jobs back now")
                for runner, _ in list(self._contexts.values()):
                    runner.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
