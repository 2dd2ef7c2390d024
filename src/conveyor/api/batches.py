"""Batch endpoints: a batch with its counters, its children, and cancelling it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from conveyor.api.auth import Authenticator
from conveyor.api.jobs import MAX_ID, JobId, JobPage
from conveyor.app import Conveyor
from conveyor.arguments import MAX_PAGE
from conveyor.job import JobState

BatchId = Annotated[int, Path(ge=1, le=MAX_ID)]


class BatchList(BaseModel):
    """One page of batches (each as ``GET /api/batches/{id}`` shows it)."""

    batches: list[dict[str, Any]]
    next_after: int | None


def batches_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["batches"])
    read = [Depends(auth.reader)]

    @router.get("/batches", summary="Batches, newest first (keyset pages)", dependencies=read)
    async def list_batches(
        unfinished: bool = False,
        after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> BatchList:
        page = await app.list_batches(unfinished=unfinished, after=after, limit=limit)
        return BatchList(batches=[b.to_json() for b in page.batches], next_after=page.next_after)

    @router.get("/batches/{batch_id}", summary="A batch and its counters", dependencies=read)
    async def get_batch(batch_id: BatchId) -> dict[str, Any]:
        return (await app.get_batch(batch_id)).to_json()

    @router.get(
        "/batches/{batch_id}/jobs",
        summary="A batch's children in creation order (keyset pages)",
        dependencies=read,
    )
    async def batch_jobs(
        batch_id: BatchId,
        state: Annotated[list[JobState] | None, Query()] = None,
        after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> JobPage:
        page = await app.batch_jobs(batch_id, state=state, after=after, limit=limit)
        return JobPage(jobs=[j.to_json() for j in page.jobs], next_after=page.next_after)

    @router.post(
        "/batches/{batch_id}/cancel",
        summary="Cancel every unfinished child of a batch",
        dependencies=[Depends(auth.admin)],
    )
    async def cancel_batch(batch_id: BatchId) -> dict[str, Any]:
        return (await app.cancel_batch(batch_id)).to_json()

    @router.get("/jobs/{job_id}/batches", summary="The batches a job created", dependencies=read)
    async def job_batches(job_id: JobId) -> list[dict[str, Any]]:
        await app.get_job(job_id)  # 404 for a job that does not exist
        return [b.to_json() for b in await app.batches_of(job_id)]

    return router
