"""The delivery log: per-recipient claims and outcomes of concurrent chunks, many per commit,
each recipient claimed by one step only."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, insert, select

from carwash.db import Database
from carwash.deliveries import DeliveryLog, Step
from carwash.demodata import add_customers, add_tenant
from carwash.models import Campaign, Delivery
from tests.carwash.conftest import NOW


def seed_deliveries(engine: Engine, count: int) -> list[int]:
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Suds", "Europe/Berlin")
        customers = add_customers(conn, tenant, count, rng=random.Random(3), now=NOW)
        campaign = conn.execute(
            insert(Campaign)
            .values(
                tenant_id=tenant,
                job_id=1,
                subject="Hi",
                body_template="Hello",
                created_at=datetime.now(UTC),
            )
            .returning(Campaign.id)
        ).scalar_one()
        conn.execute(
            insert(Delivery),
            [
                {"campaign_id": campaign, "customer_id": c, "email": f"{c}@x.example"}
                | {"state": "pending"}
                for c in customers
            ],
        )
        return list(conn.execute(select(Delivery.id).order_by(Delivery.id)).scalars())


def states(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return {row.id: row.state for row in conn.execute(select(Delivery.id, Delivery.state))}


async def test_concurrent_steps_share_one_commit_and_a_recipient_is_claimed_once(
    carwash_url: str, engine: Engine
) -> None:
    ids = seed_deliveries(engine, 4)
    db = Database(carwash_url)
    commits: list[Any] = []
    event.listen(db.engine, "commit", commits.append)
    log = DeliveryLog(db)
    try:
        # Four chunks claim their next recipient at once; a stale attempt of the first
        # chunk claims the same recipient as its successor.
        claimed = await asyncio.gather(*(log.write(Step(claim=i)) for i in [*ids, ids[0]]))
        assert len(commits) == 1
        assert claimed[1:4] == [True, True, True]
        assert sorted(claimed[::4]) == [False, True]
        assert set(states(engine).values()) == {"sending"}

        # The next steps settle the previous recipients; a settled one is never claimed again.
        settled = Step(settle=((ids[0], "sent", None), (ids[1], "bounced", "550 no")), claim=ids[0])
        put_back = Step(settle=((ids[2], "pending", None),))
        assert await asyncio.gather(log.write(settled), log.write(put_back)) == [False, False]
        assert len(commits) == 2
        assert states(engine) == {
            ids[0]: "sent",
            ids[1]: "bounced",
            ids[2]: "pending",
            ids[3]: "sending",
        }
        assert await log.write(Step(claim=ids[2])) is True  # back to pending: claimable
    finally:
        db.dispose()
