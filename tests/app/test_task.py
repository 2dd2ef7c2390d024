"""@app.task: registration, naming and lookup, task options, and per-enqueue overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pydantic
import pytest

from conveyor import (
    ConfigurationError,
    Conveyor,
    InvalidArgument,
    JobContext,
    JobState,
    Task,
    TaskNotFound,
)
from conveyor.clock import FrozenClock
from tests.app import _other_tasks


class Receipt(pydantic.BaseModel):
    customer_id: int


async def send_receipt(payload: Receipt, ctx: JobContext) -> None:
    """An async handler that takes the job context."""


def print_receipt(payload: Receipt) -> dict[str, Any]:
    """A sync handler without the context."""
    return {"printed": payload.customer_id}


def charge_card(payload: Receipt) -> None:
    """Registered as billing.charge."""


def charge_shipping(payload: Receipt) -> None:
    """Registered as shipping.charge."""


def takes_an_int(payload: int) -> None:
    """Not a pydantic model."""


def takes_a_dict(payload: dict[str, Any], ctx: JobContext) -> None:
    """Not a pydantic model either."""


def unannotated(payload):  # type: ignore[no-untyped-def]
    """No annotation at all."""


def no_parameters() -> None:
    """No payload parameter."""


async def _jobs(app: Conveyor) -> list[Any]:
    return (await app.list_jobs()).jobs


def test_async_and_sync_functions_register_as_tasks(store_url: str) -> None:
    app = Conveyor(store_url)
    async_task = app.task(send_receipt)
    sync_task = app.task()(print_receipt)

    assert isinstance(async_task, Task)
    assert isinstance(sync_task, Task)
    assert async_task.is_async and async_task.options.executor == "async"
    assert not sync_task.is_async and sync_task.options.executor == "thread"
    assert async_task.takes_context and not sync_task.takes_context
    assert async_task.payload_type is Receipt
    assert sync_task.payload_type is Receipt
    assert set(app.tasks) == {async_task.name, sync_task.name}
    # Calling a task object calls the function itself.
    assert sync_task(Receipt(customer_id=4)) == {"printed": 4}
    assert sync_task.__doc__ == print_receipt.__doc__


def test_default_name_is_module_qualified(store_url: str) -> None:
    app = Conveyor(store_url)
    task = app.task(send_receipt)

    assert task.name == f"{send_receipt.__module__}.{send_receipt.__qualname__}"
    assert task.name == "tests.app.test_task.send_receipt"


def test_get_task_by_full_name_and_by_bare_name(store_url: str) -> None:
    app = Conveyor(store_url)
    task = app.task(send_receipt)
    other = app.task(print_receipt)

    assert app.get_task("tests.app.test_task.send_receipt") is task
    assert app.get_task("send_receipt") is task
    assert app.get_task("print_receipt") is other


def test_get_task_of_an_unknown_name_raises_task_not_found(store_url: str) -> None:
    app = Conveyor(store_url)
    app.task(send_receipt)

    with pytest.raises(TaskNotFound) as info:
        app.get_task("nope")
    assert info.value.task == "nope"


def test_two_tasks_sharing_a_bare_name_need_the_full_name(store_url: str) -> None:
    app = Conveyor(store_url)
    mine = app.task(send_receipt)
    theirs = app.task(_other_tasks.send_receipt)

    assert theirs.name == "tests.app._other_tasks.send_receipt"
    with pytest.raises(TaskNotFound):
        app.get_task("send_receipt")
    assert app.get_task("tests.app.test_task.send_receipt") is mine
    assert app.get_task("tests.app._other_tasks.send_receipt") is theirs


def test_explicit_names_sharing_a_last_segment_are_ambiguous_when_bare(store_url: str) -> None:
    app = Conveyor(store_url)
    billing = app.task(name="billing.charge")(charge_card)
    shipping = app.task(name="shipping.charge")(charge_shipping)

    with pytest.raises(TaskNotFound):
        app.get_task("charge")
    assert app.get_task("billing.charge") is billing
    assert app.get_task("shipping.charge") is shipping


def test_registering_the_same_name_twice_is_a_configuration_error(store_url: str) -> None:
    app = Conveyor(store_url)
    app.task(send_receipt)
    with pytest.raises(ConfigurationError, match="already registered"):
        app.task(send_receipt)

    app.task(name="billing.charge")(charge_card)
    with pytest.raises(ConfigurationError, match=r"billing\.charge"):
        app.task(name="billing.charge")(charge_shipping)
    assert app.get_task("billing.charge").fn is charge_card


@pytest.mark.parametrize(
    "handler", [takes_an_int, takes_a_dict, unannotated, no_parameters], ids=lambda f: f.__name__
)
def test_a_first_parameter_that_is_not_a_pydantic_model_is_refused(
    store_url: str, handler: Any
) -> None:
    app = Conveyor(store_url)
    with pytest.raises(ConfigurationError):
        app.task(handler)
    assert app.tasks == {}


def test_an_explicit_payload_model_replaces_the_annotation(store_url: str) -> None:
    app = Conveyor(store_url)
    task = app.task(payload=Receipt)(unannotated)
    assert task.payload_type is Receipt


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"timeout": 0}, {"timeout": -1.0}, {"queue": ""}, {"executor": "gpu"}],
)
def test_invalid_task_options_are_configuration_errors(
    store_url: str, options: dict[str, Any]
) -> None:
    app = Conveyor(store_url)
    with pytest.raises(ConfigurationError):
        app.task(**options)(send_receipt)
    assert app.tasks == {}


async def test_task_options_land_on_enqueued_jobs(app: Conveyor, clock: FrozenClock) -> None:
    task = app.task(queue="email", priority=5, max_attempts=7, timeout=12.5)(send_receipt)

    job = await task.enqueue(Receipt(customer_id=1))

    assert job.task == task.name
    assert job.queue == "email"
    assert job.priority == 5
    assert job.max_attempts == 7
    assert job.timeout_seconds == 12.5
    assert job.state is JobState.AVAILABLE
    assert job.attempt == 0
    assert job.run_at == clock.now()
    assert job.created_at == clock.now()
    stored = await app.get_job(job.id)
    assert (stored.queue, stored.priority, stored.max_attempts, stored.timeout_seconds) == (
        "email",
        5,
        7,
        12.5,
    )


async def test_default_task_options(app: Conveyor) -> None:
    task = app.task(print_receipt)
    job = await task.enqueue(Receipt(customer_id=1))
    assert (job.queue, job.priority, job.max_attempts, job.timeout_seconds) == (
        "default",
        0,
        3,
        None,
    )


async def test_priority_and_queue_can_be_overridden_per_enqueue(app: Conveyor) -> None:
    task = app.task(queue="email", priority=5)(send_receipt)

    job = await task.enqueue(Receipt(customer_id=1), priority=-3, queue="urgent")
    by_name = await app.enqueue("send_receipt", {"customer_id": 2}, priority=9, queue="bulk")

    assert (job.queue, job.priority) == ("urgent", -3)
    assert (by_name.queue, by_name.priority) == ("bulk", 9)
    stored = await app.get_job(job.id)
    assert (stored.queue, stored.priority) == ("urgent", -3)
    # A zero priority override is an override, not "use the task's".
    zero = await task.enqueue(Receipt(customer_id=3), priority=0)
    assert zero.priority == 0


async def test_run_at_in_the_future_schedules_the_job(app: Conveyor, clock: FrozenClock) -> None:
    task = app.task(send_receipt)
    when = clock.now() + timedelta(hours=2)

    job = await task.enqueue(Receipt(customer_id=1), run_at=when)

    assert job.state is JobState.SCHEDULED
    assert job.run_at == when
    assert (await app.get_job(job.id)).state is JobState.SCHEDULED


async def test_run_at_in_the_past_makes_the_job_available(
    app: Conveyor, clock: FrozenClock
) -> None:
    task = app.task(send_receipt)
    when = clock.now() - timedelta(minutes=5)

    job = await task.enqueue(Receipt(customer_id=1), run_at=when)

    assert job.state is JobState.AVAILABLE
    assert job.run_at == when


async def test_delay_schedules_the_job_relative_to_now(app: Conveyor, clock: FrozenClock) -> None:
    task = app.task(send_receipt)

    by_timedelta = await task.enqueue(Receipt(customer_id=1), delay=timedelta(minutes=10))
    by_seconds = await task.enqueue(Receipt(customer_id=2), delay=90)

    assert by_timedelta.state is JobState.SCHEDULED
    assert by_timedelta.run_at == clock.now() + timedelta(minutes=10)
    assert by_seconds.state is JobState.SCHEDULED
    assert by_seconds.run_at == clock.now() + timedelta(seconds=90)


async def test_run_at_and_delay_together_are_refused(app: Conveyor, clock: FrozenClock) -> None:
    task = app.task(send_receipt)

    with pytest.raises(InvalidArgument) as info:
        await task.enqueue(
            Receipt(customer_id=1), run_at=clock.now() + timedelta(hours=1), delay=60
        )

    assert info.value.field in {"run_at", "delay"}
    assert await _jobs(app) == []


async def test_a_naive_run_at_is_refused(app: Conveyor) -> None:
    task = app.task(send_receipt)

    with pytest.raises(InvalidArgument) as info:
        await task.enqueue(Receipt(customer_id=1), run_at=datetime(2030, 1, 1, 12, 0))

    assert info.value.field == "run_at"
    assert await _jobs(app) == []


@pytest.mark.parametrize("delay", [-1, timedelta(seconds=-5)])
async def test_a_negative_delay_is_refused(app: Conveyor, delay: Any) -> None:
    task = app.task(send_receipt)
    with pytest.raises(InvalidArgument):
        await task.enqueue(Receipt(customer_id=1), delay=delay)
    assert await _jobs(app) == []


async def test_an_empty_queue_override_is_refused(app: Conveyor) -> None:
    task = app.task(send_receipt)
    with pytest.raises(InvalidArgument):
        await task.enqueue(Receipt(customer_id=1), queue="")
    assert await _jobs(app) == []
