"""Lifecycle hooks run around every job, and a raising hook never fails a job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from conveyor import Conveyor, JobError, JobState
from conveyor.retry import RetryPolicy
from conveyor.testing import drain


class Work(BaseModel):
    fail: bool = False


async def work(payload: Work) -> str:
    if payload.fail:
        raise RuntimeError("boom")
    return "done"


@pytest.fixture
async def app(store_url: str) -> AsyncIterator[Conveyor]:
    conveyor = Conveyor(store_url)
    conveyor.task(name="work", max_attempts=2, retry=RetryPolicy(jitter=0))(work)
    yield conveyor
    await conveyor.close()


async def test_before_after_and_failure_hooks_see_each_job(app: Conveyor) -> None:
    seen: list[tuple[Any, ...]] = []

    @app.on("before")
    def before(job: Any) -> None:
        seen.append(("before", job.payload["fail"]))

    @app.on("after")
    async def after(job: Any, result: Any) -> None:
        seen.append(("after", result))

    @app.on("failure")
    def failure(job: Any, error: JobError, will_retry: bool) -> None:
        seen.append(("failure", error.type, error.message, will_retry))

    await app.enqueue("work", Work())
    await drain(app)
    await app.enqueue("work", Work(fail=True))
    await drain(app)
    assert seen == [
        ("before", False),
        ("after", "done"),
        ("before", True),
        ("failure", "RuntimeError", "boom", True),
    ]


async def test_a_raising_hook_is_ignored(app: Conveyor) -> None:
    @app.on("before")
    def broken(job: Any) -> None:
        raise ValueError("hook bug")

    job = await app.enqueue("work", Work())
    assert await drain(app) == 1
    assert (await app.get_job(job.id)).state is JobState.COMPLETED


def test_unknown_hook_kind_is_refused(store_url: str) -> None:
    app = Conveyor(store_url)
    with pytest.raises(ValueError, match="unknown hook"):
        app.on("sometimes")(print)  # type: ignore[arg-type]
