"""Financial sync: summaries equal a from-scratch computation, runs continue where the
last ended, rows written during a run wait for the next, a killed run resumes from its
checkpoint."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from carwash import finance
from carwash.db import as_utc
from carwash.demodata import add_tenant, add_transactions, transaction_rows
from carwash.models import DailySummary, Transaction
from conveyor import Conveyor, JobState
from conveyor.testing import drain
from tests.carwash.conftest import NOW, eventually
from tests.carwash.processes import (
    kill,
    marker_at_least,
    rescue_until_completed,
    start_worker,
    stop,
)

ZONE = "Australia/Sydney"
SIGN = {"sale": "sales_cents", "refund": "refunds_cents", "tip": "tips_cents"}


def from_scratch(
    engine: Engine, tenant: int, up_to: int | None = None
) -> dict[Any, tuple[int, ...]]:
    """Every summary recomputed from all of the tenant's transactions (ids <= up_to)."""
    zone = ZoneInfo(ZONE)
    days: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Transaction.id, Transaction.occurred_at, Transaction.kind, Transaction.amount_cents
            ).where(Transaction.tenant_id == tenant)
        ).all()
    for row in rows:
        if up_to is not None and row.id > up_to:
            continue
        totals = days[as_utc(row.occurred_at).astimezone(zone).date()]
        totals[0] += 1
        totals[1 + list(SIGN).index(row.kind)] += row.amount_cents
    return {day: tuple(t) for day, t in days.items()}


def summaries(engine: Engine, tenant: int) -> dict[Any, tuple[int, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                DailySummary.day,
                DailySummary.transactions,
                DailySummary.sales_cents,
                DailySummary.refunds_cents,
                DailySummary.tips_cents,
            ).where(DailySummary.tenant_id == tenant)
        ).all()
    return {r.day: (r.transactions, r.sales_cents, r.refunds_cents, r.tips_cents) for r in rows}


def seed(engine: Engine, days: int, per_day: int, seed: int = 3) -> int:
    rng = random.Random(seed)
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Harbour", ZONE)
        add_transactions(
            conn, transaction_rows(tenant, days=days, per_day=per_day, rng=rng, until=NOW)
        )
    return tenant


def more_rows(engine: Engine, tenant: int, count: int) -> None:
    rng = random.Random(count)
    rows = transaction_rows(tenant, days=1, per_day=count, rng=rng, until=NOW + timedelta(days=1))
    with engine.begin() as conn:
        add_transactions(conn, rows)


@pytest.fixture
def no_hook() -> Iterator[None]:
    yield
    finance.chunk_hook = None


async def sync(app: Conveyor, tenant: int) -> dict[str, Any]:
    job = await app.enqueue("finance.sync", {"tenant_id": tenant})
    await drain(app)
    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED, done.errors
    assert done.progress is not None and done.progress.done == done.progress.total
    assert isinstance(done.result, dict)
    return done.result


async def test_summaries_equal_a_from_scratch_computation_and_runs_continue(
    make_app: Callable[..., Conveyor], engine: Engine
) -> None:
    tenant = seed(engine, days=20, per_day=40)
    app = make_app(sync_chunk_size=97)

    first = await sync(app, tenant)
    assert first["transactions"] == 800 and first["from_transaction"] == 0
    assert first["resumed_from"] is None
    assert summaries(engine, tenant) == from_scratch(engine, tenant)

    more_rows(engine, tenant, 55)
    second = await sync(app, tenant)
    assert second["from_transaction"] == first["to_transaction"]  # where the last ended
    assert second["transactions"] == 55
    assert summaries(engine, tenant) == from_scratch(engine, tenant)

    third = await sync(app, tenant)  # nothing new: nothing counted twice
    assert third["transactions"] == 0
    assert summaries(engine, tenant) == from_scratch(engine, tenant)


async def test_rows_written_during_a_sync_are_left_for_the_next_run(
    make_app: Callable[..., Conveyor], engine: Engine, no_hook: None
) -> None:
    tenant = seed(engine, days=10, per_day=30)
    app = make_app(sync_chunk_size=50)

    async def write_meanwhile(cursor: int) -> None:
        finance.chunk_hook = None
        more_rows(engine, tenant, 25)

    finance.chunk_hook = write_meanwhile
    first = await sync(app, tenant)
    assert first["transactions"] == 300
    assert summaries(engine, tenant) == from_scratch(engine, tenant, up_to=first["to_transaction"])

    second = await sync(app, tenant)
    assert second["transactions"] == 25
    assert summaries(engine, tenant) == from_scratch(engine, tenant)


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_killed_sync_resumes_from_its_checkpoint(
    carwash_url: str, make_app: Callable[..., Conveyor], engine: Engine, tmp_path: Path
) -> None:
    tenant = seed(engine, days=30, per_day=100)  # 3,000 rows: 6 chunks of 500 in the worker
    app = make_app()
    job = await app.enqueue("finance.sync", {"tenant_id": tenant})
    marker = tmp_path / "cursor"
    doomed = start_worker(carwash_url, data_dir=tmp_path, pause=0.5, marker=marker)
    try:
        await eventually(lambda: marker_at_least(marker, 1), timeout=60)
        kill(doomed)
    finally:
        stop(doomed)
    killed_at = (await app.get_job(job.id)).checkpoint
    assert 0 < killed_at["done"] < 3_000 and killed_at["cursor"] == int(marker.read_text())

    await rescue_until_completed(app, job.id, carwash_url, tmp_path)

    done = await app.get_job(job.id)
    assert done.attempt == 2
    assert done.result["resumed_from"] == killed_at["cursor"]  # not from zero
    assert done.result["transactions"] == 3_000
    assert summaries(engine, tenant) == from_scratch(engine, tenant)


async def test_the_nightly_sync_is_scheduled_at_two_in_each_tenants_own_zone(
    make_app: Callable[..., Conveyor], engine: Engine
) -> None:
    with engine.begin() as conn:
        first = add_tenant(conn, "Chicago", "America/Chicago")
        second = add_tenant(conn, "Berlin", "Europe/Berlin")
    declared = make_app().declared_schedules["finance.nightly"]
    assert (declared.spec.task, declared.spec.cron) == ("finance.sync", "0 2 * * *")
    assert declared.per_tenant is not None
    pairs = declared.per_tenant()
    if not isinstance(pairs, list):
        pairs = await pairs
    assert sorted(pairs) == [(first, "America/Chicago"), (second, "Europe/Berlin")]
