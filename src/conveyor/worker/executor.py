"""Running one claimed job: call its handler, bound its time, and turn the outcome into an ack."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import pydantic

from conveyor.clock import Clock
from conveyor.context import JobContext
from conveyor.errors import Discard, LeaseLost, Retry
from conveyor.hooks import Hooks
from conveyor.job import Job, JobError, Lease
from conveyor.store.base import Ack, Completion, Failure, Store
from conveyor.strict_json import unstorable_reason
from conveyor.task import Task
from conveyor.worker.process import ProcessJob, ProcessTaskError, run_in_process

_NO_HOOKS = Hooks()


class JobTimeout(Exception):
    """The attempt ran past the task's timeout."""


def describe_error(exc: BaseException, attempt: int, now: datetime) -> JobError:
    if isinstance(exc, ProcessTaskError):  # report what the child raised, not the relay
        return JobError(attempt, exc.type_name, str(exc), exc.child_traceback, now)
    return JobError(
        attempt=attempt,
        type=type(exc).__qualname__,
        message=str(exc) or type(exc).__qualname__,
        traceback="".join(traceback.format_exception(exc)),
        at=now,
    )


async def execute(
    job: Job,
    *,
    tasks: Mapping[str, Task[Any]],
    store: Store,
    clock: Clock,
    on_context: Callable[[JobContext], None] | None = None,
    hooks: Hooks | None = None,
    lease: Lease | None = None,
) -> Ack | None:
    """Run ``job`` (already claimed: it carries its lease) and describe how it ended.

    Never raises for anything the handler does: an unknown task, an invalid stored
    payload, a timeout and every exception become a ``Failure`` ack. Returns ``None`` when
    the handler completed its job inside ``ctx.transaction()``: nothing is left to ack.
    ``lease`` is the job's own (``job.lease``), passed by a caller that has it already.
    """
    lease = lease or job.lease
    if lease is None:
        raise ValueError(f"job {job.id} is not claimed")
    task = tasks.get(job.task)
    if task is None:
        error = describe_error(
            LookupError(f"no task {job.task!r} in this worker"), job.attempt, clock.now()
        )
        return Failure(job.id, lease.token, error, retry_at=clock.now() + timedelta(seconds=30))
    ctx = JobContext(job=job, lease=lease, store=store, clock=clock, app=task.app)
    if on_context is not None:
        on_context(ctx)  # the worker keeps it to cancel the job from outside
    hooks = hooks or _NO_HOOKS
    try:
        return await _run(job, lease, task, ctx, clock, hooks)
    finally:
        if ctx.marked_items:
            await _flush_items(ctx)


async def _flush_items(ctx: JobContext) -> None:
    """Write the item outcomes the handler marked, before its job is acked, whether it
    returned or raised: a later attempt must skip what this one did."""
    try:
        await ctx.flush_items()
    except Exception:
        ctx.logger.exception("could not record item outcomes; those items may run again")


async def _run(
    job: Job, lease: Lease, task: Task[Any], ctx: JobContext, clock: Clock, hooks: Hooks
) -> Ack | None:
    if hooks.has("before"):
        await hooks.emit("before", job)
    try:
        payload = task.validate(job.payload)
        result = await _call(task, payload, ctx, job.timeout_seconds)
    except Retry as exc:
        delay = exc.delay if exc.delay is not None else task.options.retry.next_delay(job.attempt)
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        return await _failed(
            job, lease, exc, clock.now() + timedelta(seconds=seconds), hooks, clock.now()
        )
    except Discard as exc:
        return await _failed(job, lease, exc, None, hooks, clock.now())
    except (Exception, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError) and not ctx.cancelled:
            raise  # the worker itself is being cancelled: let it unwind
        if ctx.cancelled and not isinstance(exc, JobTimeout):
            await hooks.emit("cancel", job)
        retry_at = clock.now() + task.options.retry.next_delay(job.attempt)
        return await _failed(job, lease, exc, retry_at, hooks, clock.now())
    if ctx.finished_in_transaction:
        await hooks.emit("after", job, result)
        return None
    try:
        stored = _jsonable(result)
    except UnstorableResult as exc:
        # Its effects happened and a retry would only repeat them: failed for good.
        return await _failed(job, lease, exc, None, hooks, clock.now())
    if hooks.has("after"):
        await hooks.emit("after", job, result)
    return Completion(job.id, lease.token, stored)


async def _failed(
    job: Job,
    lease: Lease,
    exc: BaseException,
    retry_at: datetime | None,
    hooks: Hooks,
    now: datetime,
) -> Failure:
    error = describe_error(exc, job.attempt, now)
    will_retry = retry_at is not None and job.attempt < job.max_attempts
    await hooks.emit("failure", job, error, will_retry)
    return Failure(job.id, lease.token, error, retry_at=retry_at)


async def _call(task: Task[Any], payload: Any, ctx: JobContext, timeout: float | None) -> Any:
    args = (payload, ctx) if task.takes_context else (payload,)
    if task.options.executor == "process":
        call = run_in_process(
            ProcessJob(
                module=task.fn.__module__,
                qualname=task.fn.__qualname__,
                payload_json=payload.model_dump_json(),
                job_id=ctx.job_id,
                attempt=ctx.attempt,
            )
        )
    elif task.is_async:
        call = task.fn(*args)
    else:
        call = asyncio.to_thread(task.fn, *args)
    if timeout is None:
        return await call
    try:
        return await asyncio.wait_for(call, timeout)
    except TimeoutError:
        ctx.mark_cancelled()  # a sync handler sees ctx.cancelled and can stop early
        raise JobTimeout(f"attempt exceeded the task's {timeout:g} s timeout") from None


class UnstorableResult(Exception):
    """The handler returned a value that cannot be stored as JSON."""


def _jsonable(value: Any) -> Any:
    """Handler results are stored as JSON; pydantic models are dumped first. A value no
    store can hold (``strict_json``) raises ``UnstorableResult``; any other object that is
    not JSON is stored as its ``repr``."""
    if value is None or isinstance(value, bool | int):
        return value  # the common case on the hot path: nothing to probe
    if isinstance(value, pydantic.BaseModel):
        value = value.model_dump(mode="json")
    try:
        reason = unstorable_reason(value)
    except TypeError:  # not made of JSON types at all
        return repr(value)
    if reason is not None:
        raise UnstorableResult(f"the handler's result cannot be stored as JSON: {reason}")
    return value


__all__ = ["JobTimeout", "LeaseLost", "describe_error", "execute"]
