"""Enqueue planning: from a task, payloads and options to the rows to insert (validated,
with their run time and state), and handing them to the store in chunks. Writes nothing
but through the store; shared by the app, batches and the scheduler."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import TYPE_CHECKING, Any

import pydantic

from conveyor import tracing
from conveyor.arguments import aware
from conveyor.bulk import build_many
from conveyor.errors import InvalidArgument
from conveyor.store.base import Inserted, NewJob, Store

if TYPE_CHECKING:
    from conveyor.task import Task

MAX_DELAY = timedelta(days=3650)
# A larger enqueue_many goes to the store in chunks of this many jobs (one transaction),
# so that PostgreSQL inserts one chunk while the next is validated and encoded.
ENQUEUE_CHUNK = 2_000
PRIORITY_RANGE = range(-(2**31), 2**31)  # the column is a 32-bit integer

Payload = pydantic.BaseModel | Mapping[str, Any]


@dataclass(frozen=True)
class EnqueueOptions:
    """How the jobs of one enqueue run: when (``run_at`` or ``delay``, not both; default
    now), at which ``priority`` and on which ``queue`` (defaults: the task's)."""

    run_at: datetime | None = None
    delay: timedelta | float | None = None
    priority: int | None = None
    queue: str | None = None

    def resolve_run_at(self, now: datetime) -> datetime:
        if self.run_at is not None and self.delay is not None:
            raise InvalidArgument("run_at", "give run_at or delay, not both")
        if self.run_at is not None:
            return aware("run_at", self.run_at) or now
        if self.delay is not None:
            delay = self.delay
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            if not 0 <= seconds <= MAX_DELAY.total_seconds():
                raise InvalidArgument("delay", f"must be between 0 and {MAX_DELAY.days} days")
            return now + timedelta(seconds=seconds)
        return now

    def check(self) -> None:
        if self.queue is not None and not self.queue:
            raise InvalidArgument("queue", "must not be empty")
        if self.queue is not None and "\x00" in self.queue:
            raise InvalidArgument("queue", "must not contain NUL characters")
        if self.priority is not None and self.priority not in PRIORITY_RANGE:
            raise InvalidArgument("priority", "must fit in a 32-bit integer")


def plan_jobs(
    task: Task[Any],
    payloads: Sequence[Payload],
    options: EnqueueOptions,
    keys: Sequence[str | None],
    now: datetime,
) -> list[NewJob]:
    """Validate everything and describe the rows to insert; writes nothing."""
    when = options.resolve_run_at(now)
    options.check()
    for key in keys:
        if key is not None and not (0 < len(key) <= 255):
            raise InvalidArgument("idempotency_key", "must be 1 to 255 characters")
        # PostgreSQL cannot store NUL in text or jsonb: refuse it here, on both stores alike.
        if key is not None and "\x00" in key:
            raise InvalidArgument("idempotency_key", "must not contain NUL characters")
    defaults = task.options
    flow = defaults.flow
    models, dumped = task.dump_many(payloads)
    # NUL characters in payloads are refused when the batch is serialised (store/insert.py).
    shared: dict[str, Any] = {
        "task": task.name,
        "queue": options.queue or defaults.queue,
        "run_at": when,
        "priority": defaults.priority if options.priority is None else options.priority,
        "max_attempts": defaults.max_attempts,
        "timeout_seconds": defaults.timeout,
        "traceparent": tracing.current_traceparent(),
    }
    if not flow.shapes_jobs:
        each = {"payload": dumped, "idempotency_key": keys}
        return build_many(NewJob, len(dumped), each=each, shared=shared)
    return [
        NewJob(
            payload=payload,
            # A uniqueness window is an idempotency key naming the window.
            idempotency_key=key or flow.unique_idempotency_key(model, now),
            **shared,
            **flow.job_fields(task.name, model),
        )
        for model, payload, key in zip(models, dumped, keys, strict=True)
    ]


async def insert_in_chunks(
    store: Callable[[], Any],
    build: Callable[[int, int], list[NewJob]],
    count: int,
    now: datetime,
    chunk: int = ENQUEUE_CHUNK,
) -> list[Inserted]:
    """A large enqueue, built (``build(start, stop)``) and handed to the store ``chunk``
    jobs at a time, all or nothing in one transaction: the store may write one chunk
    while the next is validated. ``store`` is the app's (awaitable) store getter."""
    # The first chunk is built before the store opens, so that a bad argument or payload
    # there fails without touching the database.
    first = build(0, chunk)
    rest = (build(start, start + chunk) for start in range(chunk, count, chunk))
    opened: Store = await store()
    return await opened.insert_job_chunks(chunks=chain([first], rest), now=now)
