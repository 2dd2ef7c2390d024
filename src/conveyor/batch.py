"""Batches of child jobs with a callback: creating them from the app or from a handler.

Stable API (the car-wash chunked campaigns build on it)::

    class CampaignSent(BatchDone):               # the callback's payload: the counts
        campaign_id: int                         # plus your own fields

    @app.task(queue="email")
    async def campaign_sent(payload: CampaignSent, ctx: JobContext) -> None:
        page = await ctx.batch_jobs(payload.batch_id, state="failed")   # read results
        ...

    @app.task(queue="email")
    async def send_campaign(payload: Campaign, ctx: JobContext) -> None:
        chunks = [Chunk(campaign_id=payload.campaign_id, offset=o) for o in offsets]
        await ctx.enqueue_batch(send_chunk, chunks, callback=campaign_sent,
                                callback_payload={"campaign_id": payload.campaign_id})

    batch = await app.enqueue_batch(send_chunk, chunks, callback=campaign_sent, ...)
    batch = await app.get_batch(batch.id)        # total/pending/completed/failed/cancelled
    await app.cancel_batch(batch.id)             # cancels the unfinished children

The children and the batch row are written in one round trip. The database keeps the
batch's counters in the same transaction that makes a child final (ack, rescue, cancel),
and enqueues the callback job exactly once, when the last child becomes final - also when
the last two finish at the same moment on two machines. The callback payload is
``callback_payload`` plus the ``BatchDone`` fields. A child retried after the callback ran
re-opens the counters but never runs the callback again. A batch created by a handler
(``ctx.enqueue_batch``) has that job as parent: the parent's ``progress`` is the share of
its children that are final, and the batch carries an idempotency key derived from the
parent job, so a retried parent does not create its batch twice. Every child shares the
batch's item ledger (``ctx.items``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pydantic

from conveyor.batches import Callback, NewBatch
from conveyor.enqueue import EnqueueOptions, plan_jobs
from conveyor.errors import InvalidArgument
from conveyor.store.base import NewJob

if TYPE_CHECKING:
    from conveyor.task import Task

MAX_BATCH = 100_000


class BatchDone(pydantic.BaseModel):
    """The payload a batch callback receives (subclass it to add your own fields, which
    come from ``callback_payload``)."""

    batch_id: int
    parent_id: int | None = None
    total: int
    completed: int
    failed: int
    cancelled: int


def plan_batch(
    task: Task[Any],
    payloads: Sequence[pydantic.BaseModel | Mapping[str, Any]],
    *,
    callback: Task[Any] | None,
    callback_payload: pydantic.BaseModel | Mapping[str, Any] | None,
    parent_id: int | None,
    idempotency_key: str | None,
    options: EnqueueOptions,
    now: datetime,
) -> tuple[NewBatch, list[NewJob]]:
    """Validate every child payload and the callback, and describe the rows to insert."""
    if not payloads:
        raise InvalidArgument("payloads", "a batch needs at least one child job")
    if len(payloads) > MAX_BATCH:
        raise InvalidArgument("payloads", f"a batch holds at most {MAX_BATCH} children")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 255:
        raise InvalidArgument("idempotency_key", "must be 1 to 255 characters")
    children = plan_jobs(task, payloads, options, [None] * len(payloads), now)
    return (
        NewBatch(
            parent_id=parent_id,
            idempotency_key=idempotency_key,
            callback=None
            if callback is None
            else _callback(callback, callback_payload, len(payloads)),
        ),
        children,
    )


def _callback(
    task: Task[Any],
    payload: pydantic.BaseModel | Mapping[str, Any] | None,
    total: int,
) -> Callback:
    if isinstance(payload, pydantic.BaseModel):
        payload = payload.model_dump(mode="json")
    extra = dict(payload or {})
    counts = {"batch_id": 0, "parent_id": None, "total": total}
    counts |= {"completed": 0, "failed": 0, "cancelled": 0}
    if clash := sorted(set(extra) & set(counts)):
        raise InvalidArgument("callback_payload", f"must not set {', '.join(clash)}")
    # Validated now, with the counts it will carry, so that a callback that could never
    # run is refused at enqueue rather than found failed after the last child.
    checked = task.validate({**extra, **counts}).model_dump(mode="json")
    options = task.options
    return Callback(
        task=task.name,
        queue=options.queue,
        payload={key: value for key, value in checked.items() if key not in counts},
        priority=options.priority,
        max_attempts=options.max_attempts,
        timeout_seconds=options.timeout,
    )
