"""Tests of the shop's tasks: each test gets a fresh SQLite database and a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from shop_tasks import Receipt, build_app

from conveyor import Conveyor, JobState, PayloadInvalid
from conveyor.testing import FrozenClock, drain


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def app(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Conveyor]:
    app = build_app(f"sqlite:///{tmp_path / 'jobs.db'}", clock=clock)
    async with app:  # opens (and migrates) the database; closes it after the test
        yield app


async def test_a_receipt_is_sent(app: Conveyor) -> None:
    job = await app.enqueue("receipts.send", Receipt(customer_id=1, email="ana@example.com"))

    assert await drain(app) == 1  # claimed, run and acknowledged as a worker would

    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result == {"to": "ana@example.com"}
    assert (done.progress.done, done.progress.total) == (1, 1)


async def test_an_undeliverable_receipt_fails_at_once(app: Conveyor) -> None:
    job = await app.enqueue("receipts.send", {"customer_id": 2, "email": "bob@invalid"})

    await drain(app)

    failed = await app.get_job(job.id)
    assert failed.state is JobState.FAILED
    assert failed.attempt == 1, "Discard does not retry"
    assert failed.errors[-1].message == "cannot deliver to bob@invalid"


async def test_a_bad_payload_is_refused_at_enqueue(app: Conveyor) -> None:
    with pytest.raises(PayloadInvalid) as refused:
        await app.enqueue("receipts.send", {"customer_id": "one"})

    assert [error["loc"] for error in refused.value.errors] == [["customer_id"], ["email"]]
    assert (await app.list_jobs()).jobs == []


async def test_a_delayed_receipt_waits_for_its_time(app: Conveyor, clock: FrozenClock) -> None:
    job = await app.enqueue(
        "receipts.send", {"customer_id": 3, "email": "cy@example.com"}, delay=3600
    )

    assert await drain(app) == 0  # not due yet
    clock.advance(timedelta(hours=1))
    assert await drain(app) == 1
    assert (await app.get_job(job.id)).state is JobState.COMPLETED
