"""A shop's tasks, built by a function so that each test can give them a database of its own."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor, Discard, JobContext


class Receipt(BaseModel):
    customer_id: int
    email: str


def build_app(database_url: str | None = None, **settings: Any) -> Conveyor:
    """The shop's app on ``database_url`` (default: ``CONVEYOR_DATABASE_URL``)."""
    app = Conveyor(database_url, **settings)

    @app.task(name="receipts.send", queue="email", max_attempts=3)
    async def send_receipt(payload: Receipt, ctx: JobContext) -> dict[str, str]:
        if not payload.email.endswith(".com"):
            raise Discard(f"cannot deliver to {payload.email}")
        await ctx.progress(1, 1)
        return {"to": payload.email}

    return app


app = build_app()  # what `conveyor --app shop_tasks:app worker` runs
