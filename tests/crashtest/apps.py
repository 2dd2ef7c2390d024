"""Handlers for the crash-test harness's own tests: one safe to retry, one that is not.

Both credit a customer once per job; the worker processes load ``app``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from conveyor import Conveyor, JobContext


class Credit(BaseModel):
    customer: int


def counter_file(customer: int) -> Path:
    return Path(os.environ["CRASH_COUNTERS"]) / f"customer-{customer}"


async def credit_outside(payload: Credit, ctx: JobContext) -> None:
    """NOT safe: the credit is written outside the job's transaction, and the job is
    acknowledged afterwards, so a crash between the two credits the customer again."""
    with counter_file(payload.customer).open("a") as counter:
        counter.write(f"{ctx.job_id}\n")
    ctx.logger.info("credited customer %s", payload.customer)


async def credit_in_transaction(payload: Credit, ctx: JobContext) -> None:
    """Safe: the credit and the job's completion commit together."""
    async with ctx.transaction() as tx:
        if tx.dialect == "postgresql":
            sql = "INSERT INTO crash_credits (job_id, customer) VALUES (%(job)s, %(customer)s)"
        else:
            sql = "INSERT INTO crash_credits (job_id, customer) VALUES (:job, :customer)"
        await tx.execute(sql, {"job": ctx.job_id, "customer": payload.customer})
        tx.complete()


def build(database_url: str | None = None) -> Conveyor:
    conveyor = Conveyor(database_url)
    conveyor.task(name="crash.credit_outside", max_attempts=10)(credit_outside)
    conveyor.task(name="crash.credit_in_transaction", max_attempts=10)(credit_in_transaction)
    return conveyor


app = build()
