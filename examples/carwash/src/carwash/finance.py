"""Financial sync: ``finance.sync`` folds a tenant's new transactions into daily summaries.

Incremental and resumable, in the shape of River's resumable jobs:

1. At the start it fixes a *high-water mark* (the tenant's largest transaction id) and
   the cursor it starts from (where the previous sync ended), and saves both as the job's
   checkpoint: the run covers exactly ``(cursor, high_water]`` — rows written after it
   started wait for the next run instead of being half-included.
2. It walks that range in chunks ordered by id. Each chunk's summary deltas, the
   tenant's sync cursor and the job's checkpoint commit in one transaction
   (``ctx.transaction()``): a chunk is applied exactly once, and a crash resumes from
   the last committed chunk, never from zero.
3. The cursor only moves by compare-and-set (``WHERE last_transaction_id = :from``), so a
   second sync of the same tenant running at the same time cannot apply a chunk twice: it
   finds the cursor moved and stops.

Business days are cut in the tenant's own time zone. Ids must grow with commit order for
"nothing is lost" to hold (true for one writer; several concurrent writers should let
rows settle, e.g. sync up to rows older than a few seconds).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import Insert, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from carwash.config import CarwashConfig
from carwash.db import Database, as_utc, run
from carwash.models import DailySummary, SyncCursor, Tenant, Transaction
from conveyor import Conveyor, Discard, JobContext

chunk_hook: Callable[[int], Awaitable[None]] | None = None
"""Test seam: awaited after each committed chunk (with the new cursor)."""

KIND_COLUMNS = {"sale": "sales_cents", "refund": "refunds_cents", "tip": "tips_cents"}


class SyncRequest(BaseModel):
    """Fold a tenant's transactions written since the last sync into its daily summaries."""

    tenant_id: int = Field(gt=0, lt=2**63)


def summarize(rows: list[dict[str, Any]], zone: ZoneInfo) -> dict[date, dict[str, int]]:
    """Per business day (in ``zone``): how many transactions, and cents per kind."""
    days: dict[date, dict[str, int]] = {}
    for row in rows:
        day = as_utc(row["occurred_at"]).astimezone(zone).date()
        totals = days.setdefault(
            day, {"transactions": 0, "sales_cents": 0, "refunds_cents": 0, "tips_cents": 0}
        )
        totals["transactions"] += 1
        totals[KIND_COLUMNS[row["kind"]]] += int(row["amount_cents"])
    return days


def _add_to_summaries(dialect: str, tenant_id: int, days: dict[date, dict[str, int]]) -> Insert:
    """One upsert adding each day's deltas to what the summary already holds."""
    values = [{"tenant_id": tenant_id, "day": day, **totals} for day, totals in days.items()]
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DailySummary)
    excluded = statement.excluded
    return statement.values(values).on_conflict_do_update(
        index_elements=["tenant_id", "day"],
        set_={
            name: getattr(DailySummary, name) + excluded[name]
            for name in ("transactions", "sales_cents", "refunds_cents", "tips_cents")
        },
    )


def _ensure_cursor(dialect: str, tenant_id: int) -> Insert:
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(SyncCursor)
    return statement.values(tenant_id=tenant_id, last_transaction_id=0).on_conflict_do_nothing()


def register(app: Conveyor, db: Database, config: CarwashConfig) -> None:
    """Declare ``finance.sync`` on ``app``."""

    async def snapshot(ctx: JobContext, tenant_id: int) -> dict[str, int]:
        """The range this run covers, saved as the checkpoint in the same commit."""
        async with ctx.transaction() as tx:
            await run(tx, _ensure_cursor(tx.dialect, tenant_id))
            cursor = await run(
                tx,
                select(SyncCursor.last_transaction_id).where(SyncCursor.tenant_id == tenant_id),
            )
            start = int(cursor[0]["last_transaction_id"])
            mine = Transaction.tenant_id == tenant_id
            top = await run(tx, select(func.max(Transaction.id).label("top")).where(mine))
            high_water = max(start, int(top[0]["top"] or 0))
            counted = await run(
                tx,
                select(func.count().label("n")).where(
                    mine, Transaction.id > start, Transaction.id <= high_water
                ),
            )
            checkpoint = {
                "start": start,
                "high_water": high_water,
                "cursor": start,
                "done": 0,
                "total": int(counted[0]["n"]),
            }
            await tx.save_checkpoint(checkpoint)
        return checkpoint

    async def apply_chunk(
        ctx: JobContext, tenant_id: int, zone: ZoneInfo, checkpoint: dict[str, int]
    ) -> dict[str, int] | None:
        """Fold the next chunk in; returns the new checkpoint (None: nothing was left)."""
        async with ctx.transaction() as tx:
            rows = await run(
                tx,
                select(Transaction.id, Transaction.occurred_at, Transaction.kind)
                .add_columns(Transaction.amount_cents)
                .where(
                    Transaction.tenant_id == tenant_id,
                    Transaction.id > checkpoint["cursor"],
                    Transaction.id <= checkpoint["high_water"],
                )
                .order_by(Transaction.id)
                .limit(config.sync_chunk_size),
            )
            if not rows:
                return None
            new_cursor = int(rows[-1]["id"])
            moved = await run(
                tx,
                update(SyncCursor)
                .where(
                    SyncCursor.tenant_id == tenant_id,
                    SyncCursor.last_transaction_id == checkpoint["cursor"],
                )
                .values(last_transaction_id=new_cursor, synced_at=datetime.now(UTC))
                .returning(SyncCursor.tenant_id),
            )
            if not moved:
                raise Discard(
                    f"another sync of tenant {tenant_id} moved its cursor past "
                    f"{checkpoint['cursor']}: this run stops rather than count rows twice"
                )
            await run(tx, _add_to_summaries(tx.dialect, tenant_id, summarize(rows, zone)))
            advanced = {**checkpoint, "cursor": new_cursor, "done": checkpoint["done"] + len(rows)}
            await tx.save_checkpoint(advanced)
        return advanced

    # One sync per tenant runs anywhere in the cluster (the cursor's compare-and-set is the
    # second line of defence).
    @app.task(
        name="finance.sync",
        queue="sync",
        max_attempts=10,
        timeout=3600,
        concurrency_key=lambda p: p.tenant_id,
        concurrency_limit=1,
    )
    async def sync(payload: SyncRequest, ctx: JobContext) -> dict[str, Any]:
        """Fold a tenant's new financial transactions into its daily summaries."""
        tenant = await db.read(
            lambda conn: conn.execute(
                select(Tenant.timezone).where(Tenant.id == payload.tenant_id)
            ).scalar_one_or_none()
        )
        if tenant is None:
            raise Discard(f"no tenant {payload.tenant_id}")
        zone = ZoneInfo(tenant)
        saved: dict[str, int] | None = ctx.checkpoint  # set: an earlier attempt got this far
        checkpoint = saved or await snapshot(ctx, payload.tenant_id)
        resumed_from = saved["cursor"] if saved else None
        await ctx.progress(checkpoint["done"], checkpoint["total"])
        while checkpoint["cursor"] < checkpoint["high_water"]:
            advanced = await apply_chunk(ctx, payload.tenant_id, zone, checkpoint)
            if advanced is None:
                break
            checkpoint = advanced
            await ctx.progress(checkpoint["done"], checkpoint["total"])
            if chunk_hook is not None:
                await chunk_hook(checkpoint["cursor"])
        return {
            "tenant_id": payload.tenant_id,
            "from_transaction": checkpoint["start"],
            "to_transaction": checkpoint["high_water"],
            "transactions": checkpoint["done"],
            "resumed_from": resumed_from,
        }

    async def tenant_zones() -> list[tuple[int, str]]:
        rows = await db.read(lambda conn: conn.execute(select(Tenant.id, Tenant.timezone)).all())
        return [(int(tenant_id), str(zone)) for tenant_id, zone in rows]

    # Nightly at 02:00 in each tenant's own zone; a night's run waits for the previous one.
    app.schedule(
        sync, name="finance.nightly", cron="0 2 * * *", per_tenant=tenant_zones, allow_overlap=False
    )
