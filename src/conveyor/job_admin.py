"""JobAdmin: what the app's job, item-ledger and queue administration methods do, through
the app's store and clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from conveyor.arguments import aware, check_page, queue_name, states, task_names
from conveyor.errors import InvalidArgument, InvalidTransition
from conveyor.explain import Explanation, explain
from conveyor.item import ItemCounts, ItemOutcome, ItemPage, ledger_of
from conveyor.job import Job, JobState, Page
from conveyor.metrics.tally import Tally
from conveyor.queue import QueueInfo
from conveyor.stats import Activity, JobStats, QueueCount, WorkerInfo
from conveyor.store.base import JobFilter, Store

if TYPE_CHECKING:
    from conveyor.seams import AppSeam


class JobAdmin:
    """One per app."""

    def __init__(self, app: AppSeam) -> None:
        self.app = app

    def filter(
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
    ) -> JobFilter:
        """The store's filter for these conditions, each checked."""
        return JobFilter(
            states=states(state),
            tasks=task_names(task, self.app.get_task),
            queues=[queue] if isinstance(queue, str) else queue,
            ids=ids,
            idempotency_key=idempotency_key,
            created_after=aware("created_after", created_after),
            created_before=aware("created_before", created_before),
            finished_after=aware("finished_after", finished_after),
            finished_before=aware("finished_before", finished_before),
        )

    async def page(self, job_filter: JobFilter, *, after: int | None, limit: int) -> Page:
        check_page(limit)
        store = await self.app.store()
        return await store.list_jobs(filter=job_filter, after=after, limit=limit)

    async def cancel(self, job_id: int) -> Job:
        store = await self.app.store()
        cancelled = await store.cancel_jobs(ids=[job_id], now=self.app.clock.now())
        return await _changed_or_refused(store, job_id, cancelled, "cancel")

    async def retry(self, job_id: int) -> Job:
        store = await self.app.store()
        retried = await store.retry_jobs(ids=[job_id], now=self.app.clock.now())
        return await _changed_or_refused(store, job_id, retried, "retry")

    async def get(self, job_id: int) -> Job:
        return await (await self.app.store()).get_job(job_id=job_id)

    async def rerun(self, job_id: int) -> Job:
        store = await self.app.store()
        return await store.rerun_job(job_id=job_id, now=self.app.clock.now())

    async def workers(self, limit: int) -> list[WorkerInfo]:
        return await (await self.app.store()).list_workers(limit=limit)

    async def counts(self) -> list[QueueCount]:
        return await (await self.app.store()).count_jobs()

    async def cancel_many(self, ids: Sequence[int]) -> list[Job]:
        return await (await self.app.store()).cancel_jobs(ids=ids, now=self.app.clock.now())

    async def retry_many(self, ids: Sequence[int]) -> list[Job]:
        return await (await self.app.store()).retry_jobs(ids=ids, now=self.app.clock.now())

    async def activity(self) -> Activity:
        tallies = await (await self.app.store()).worker_tallies()
        return Tally.merged(list(tallies)).activity(self.app.clock.now())

    async def retry_failed(self, job_filter: JobFilter) -> int:
        store = await self.app.store()
        return await store.retry_failed(filter=job_filter, now=self.app.clock.now())

    async def stats(self, minutes: int) -> JobStats:
        now = self.app.clock.now()
        store = await self.app.store()
        return await store.job_stats(now=now, since=now - timedelta(minutes=minutes))

    async def sweep(self) -> list[int]:
        store = await self.app.store()
        rescued = await store.rescue_expired(now=self.app.clock.now(), limit=10_000)
        queues = sorted({count.queue for count in await store.count_jobs()})
        await store.notify_queues(queues=queues)
        self.app.wake_workers()
        return rescued

    async def explain(self, job_id: int) -> Explanation:
        store = await self.app.store()
        job = await store.get_job(job_id=job_id)
        ttl = timedelta(seconds=self.app.settings.lease_ttl_seconds)
        return await explain(store, job, now=self.app.clock.now(), lease_ttl=ttl)

    async def items(
        self, job_id: int, *, outcome: str | ItemOutcome | None, after: str | None, limit: int
    ) -> tuple[ItemCounts, ItemPage]:
        check_page(limit)
        try:
            wanted = None if outcome is None else ItemOutcome(outcome)
        except ValueError:
            raise InvalidArgument("outcome", "must be done, skipped or failed") from None
        store = await self.app.store()
        ledger = ledger_of(await store.get_job(job_id=job_id))
        counts = await store.count_items(ledger=ledger)
        page = await store.list_items(ledger=ledger, outcome=wanted, after=after, limit=limit)
        return counts, page

    async def queues(self) -> list[QueueInfo]:
        store = await self.app.store()
        listed = {q.name: q for q in await store.list_queues(now=self.app.clock.now())}
        for task in self.app.tasks.values():
            listed.setdefault(task.options.queue, QueueInfo.empty(task.options.queue))
        return [listed[name] for name in sorted(listed)]

    async def set_paused(self, name: str, paused: bool) -> QueueInfo:
        store = await self.app.store()
        now = self.app.clock.now()
        if paused:
            await store.pause_queue(queue=queue_name(name), now=now)
        elif await store.resume_queue(queue=queue_name(name), now=now):
            self.app.wake_workers()  # the store wakes other processes' workers itself
        for queue in await store.list_queues(now=self.app.clock.now()):
            if queue.name == name:
                return queue
        return QueueInfo.empty(name)


async def _changed_or_refused(store: Store, job_id: int, changed: list[Job], action: str) -> Job:
    """The one job ``action`` changed; ``InvalidTransition`` when its state forbade it."""
    if changed:
        return changed[0]
    job = await store.get_job(job_id=job_id)
    raise InvalidTransition(job_id, job.state.value, action)
