"""Values the database cannot store fail their own job and never hold up other acks."""

from __future__ import annotations

import math
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, JobState
from tests.worker.helpers import running

UNSTORABLE: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    "lone \ud800 surrogate",
    {"nested": [1, math.nan]},
    ["\udfff"],
]


class Item(pydantic.BaseModel):
    n: int


@pytest.mark.parametrize("value", UNSTORABLE, ids=repr)
async def test_an_unstorable_result_fails_its_job_and_the_rest_complete(
    app: Conveyor, value: Any
) -> None:
    runs: list[int] = []

    @app.task(name="returns", max_attempts=3)
    async def returns(payload: Item) -> Any:
        runs.append(payload.n)
        return value if payload.n == 0 else {"n": payload.n}

    jobs = await returns.enqueue_many([Item(n=i) for i in range(20)])

    async with running(app) as run:
        await run.acked(20)

    bad = await app.get_job(jobs[0].id)
    assert bad.state is JobState.FAILED
    assert runs.count(0) == 1, "a value that cannot be stored does not get better on a retry"
    assert "cannot be stored" in bad.errors[-1].message
    for job in jobs[1:]:
        done = await app.get_job(job.id)
        assert done.state is JobState.COMPLETED
        assert done.result == {"n": job.payload["n"]}


async def test_an_error_the_database_refuses_still_fails_its_job(app: Conveyor) -> None:
    @app.task(name="raises", max_attempts=1)
    async def raises(payload: Item) -> dict[str, int]:
        if payload.n == 0:
            raise ValueError("broken \ud800 text")
        return {"n": payload.n}

    jobs = await raises.enqueue_many([Item(n=i) for i in range(10)])

    async with running(app) as run:
        await run.acked(10)

    bad = await app.get_job(jobs[0].id)
    assert bad.state is JobState.FAILED
    assert bad.errors, "the failure is recorded"
    states = {(await app.get_job(job.id)).state for job in jobs[1:]}
    assert states == {JobState.COMPLETED}
