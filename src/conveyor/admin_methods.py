"""The app's reading and administration methods, a base of ``Conveyor``: jobs, item
ledgers, queues and batches. Each delegates to ``JobAdmin`` or ``BatchAdmin``, which do
the work through the app's store and clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.batch_admin import BatchAdmin
from conveyor.batches import Batch, BatchPage
from conveyor.enqueue import EnqueueOptions, Payload
from conveyor.explain import Explanation
from conveyor.item import ItemCounts, ItemOutcome, ItemPage
from conveyor.job import Job, JobState, Page
from conveyor.job_admin import JobAdmin
from conveyor.queue import QueueInfo
from conveyor.stats import Activity, JobStats, QueueCount, WorkerInfo

if TYPE_CHECKING:
    from conveyor.seams import AppSeam
    from conveyor.task import Task


class AdminMethods:
    """``get_job``, ``list_jobs``, ``cancel``, ``retry``, ``retry_failed``, ``rerun``,
    ``stats``, ``sweep``, ``workers``, ``counts``, ``explain``, ``job_items``, the queue
    methods and the batch methods of ``Conveyor``."""

    def __init__(self, app: AppSeam) -> None:
        self._jobs = JobAdmin(app)
        self._batches = BatchAdmin(app)

    # -- reading and administration (conveyor.job_admin does the work) ------------------

    async def get_job(self, job_id: int) -> Job:
        return await self._jobs.get(job_id)

    async def list_jobs(
        self,
        *,
        state: str | JobState | Sequence[str | JobState] | None = None,
        task: str | Sequence[str] | None = None,
        queue: str | Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
        idempotency_key: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        finished_after: datetime | None = None,
        finished_before: datetime | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> Page:
        """One page of jobs, newest first; pass ``page.next_after`` as ``after`` for the next."""
        job_filter = self._jobs.filter(
            state=state,
            task=task,
            queue=queue,
            ids=ids,
            idempotency_key=idempotency_key,
            created_after=created_after,
            created_before=created_before,
            finished_after=finished_after,
            finished_before=finished_before,
        )
        return await self._jobs.page(job_filter, after=after, limit=limit)

    async def cancel(self, job_id: int) -> Job:
        """Cancel a job that is not final; raises ``InvalidTransition`` otherwise."""
        return await self._jobs.cancel(job_id)

    async def retry(self, job_id: int) -> Job:
        """Make a ``failed`` or ``cancelled`` job ``available`` again."""
        return await self._jobs.retry(job_id)

    async def retry_failed(
        self,
        *,
        ids: Sequence[int] | None = None,
        task: str | Sequence[str] | None = None,
        finished_after: datetime | None = None,
        finished_before: datetime | None = None,
    ) -> int:
        """Retry every failed job matching all the given conditions; returns how many."""
        job_filter = self._jobs.filter(
            ids=ids, task=task, finished_after=finished_after, finished_before=finished_before
        )
        return await self._jobs.retry_failed(job_filter)

    async def cancel_many(self, ids: Sequence[int]) -> list[Job]:
        """Cancel those of ``ids`` that are not final, in one statement; returns them.
        Callers pass a bounded batch (the dashboard: one page), so no lock is held long."""
        return await self._jobs.cancel_many(ids)

    async def retry_many(self, ids: Sequence[int]) -> list[Job]:
        """Make those of ``ids`` that are ``failed`` or ``cancelled`` available again, in
        one statement; returns them. Callers pass a bounded batch, as for ``cancel_many``."""
        return await self._jobs.retry_many(ids)

    async def activity(self) -> Activity:
        """Runs ended per minute over the last hour and per hour over the last day, by
        outcome, summed from the workers' tallies (one read of the worker registry, never
        of the jobs table)."""
        return await self._jobs.activity()

    async def rerun(self, job_id: int) -> Job:
        """Clone a finished job into a new one (``rerun_of`` = ``job_id``)."""
        return await self._jobs.rerun(job_id)

    async def stats(self, *, minutes: int = 15) -> JobStats:
        """Counts by queue and state, throughput per minute over the last ``minutes``, and
        the oldest due job still waiting."""
        return await self._jobs.stats(minutes)

    async def sweep(self) -> list[int]:
        """Rescue expired leases now and wake every worker ("fetch tasks from the DB");
        returns the rescued job ids."""
        return await self._jobs.sweep()

    async def workers(self, *, limit: int = 100) -> list[WorkerInfo]:
        """The worker registry, newest first: live, draining, stopped and dead workers."""
        return await self._jobs.workers(limit)

    async def counts(self) -> list[QueueCount]:
        return await self._jobs.counts()

    async def explain(self, job_id: int) -> Explanation:
        """Why job ``job_id`` is not running now, and until when where that is known
        (see ``conveyor.explain`` for the reasons). Raises ``JobNotFound``."""
        return await self._jobs.explain(job_id)

    async def job_items(
        self,
        job_id: int,
        *,
        outcome: str | ItemOutcome | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> tuple[ItemCounts, ItemPage]:
        """The per-outcome counts of the ledger ``job_id`` writes (its batch's, when it is
        a batch child) and one page of its items in key order (e.g. ``outcome="failed"``
        for the failed items with their reasons). Raises ``JobNotFound``."""
        return await self._jobs.items(job_id, outcome=outcome, after=after, limit=limit)

    async def queues(self) -> list[QueueInfo]:
        """Every queue, by name: those holding jobs, those paused, and those the registered
        tasks name (with zero counts until jobs arrive)."""
        return await self._jobs.queues()

    async def pause_queue(self, name: str) -> QueueInfo:
        """Stop workers claiming from queue ``name``; jobs keep being accepted and wait,
        running jobs finish. Idempotent; any name may be paused, even before its first job."""
        return await self._jobs.set_paused(name, True)

    async def resume_queue(self, name: str) -> QueueInfo:
        """Let workers claim from queue ``name`` again, waking them now. Idempotent."""
        return await self._jobs.set_paused(name, False)

    # -- batches (conveyor.batch_admin does the work) -----------------------------------

    async def enqueue_batch(
        self,
        task: str | Task[Any],
        payloads: Sequence[Payload],
        *,
        callback: str | Task[Any] | None = None,
        callback_payload: Payload | None = None,
        idempotency_key: str | None = None,
        parent_id: int | None = None,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
    ) -> Batch:
        """Enqueue a batch of child jobs of ``task`` in one round trip, with an optional
        ``callback`` task enqueued once when every child is final (see
        ``conveyor.batch``). A taken ``idempotency_key`` returns the batch holding it."""
        return await self._batches.enqueue(
            task,
            payloads,
            callback=callback,
            callback_payload=callback_payload,
            idempotency_key=idempotency_key,
            parent_id=parent_id,
            options=EnqueueOptions(run_at, delay, priority, queue),
        )

    async def get_batch(self, batch_id: int) -> Batch:
        """Raises ``BatchNotFound``."""
        return await self._batches.get(batch_id)

    async def list_batches(
        self, *, unfinished: bool = False, after: int | None = None, limit: int = 100
    ) -> BatchPage:
        """One page of batches, newest first (``after``: ``next_after``); with
        ``unfinished``, only those whose children are not all final yet."""
        return await self._batches.recent(unfinished=unfinished, after=after, limit=limit)

    async def batches_of(self, job_id: int) -> list[Batch]:
        """The batches a job created (``ctx.enqueue_batch``), oldest first."""
        return await self._batches.of_job(job_id)

    async def batch_jobs(
        self,
        batch_id: int,
        *,
        state: str | JobState | Sequence[str | JobState] | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> Page:
        """One page of a batch's children in creation order (``after``: ``next_after``)."""
        return await self._batches.jobs(batch_id, state=state, after=after, limit=limit)

    async def cancel_batch(self, batch_id: int) -> Batch:
        """Cancel every unfinished child of the batch; returns the batch afterwards."""
        return await self._batches.cancel(batch_id)
