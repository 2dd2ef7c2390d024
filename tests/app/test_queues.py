"""Queues through the app: pause, resume and the listing that merges the task registry."""

from __future__ import annotations

from datetime import timedelta

import pydantic
import pytest

from conveyor import Conveyor, InvalidArgument, JobState, QueueInfo
from conveyor.clock import FrozenClock
from conveyor.testing import drain
from tests.app.conftest import START


class Ping(pydantic.BaseModel):
    n: int = 0


async def ping(payload: Ping) -> int:
    return payload.n


@pytest.fixture
def tasks(app: Conveyor) -> Conveyor:
    app.task(name="mail.ping", queue="mail")(ping)
    app.task(name="sync.ping", queue="sync")(ping)
    return app


async def test_queues_lists_the_registered_tasks_queues_before_any_job(tasks: Conveyor) -> None:
    assert await tasks.queues() == [QueueInfo.empty("mail"), QueueInfo.empty("sync")]


async def test_paused_queue_keeps_its_jobs_until_resumed(
    tasks: Conveyor, clock: FrozenClock
) -> None:
    paused = await tasks.pause_queue("mail")
    assert (paused.name, paused.paused, paused.paused_at) == ("mail", True, START)
    mail = await tasks.enqueue("mail.ping", {"n": 1})
    sync = await tasks.enqueue("sync.ping", {"n": 2})

    assert await drain(tasks) == 1
    assert (await tasks.get_job(sync.id)).state is JobState.COMPLETED
    assert (await tasks.get_job(mail.id)).state is JobState.AVAILABLE

    clock.advance(timedelta(minutes=3))
    listed = {q.name: q for q in await tasks.queues()}
    assert listed["mail"].paused and listed["mail"].available == 1
    assert listed["mail"].oldest_waiting_age == timedelta(minutes=3)

    resumed = await tasks.resume_queue("mail")
    assert (resumed.paused, resumed.paused_at, resumed.available) == (False, None, 1)
    assert await drain(tasks) == 1
    assert (await tasks.get_job(mail.id)).state is JobState.COMPLETED


async def test_resume_wakes_this_process_workers(tasks: Conveyor) -> None:
    woken: list[str] = []
    tasks.add_wakeup_listener(lambda: woken.append("woken"))
    await tasks.pause_queue("mail")

    await tasks.resume_queue("mail")
    await tasks.resume_queue("mail")  # not paused any more: nothing to wake for

    assert woken == ["woken"]


async def test_a_queue_no_task_names_can_be_paused_ahead_of_its_jobs(tasks: Conveyor) -> None:
    await tasks.pause_queue("later")

    assert [(q.name, q.paused) for q in await tasks.queues()] == [
        ("later", True),
        ("mail", False),
        ("sync", False),
    ]


@pytest.mark.parametrize("name", ["", "nul\x00"])
async def test_bad_queue_names_are_refused(tasks: Conveyor, name: str) -> None:
    with pytest.raises(InvalidArgument):
        await tasks.pause_queue(name)
    with pytest.raises(InvalidArgument):
        await tasks.resume_queue(name)
