"""Credit grants: all-or-nothing, exactly once, invalid ids reported — also when the worker
is SIGKILLed in the middle of a 10,000-customer grant."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from carwash.db import as_utc
from carwash.demodata import add_customers, add_tenant
from carwash.models import CreditEntry, CreditGrant, Customer
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


def ledger(engine: Engine) -> list[tuple[int, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(CreditEntry.grant_id, CreditEntry.customer_id, CreditEntry.amount)
        ).all()
    return [tuple(r) for r in rows]


async def test_a_grant_credits_each_listed_customer_once_and_reports_invalid_ids(
    make_app: Callable[..., Conveyor], engine: Engine, rng: random.Random
) -> None:
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Suds", "Europe/Berlin")
        other = add_tenant(conn, "Other", "Asia/Tokyo")
        mine = add_customers(conn, tenant, 30, rng=rng, now=NOW)
        theirs = add_customers(conn, other, 3, rng=rng, now=NOW)
    app = make_app()
    wanted = [*mine[:20], mine[0], theirs[0], 999_999]
    job = await app.enqueue(
        "credits.grant",
        {"tenant_id": tenant, "amount": 5, "reason": "rain", "customer_ids": wanted},
    )
    await drain(app)

    done = await app.get_job(job.id)
    assert done.state is JobState.COMPLETED
    assert done.result["customers"] == 20
    assert done.result["invalid_customer_ids"] == sorted([theirs[0], 999_999])
    assert done.result["duplicates_ignored"] == 1
    rows = ledger(engine)
    assert sorted(c for _, c, _ in rows) == sorted(mine[:20])
    assert {(g, a) for g, _, a in rows} == {(done.result["grant_id"], 5)}


async def test_a_grant_by_filter_reaches_only_recent_washers(
    make_app: Callable[..., Conveyor], engine: Engine, rng: random.Random
) -> None:
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Suds", "Europe/Berlin")
        add_customers(conn, tenant, 200, rng=rng, now=NOW)
    app = make_app()
    job = await app.enqueue(
        "credits.grant",
        {"tenant_id": tenant, "amount": 2, "reason": "loyal", "washed_within_days": 30},
    )
    await drain(app)

    done = await app.get_job(job.id)
    assert done.started_at is not None and done.finished_at is not None
    with engine.connect() as conn:
        granted = set(conn.execute(select(CreditEntry.customer_id)).scalars())
        washes = conn.execute(select(Customer.id, Customer.last_wash_at)).all()
    window = timedelta(days=30)
    surely_in = {c for c, at in washes if at and as_utc(at) >= done.finished_at - window}
    surely_out = {c for c, at in washes if not at or as_utc(at) < done.started_at - window}
    assert surely_in and surely_out
    assert surely_in <= granted
    assert not granted & surely_out
    assert done.result["customers"] == len(granted)


async def test_an_invalid_grant_is_refused_at_enqueue(make_app: Callable[..., Conveyor]) -> None:
    from conveyor import PayloadInvalid

    app = make_app()
    with pytest.raises(PayloadInvalid):
        await app.enqueue("credits.grant", {"tenant_id": 1, "amount": 5, "reason": "x"})


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_worker_killed_mid_grant_leaves_nothing_and_the_rescue_grants_once(
    carwash_url: str, make_app: Callable[..., Conveyor], engine: Engine, tmp_path: Path
) -> None:
    rng = random.Random(5)
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Big", "America/Chicago")
        customers = add_customers(conn, tenant, 10_000, rng=rng, now=NOW)
    app = make_app()
    job = await app.enqueue(
        "credits.grant",
        {"tenant_id": tenant, "amount": 3, "reason": "sorry", "customer_ids": customers},
    )
    marker = tmp_path / "chunk"
    doomed = start_worker(carwash_url, data_dir=tmp_path, pause=0.3, marker=marker)
    try:
        await eventually(lambda: marker_at_least(marker, 5), timeout=60)  # 3,000 of 10,000 in
        kill(doomed)
    finally:
        stop(doomed)
    assert ledger(engine) == []  # the kill rolled back everything written so far

    await rescue_until_completed(app, job.id, carwash_url, tmp_path)

    done = await app.get_job(job.id)
    assert done.attempt == 2 and done.result["customers"] == 10_000
    rows = ledger(engine)
    assert len(rows) == 10_000
    assert sorted(c for _, c, _ in rows) == sorted(customers)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CreditGrant)).scalar_one() == 1


def test_the_known_head_is_alembics_head() -> None:
    from carwash.schema import HEAD, head_revision

    assert head_revision() == HEAD
