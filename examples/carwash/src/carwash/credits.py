"""Customer credits: ``credits.grant`` gives N credits to a list of customers or to those
who washed recently — all of them in one commit, and exactly once.

Everything (the grant row, every ledger row, the job's completion) is written through the
job's own transaction: a worker killed at any moment leaves either nothing (the job is
rescued and runs again) or the whole grant with a completed job. The grant row's unique
``job_id`` is the second lock on the door.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, insert, literal, select, update

from carwash.db import Database, run
from carwash.models import CreditEntry, CreditGrant, Customer, Tenant
from conveyor import Conveyor, Discard, JobContext

IDS_PER_STATEMENT = 500
REPORTED_INVALID = 1_000

chunk_hook: Callable[[int], Awaitable[None]] | None = None
"""Test seam: awaited inside the transaction after each chunk of ids (its number)."""


class GrantRequest(BaseModel):
    """Grant ``amount`` credits to ``customer_ids``, or to every customer of the tenant who
    washed within the last ``washed_within_days`` days (give exactly one of the two)."""

    tenant_id: int = Field(gt=0, lt=2**63)
    amount: int = Field(gt=0, le=10_000)
    reason: str = Field(min_length=1, max_length=500)
    customer_ids: list[int] | None = Field(default=None, min_length=1, max_length=100_000)
    washed_within_days: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _one_target(self) -> GrantRequest:
        if (self.customer_ids is None) == (self.washed_within_days is None):
            raise ValueError("give exactly one of customer_ids and washed_within_days")
        return self


def register(app: Conveyor, db: Database) -> None:
    """Declare ``credits.grant`` on ``app``."""

    @app.task(name="credits.grant", queue="credits", max_attempts=5, timeout=600)
    async def grant(payload: GrantRequest, ctx: JobContext) -> dict[str, Any]:
        """Grant credits to many customers at once: all of them or none, exactly once."""
        tenant = payload.tenant_id
        now = datetime.now(UTC)
        async with ctx.transaction() as tx:
            if not await run(tx, select(Tenant.id).where(Tenant.id == tenant)):
                raise Discard(f"no tenant {tenant}")
            created = await run(
                tx,
                insert(CreditGrant)
                .values(
                    tenant_id=tenant,
                    job_id=ctx.job_id,
                    amount=payload.amount,
                    reason=payload.reason,
                    customer_count=0,
                    created_at=now,
                )
                .returning(CreditGrant.id),
            )
            grant_id = int(created[0]["id"])
            ledger_row = select(literal(grant_id), Customer.id, literal(payload.amount))
            columns = ["grant_id", "customer_id", "amount"]
            invalid: list[int] = []
            if payload.customer_ids is not None:
                wanted = sorted(set(payload.customer_ids))
                granted = 0
                for number, start in enumerate(range(0, len(wanted), IDS_PER_STATEMENT)):
                    chunk = wanted[start : start + IDS_PER_STATEMENT]
                    mine = (Customer.tenant_id == tenant, Customer.id.in_(chunk))
                    found = {int(r["id"]) for r in await run(tx, select(Customer.id).where(*mine))}
                    invalid += [c for c in chunk if c not in found]
                    await run(tx, insert(CreditEntry).from_select(columns, ledger_row.where(*mine)))
                    granted += len(found)
                    if chunk_hook is not None:
                        await chunk_hook(number)
            else:
                since = now - timedelta(days=payload.washed_within_days or 0)
                recent = (Customer.tenant_id == tenant, Customer.last_wash_at >= since)
                await run(tx, insert(CreditEntry).from_select(columns, ledger_row.where(*recent)))
                counted = await run(
                    tx,
                    select(func.count().label("n"))
                    .select_from(CreditEntry)
                    .where(CreditEntry.grant_id == grant_id),
                )
                granted = int(counted[0]["n"])
            await run(
                tx,
                update(CreditGrant)
                .where(CreditGrant.id == grant_id)
                .values(customer_count=granted),
            )
            result = {
                "grant_id": grant_id,
                "customers": granted,
                "credits_each": payload.amount,
                "invalid_customer_ids": invalid[:REPORTED_INVALID],
                "invalid_count": len(invalid),
                "duplicates_ignored": (
                    len(payload.customer_ids) - len(set(payload.customer_ids))
                    if payload.customer_ids is not None
                    else 0
                ),
            }
            tx.complete(result)
        return result
