"""Your first task: define it, enqueue it, run it, read its result (embedded SQLite)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from conveyor import Conveyor, JobContext
from conveyor.testing import drain

app = Conveyor()  # embedded SQLite under ./.conveyor/


class Receipt(BaseModel):
    customer_id: int


@app.task(queue="email", max_attempts=5, timeout=30)
async def send_receipt(payload: Receipt, ctx: JobContext) -> dict[str, int]:
    await ctx.progress(1, 1)
    return {"sent_to": payload.customer_id}


async def main() -> None:
    async with app:
        job = await send_receipt.enqueue(Receipt(customer_id=1))
        await drain(app)  # what a worker does: claim, run, record the result
        done = await app.get_job(job.id)
        assert done is not None
        print(done.state, done.result)


if __name__ == "__main__":
    asyncio.run(main())
