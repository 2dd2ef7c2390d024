"""Worker: claims jobs in batches, runs them on a scaling pool of executors, acks in batches.

Parts, all on one asyncio loop: the fetch loop claims as many jobs as there are free
slots (plus a few to keep ready when jobs are short) in one statement and feeds a bounded
channel; executors (between 1 and ``max_concurrency``, following the backlog) run jobs
from it; the ``AckBuffer`` writes outcomes in batches; the heartbeat loop extends every
held lease in one statement and cancels jobs whose lease was lost; the rescue loop
returns other workers' expired leases. A ``LoopWatchdog`` thread renews the held leases
while a handler blocks the loop, and names it.
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
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from conveyor import tracing
from conveyor.context import JobContext
from conveyor.errors import ConveyorError, LeaseLost
from conveyor.job import Job, Lease
from conveyor.logs import bound_job
from conveyor.metrics.tally import Tally, outcome_of
from conveyor.store.base import Ack, Failure, Listener, Store
from conveyor.worker.acker import AckBuffer
from conveyor.worker.channel import JobChannel
from conveyor.worker.executor import execute
from conveyor.worker.scaling import next_prefetch, target_concurrency
from conveyor.worker.watchdog import LoopWatchdog

if TYPE_CHECKING:
    from conveyor.app import Conveyor

log = logging.getLogger("conveyor.worker")
BLOCKED_AFTER_SECONDS = 0.5  # the shortest silence of the loop the watchdog acts on


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
        max_prefetch: most claimed jobs kept waiting for a slot beyond
            ``max_concurrency``; ``None`` (default) is ``max_concurrency``, 0 turns
            prefetching off. The worker keeps only as many as finish during a claim's
            round trip (``scaling.next_prefetch``): none for jobs that run long.
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
    max_prefetch: int | None = None

    @property
    def prefetch_cap(self) -> int:
        """``max_prefetch`` with its default (``max_concurrency``) filled in."""
        return self.max_concurrency if self.max_prefetch is None else self.max_prefetch

    @property
    def heartbeat_every(self) -> float:
        return (self.heartbeat_interval or self.lease_ttl / 3).total_seconds()


class Worker:
    """One worker runtime in one process. Invariant: every job in ``_held`` is either in
    the channel or running; nothing else holds a lease. ``_held`` maps a job to the one
    lease this worker holds on it now, so every step taken for a run compares that run's
    token first: a run whose lease was lost (and perhaps claimed again, with a new token,
    by this very worker) must neither ack nor take the new lease with it."""

    def __init__(self, app: Conveyor, options: WorkerOptions | None = None) -> None:
        self.app = app
        self.options = options or WorkerOptions()
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._held: dict[int, Lease] = {}
        # Running handlers by lease token (a job id may briefly have a stale run too).
        self._contexts: dict[str, tuple[asyncio.Task[None], JobContext]] = {}
        self._handing_back: list[Lease] = []  # taken from interrupted runs, for the drain
        self._channel = JobChannel()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._executors: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._runs_ended = 0  # every run that gave its slot back, for next_prefetch
        self._prefetch = 0  # claimed jobs to keep waiting beyond the slots, for now
        self._idle = asyncio.Event()
        self._idle.set()
        self._acks: AckBuffer | None = None
        self._acked = 0
        self._acked_changed = asyncio.Event()
        self._started = asyncio.Event()
        self.completed = 0
        self.tally = Tally()  # outcomes and run times, written with each heartbeat
        # The `now` of our last claim that took fewer jobs than it asked for (_held_by_rate).
        self._short_claim_at: datetime | None = None
        self._tracing = False  # whether runs get an OpenTelemetry span (conveyor.tracing)

    # -- public -------------------------------------------------------------------------

    @property
    def executor_count(self) -> int:
        return len(self._executors)

    @property
    def running_count(self) -> int:
        return self._busy

    @property
    def held_count(self) -> int:
        """Jobs this worker holds a lease on now: running, or claimed and waiting."""
        return len(self._held)

    @property
    def acked_count(self) -> int:
        """Acks written to the store so far (completions and failures)."""
        return self._acked

    async def wait_acked(self, count: int) -> None:
        """Wait until at least ``count`` acks were written (for tests and tools)."""
        while self._acked < count:
            self._acked_changed.clear()
            await self._acked_changed.wait()

    async def wait_started(self) -> None:
        """Wait until the worker made its first claim (or stopped before it could)."""
        await self._started.wait()

    def _count_acked(self, count: int) -> None:
        self._acked += count
        self._acked_changed.set()

    def _on_flushed(self, acks: Sequence[Ack]) -> None:
        self._count_acked(len(acks))
        for ack in acks:
            self._wake_for_retry(ack)

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
        try:
            await self._run(handle_signals)
        finally:
            self._started.set()  # nobody waits for a start that will not come

    async def _run(self, handle_signals: bool) -> None:
        store = await self.app.store()
        acks = AckBuffer(
            store, self.app.clock, on_lost=self._on_ack_lost, on_flushed=self._on_flushed
        )
        self._acks = acks
        if handle_signals:
            self._install_signal_handlers()
        unsubscribe = self.app.add_wakeup_listener(self.wake)
        # Listening opens a connection of its own: it does so while the worker registers
        # and makes its first claim, not before them. Once it listens, the wake-up makes
        # one more claim, which finds what was enqueued before then: no job waits for
        # the poll interval.
        listening = asyncio.create_task(store.listen(on_notify=self._on_notify))
        listening.add_done_callback(lambda _: self._wake.set())
        background: list[asyncio.Task[None]] = []
        watchdog = self._watchdog()
        watchdog.start()
        try:
            await store.register_worker(
                worker_id=self.id,
                host=socket.gethostname(),
                pid=os.getpid(),
                queues=self.options.queues,
                concurrency=self.options.max_concurrency,
                now=self.app.clock.now(),
            )
            background = [
                asyncio.create_task(acks.run(), name="conveyor-acks"),
                asyncio.create_task(self._heartbeat_loop(store), name="conveyor-heartbeat"),
                asyncio.create_task(self._rescue_loop(store), name="conveyor-rescue"),
            ]
            self._spawn_executor(store)
            await self._fetch_loop(store, listening)
            await self._report(store, "stopping")
            await self._drain(store)
        finally:
            unsubscribe()
            await asyncio.wait([listening])  # close what it opened, even on a failed start
            if not listening.cancelled() and listening.exception() is None:
                await listening.result().close()
            acks.close()
            if background:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(background[0], timeout=10)
            await _cancel_and_wait(background + list(self._executors))
            watchdog.stop()
            if background:
                with contextlib.suppress(ConveyorError):
                    await self._report(store, "stopped")
            self._stopped.set()
        log.info("worker %s stopped after %d jobs", self.id, self.completed)

    # -- fetching -----------------------------------------------------------------------

    async def _fetch_loop(self, store: Store, listening: asyncio.Task[Listener]) -> None:
        options = self.options
        loop = asyncio.get_running_loop()
        last_claim_at, ended_by_then = loop.time(), 0
        while not self._stopping.is_set():
            if listening.done():
                listening.result()  # a store that cannot listen fails the worker, as before
            # Clear before claiming, not after: a wake-up that arrives while the claim is in
            # flight (an enqueue that committed after the claim's snapshot) must survive it.
            self._wake.clear()
            free = self._claimable()
            if options.max_jobs is not None:  # do not claim what we would not run
                free = min(free, options.max_jobs - self.completed - len(self._held))
            claimed: list[Job] = []
            if free > 0:
                began, ended = loop.time(), self._runs_ended
                claim_at, short_before = self.app.clock.now(), self._short_claim_at
                self._tracing = tracing.enabled()  # asked once a claim, not once a job
                try:
                    claimed = await store.claim_jobs(
                        queues=options.queues,
                        limit=free,
                        lease_ttl=options.lease_ttl,
                        worker_id=self.id,
                        now=None,  # the database's clock: see _rescue_loop
                    )
                    if len(claimed) < free:
                        self._short_claim_at = claim_at
                except ConveyorError as exc:
                    log.error("claim failed, retrying after the poll interval: %s", exc)
                self._started.set()
                self._prefetch = next_prefetch(
                    self._prefetch,
                    ended_per_second=(ended - ended_by_then) / max(began - last_claim_at, 1e-6),
                    claim_seconds=loop.time() - began,
                    max_prefetch=options.prefetch_cap,
                )
                last_claim_at, ended_by_then = began, ended
                taken: list[Job] = []
                for job in claimed:
                    lease = job.lease
                    if lease is None:
                        continue
                    if job.rate_key is not None and _held_by_rate(job, short_before):
                        self.tally.rate_waits[job.task] += 1
                    stale = self._held.get(job.id)
                    if stale is not None:
                        # Claimed again while an earlier run of ours still holds it: that
                        # lease expired (heartbeats failed) and the job was rescued.
                        self._lose(job.id, stale.token)
                    self._held[job.id] = lease
                    taken.append(job)
                self._channel.put_many(taken)
                self._scale(store)
                if claimed and len(claimed) == free:
                    continue  # a full batch: more is likely waiting, but wait for free slots
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(options.poll_interval.total_seconds()):
                    await self._wake.wait()

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
        me = asyncio.current_task()
        assert me is not None
        while True:
            # Take a waiting job at once; only an empty channel needs the timed wait.
            job = None if self._channel.empty() else self._channel.get_nowait()
            try:
                if job is None:
                    # asyncio.timeout, not wait_for: wait_for wraps the get in a task of its
                    # own, and with a batch spread over many executors that is one per job.
                    async with asyncio.timeout(idle):
                        job = await self._channel.get()
            except TimeoutError:
                if len(self._executors) > 1:
                    # Retire: the backlog no longer needs us. Leave the set now, not in the
                    # done callback: executors that time out on the same tick would each
                    # still count the others and all retire, leaving none.
                    self._executors.discard(me)
                    return
                continue
            lease = self._held.get(job.id)
            if lease is None or lease.token != job.lease_token:
                continue  # its lease was lost while it waited in the channel
            await self._run_one(store, job, lease, me)

    def _holds(self, job_id: int, token: str) -> bool:
        """Whether ``token`` is the lease this worker holds on the job now."""
        lease = self._held.get(job_id)
        return lease is not None and lease.token == token

    async def _run_one(self, store: Store, job: Job, lease: Lease, me: asyncio.Task[None]) -> None:
        """Run the job in this executor's own task ``me`` (a task per job costs a worker much of
        its time). Stopping one run (``_lose``, ``_interrupt_running``) cancels this
        task while it awaits inside ``execute``, the only place it awaits while its context
        is registered; ``execute`` turns that into the run's outcome, and the cancellation
        is then taken back so that the executor goes on to its next job."""
        token = lease.token
        self._busy += 1
        self._idle.clear()

        def remember(ctx: JobContext) -> None:
            self._contexts[token] = (me, ctx)

        started = time.perf_counter()
        try:
            try:
                with bound_job(
                    job_id=job.id,
                    task=job.task,
                    attempt=job.attempt,
                    queue=job.queue,
                    worker_id=self.id,
                ):
                    run = execute(
                        job,
                        tasks=self.app.tasks,
                        store=store,
                        clock=self.app.clock,
                        on_context=remember,
                        hooks=self.app.hooks,
                        lease=lease,
                    )
                    ack = await (tracing.traced_run(job, run) if self._tracing else run)
            except asyncio.CancelledError:
                if self._stopping.is_set() or not self._holds(job.id, token):
                    return  # force-stopped or lease lost: the drain or the rescuer has it
                raise
            finally:
                stopped = self._contexts.pop(token, None)
                if stopped is not None and stopped[1].cancelled:
                    while me.cancelling():
                        me.uncancel()
            # Not held any more: lost (cancelled, rescued) or handed back by the drain.
            if self._holds(job.id, token):
                del self._held[job.id]
                self.completed += 1
                cancelled = stopped is not None and stopped[1].cancelled
                outcome = outcome_of(job, ack, cancelled=cancelled)
                self.tally.finish(
                    job, outcome, time.perf_counter() - started, at=self.app.clock.now()
                )
                if self.options.max_jobs is not None and self.completed >= self.options.max_jobs:
                    self.stop()
                if ack is None:  # completed inside the handler's own transaction
                    self._count_acked(1)
                elif self._acks is not None:
                    self._acks.add(ack)
        finally:
            self._busy -= 1
            self._runs_ended += 1
            if self._busy == 0:
                self._idle.set()
        self._maybe_wake_fetcher()

    def _wake_for_retry(self, ack: Ack) -> None:
        """A retry due before the next poll (``Retry(delay=0)``, short backoffs) wakes the
        fetcher when it is due. Called once its ack is written: before that the job is
        still running in the store and a claim would not see it."""
        if not isinstance(ack, Failure) or ack.retry_at is None:
            return
        wait = (ack.retry_at - self.app.clock.now()).total_seconds()
        if wait <= 0:
            self._wake.set()
        elif wait < self.options.poll_interval.total_seconds():
            asyncio.get_running_loop().call_later(wait, self._wake.set)

    def _maybe_wake_fetcher(self) -> None:
        # Claiming one job per completion would be one round trip per job: wait until
        # half the slots are free, or until the jobs kept ready run low (with none kept:
        # until the executors would otherwise go idle).
        if (
            self._claimable() >= max(1, self.options.max_concurrency // 2)
            or self._channel.qsize() <= self._prefetch // 2
        ):
            self._wake.set()

    def _claimable(self) -> int:
        """How many jobs a claim may take now: free slots plus the jobs to keep ready."""
        return self.options.max_concurrency + self._prefetch - len(self._held)

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
                        leases=leases, ttl=self.options.lease_ttl, now=None
                    )
                    for item in lost:
                        self._lose(item.job_id, item.token)
                await self._report(store, "stopping" if self._stopping.is_set() else "running")
            except Exception:  # the loop must outlive any error, or live jobs get rescued
                log.exception("heartbeat failed; retrying at the next interval")

    def _watchdog(self) -> LoopWatchdog:
        """The thread that renews held leases while the loop is blocked: a loop silent for
        a heartbeat interval has missed a heartbeat, and the next one may be too late. Half
        a second at least: a loop that is only short of CPU for a moment is not blocked,
        and renewing behind its back would hide a store outage from its own rescuer."""
        return LoopWatchdog(
            asyncio.get_running_loop(),
            new_store=self.app.new_store,
            leases=lambda: list(self._held.values()),
            running=self._running_jobs,
            on_lost=lambda lost: self._lose(lost.job_id, lost.token),
            lease_ttl=self.options.lease_ttl,
            threshold=max(self.options.heartbeat_every, BLOCKED_AFTER_SECONDS),
        )

    def _running_jobs(self, current: asyncio.Task[object] | None) -> list[str]:
        """The running jobs, as ``task (job id, attempt n)``: the one whose executor the
        loop is stuck in (``current``) if it is one, otherwise all of them."""
        runs = list(self._contexts.values())
        named = [ctx for runner, ctx in runs if runner is current] or [ctx for _, ctx in runs]
        return [f"{c.job.task} (job {c.job.id}, attempt {c.job.attempt})" for c in named]

    async def _report(self, store: Store, state: str) -> None:
        """Write this worker's vital signs to the registry."""
        await store.heartbeat_worker(
            worker_id=self.id,
            executors=self.executor_count,
            running=self.running_count,
            completed=self.completed,
            state=state,
            metrics=self.tally.to_json(),
            now=self.app.clock.now(),
        )

    def _lose(self, job_id: int, token: str) -> None:
        """The lease ``token`` on the job is gone (cancelled, rescued or finished elsewhere):
        stop the run that holds it. A newer lease of ours on the same job is kept."""
        if self._holds(job_id, token):
            del self._held[job_id]
        running = self._contexts.get(token)
        if running is not None and not running[1].cancelled:  # one cancellation a run
            runner, ctx = running
            ctx.mark_cancelled()
            runner.cancel()
            log.info("job %s lost its lease (cancelled or rescued); stopping it", job_id)

    def _interrupt_running(self) -> None:
        """Stop every running handler now (async: cancelled; sync: ``ctx.cancelled``) and
        take its lease for the drain to hand back. A run that finished has left
        ``_contexts`` already, and its executor acks it."""
        for token, (runner, ctx) in list(self._contexts.items()):
            if self._holds(ctx.job_id, token):
                self._handing_back.append(self._held.pop(ctx.job_id))
            if not ctx.cancelled:  # one cancellation a run (see _run_one)
                ctx.mark_cancelled()
                runner.cancel()

    async def _rescue_loop(self, store: Store) -> None:
        """Return expired leases to the queue. (Marking silent workers dead in the registry
        is maintenance's: ``conveyor.maintenance``.)

        Leases are claimed, extended and rescued by the database's clock (``now=None``),
        never this worker's: a worker whose clock runs ahead would otherwise rescue other
        workers' live jobs, and one whose clock lags would hand out leases already expired.
        """
        while True:
            await asyncio.sleep(self.options.rescue_interval.total_seconds())
            try:
                rescued = await store.rescue_expired(now=None, limit=1000)
            except Exception:
                log.exception("rescue failed; retrying at the next interval")
                continue
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
                self._interrupt_running()
                await self._idle.wait()
        leftovers = self._handing_back + waiting + list(self._held.values())
        self._handing_back = []
        self._held.clear()
        if leftovers:
            released = await store.release_jobs(leases=leftovers, now=self.app.clock.now())
            log.warning("handed %d unfinished jobs back to the queue: %s", len(released), released)

    def force_stop(self) -> None:
        """Stop now: running jobs are interrupted and handed back to the queue."""
        log.warning("forced shutdown: handing running jobs back now")
        self.stop()
        self._interrupt_running()

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
                self.force_stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)


def _held_by_rate(job: Job, short_claim_at: datetime | None) -> bool:
    """Whether a rate limit held the job back: it was already due at an earlier claim of
    ours that came back short, i.e. that had free slots and took every job the store would
    give. Only flow limits keep a due job from such a claim, and the job has no concurrency
    limit that could have done it instead. A wait that only other workers' claims saw is
    not counted: the figure may undercount, never overcount."""
    return (
        short_claim_at is not None and job.concurrency_key is None and job.run_at <= short_claim_at
    )


async def _cancel_and_wait(tasks: Sequence[asyncio.Task[None]], *, every: float = 0.1) -> None:
    """Cancel ``tasks`` and wait until all have ended, cancelling again if need be.

    One ``cancel()`` is not always enough on Python 3.11: ``asyncio.wait_for`` returns
    normally, dropping the cancellation, when its inner wait finishes on the same tick
    (CPython gh-86296) - psycopg_pool waits for a free connection that way, so a loop
    cancelled while it waits for one may carry on and never end.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: an error of a finished loop is not re-reported
