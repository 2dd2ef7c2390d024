"""Item ledger endpoints: per-item counts and the items (e.g. the failed ones, with reasons)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from conveyor.api.auth import Authenticator
from conveyor.api.inputs import Text
from conveyor.api.jobs import JobId
from conveyor.app import Conveyor
from conveyor.arguments import MAX_PAGE
from conveyor.item import ItemOutcome


def items_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["jobs"])

    @router.get(
        "/jobs/{job_id}/items",
        summary="Item outcomes a bulk job recorded: counts, and one page of items",
        dependencies=[Depends(auth.reader)],
    )
    async def job_items(
        job_id: JobId,
        outcome: ItemOutcome | None = None,
        after: Annotated[Text | None, Query(max_length=1000)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> dict[str, Any]:
        counts, page = await app.job_items(job_id, outcome=outcome, after=after, limit=limit)
        return {
            "counts": {
                "done": counts.done,
                "skipped": counts.skipped,
                "failed": counts.failed,
                "total": counts.total,
            },
            "items": [
                {
                    "key": item.key,
                    "outcome": item.outcome.value,
                    "reason": item.reason,
                    "job_id": item.job_id,
                    "attempt": item.attempt,
                    "recorded_at": item.recorded_at.isoformat(),
                }
                for item in page.items
            ],
            "next_after": page.next_after,
        }

    return router
