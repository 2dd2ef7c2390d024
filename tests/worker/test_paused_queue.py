"""A running worker leaves a paused queue's jobs waiting and starts them once it is resumed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pydantic
import pytest

from conveyor import Conveyor, JobState
from tests.worker.helpers import fast_options, running


class Item(pydantic.BaseModel):
    n: int = 0


async def noop(payload: Item) -> int:
    return payload.n


@pytest.mark.parametrize("queues", [None, ["held", "free"]], ids=["any-queue", "given-queues"])
async def test_a_running_worker_skips_a_paused_queue_until_it_is_resumed(
    app: Conveyor, queues: Sequence[str] | None
) -> None:
    app.task(name="held.noop", queue="held")(noop)
    app.task(name="free.noop", queue="free")(noop)
    await app.pause_queue("held")
    # A poll far beyond the test's waits: only wake-ups (enqueue, resume) make it claim.
    options = fast_options(queues=queues, poll_interval=timedelta(seconds=60))

    async with running(app, options) as run:
        held = await app.enqueue("held.noop", {"n": 1})
        free = await app.enqueue("free.noop", {"n": 2})
        # The claim that took `free` came after `held` was enqueued and had free slots
        # for both: had the pause not held it back, `held` would have run too.
        await run.acked(1)
        assert (await app.get_job(free.id)).state is JobState.COMPLETED
        assert (await app.get_job(held.id)).state is JobState.AVAILABLE
        assert run.worker.acked_count == 1

        await app.resume_queue("held")

        await run.acked(2, timeout=10)
    assert (await app.get_job(held.id)).state is JobState.COMPLETED
