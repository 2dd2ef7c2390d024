"""BatchAdmin: what the app's batch methods do (create, read, list and cancel batches)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.arguments import check_page, states
from conveyor.batch import plan_batch
from conveyor.batches import Batch, BatchPage
from conveyor.enqueue import EnqueueOptions, Payload
from conveyor.job import JobState, Page

if TYPE_CHECKING:
    from conveyor.seams import AppSeam
    from conveyor.task import Task


class BatchAdmin:
    """One per app; every call goes through the app's store and clock."""

    def __init__(self, app: AppSeam) -> None:
        self.app = app

    async def enqueue(
        self,
        task: str | Task[Any],
        payloads: Sequence[Payload],
        *,
        callback: str | Task[Any] | None,
        callback_payload: Payload | None,
        idempotency_key: str | None,
        parent_id: int | None,
        options: EnqueueOptions,
    ) -> Batch:
        now = self.app.clock.now()
        batch, children = plan_batch(
            self.app.resolve_task(task),
            payloads,
            callback=None if callback is None else self.app.resolve_task(callback),
            callback_payload=callback_payload,
            parent_id=parent_id,
            idempotency_key=idempotency_key,
            options=options,
            now=now,
        )
        store = await self.app.store()
        created, _ = await store.insert_batch(batch=batch, jobs=children, now=now)
        self.app.wake_workers()
        return created

    async def get(self, batch_id: int) -> Batch:
        return await (await self.app.store()).get_batch(batch_id=batch_id)

    async def recent(self, *, unfinished: bool, after: int | None, limit: int) -> BatchPage:
        check_page(limit)
        store = await self.app.store()
        return await store.list_recent_batches(unfinished_only=unfinished, after=after, limit=limit)

    async def of_job(self, job_id: int) -> list[Batch]:
        return await (await self.app.store()).list_batches(parent_id=job_id)

    async def jobs(
        self,
        batch_id: int,
        *,
        state: str | JobState | Sequence[str | JobState] | None,
        after: int | None,
        limit: int,
    ) -> Page:
        check_page(limit)
        store = await self.app.store()
        await store.get_batch(batch_id=batch_id)  # raises BatchNotFound
        return await store.list_batch_jobs(
            batch_id=batch_id, states=states(state), after=after, limit=limit
        )

    async def cancel(self, batch_id: int) -> Batch:
        store = await self.app.store()
        await store.cancel_batch(batch_id=batch_id, now=self.app.clock.now())
        return await store.get_batch(batch_id=batch_id)
