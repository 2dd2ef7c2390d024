"""Admin endpoints: list, show, cancel, retry, bulk retry, re-run, sweep, stats, workers."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from conveyor.api.auth import Authenticator
from conveyor.api.inputs import AwareMoment, Text
from conveyor.app import Conveyor
from conveyor.arguments import MAX_PAGE
from conveyor.job import JobState

JobJson = dict[str, Any]
MAX_ID = 2**63 - 1  # a bigint: larger ids cannot exist, and must not reach the database
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]


class JobPage(BaseModel):
    jobs: list[JobJson]
    next_after: int | None = Field(description="Pass as `after` for the next page.")


class RetryFailed(BaseModel):
    """Which failed jobs to retry; every given condition must hold."""

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=10_000
    )
    task: Text | None = Field(default=None, min_length=1)
    finished_after: AwareMoment | None = None
    finished_before: AwareMoment | None = None


def jobs_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    # Auth sits in each route's dependencies, not in its signature: annotations here are
    # strings (PEP 563) that FastAPI resolves in module scope, where ``auth`` is unknown.
    router = APIRouter(prefix="/api", tags=["jobs"])
    read = [Depends(auth.reader)]
    admin = [Depends(auth.admin)]

    @router.get("/jobs", summary="List jobs, newest first (keyset pages)", dependencies=read)
    async def list_jobs(
        state: Annotated[list[JobState] | None, Query()] = None,
        task: Annotated[list[Text] | None, Query()] = None,
        queue: Annotated[list[Text] | None, Query()] = None,
        idempotency_key: Annotated[Text | None, Query(max_length=255)] = None,
        created_after: AwareMoment | None = None,
        created_before: AwareMoment | None = None,
        finished_after: AwareMoment | None = None,
        finished_before: AwareMoment | None = None,
        after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> JobPage:
        page = await app.list_jobs(
            state=state,
            task=task,
            queue=queue,
            idempotency_key=idempotency_key,
            created_after=created_after,
            created_before=created_before,
            finished_after=finished_after,
            finished_before=finished_before,
            after=after,
            limit=limit,
        )
        return JobPage(jobs=[j.to_json() for j in page.jobs], next_after=page.next_after)

    @router.get("/jobs/{job_id}", summary="One job", dependencies=read)
    async def get_job(
        job_id: JobId,
        explain: Annotated[
            bool, Query(description="Add `explain`: why the job is not running (and until when).")
        ] = False,
    ) -> JobJson:
        data = (await app.get_job(job_id)).to_json()
        if explain:
            data["explain"] = (await app.explain(job_id)).to_json()
        return data

    @router.post(
        "/jobs/{job_id}/cancel", summary="Cancel a job that has not finished", dependencies=admin
    )
    async def cancel(job_id: JobId) -> JobJson:
        return (await app.cancel(job_id)).to_json()

    @router.post(
        "/jobs/{job_id}/retry",
        summary="Make a failed or cancelled job available",
        dependencies=admin,
    )
    async def retry(job_id: JobId) -> JobJson:
        return (await app.retry(job_id)).to_json()

    @router.post(
        "/jobs/{job_id}/rerun", status_code=201, summary="Clone a finished job", dependencies=admin
    )
    async def rerun(job_id: JobId) -> JobJson:
        return (await app.rerun(job_id)).to_json()

    @router.post("/jobs/retry-failed", summary="Retry failed jobs in bulk", dependencies=admin)
    async def retry_failed(body: RetryFailed) -> dict[str, int]:
        count = await app.retry_failed(
            ids=body.ids,
            task=body.task,
            finished_after=body.finished_after,
            finished_before=body.finished_before,
        )
        return {"retried": count}

    @router.post(
        "/sweep", summary="Rescue expired leases and wake every worker now", dependencies=admin
    )
    async def sweep() -> dict[str, list[int]]:
        return {"rescued": await app.sweep()}

    @router.get("/stats", summary="Counts, throughput and backlog age", dependencies=read)
    async def stats(minutes: Annotated[int, Query(ge=1, le=1440)] = 15) -> dict[str, Any]:
        result = await app.stats(minutes=minutes)
        now = app.clock.now()
        by_state: dict[str, int] = {}
        by_queue: dict[str, dict[str, int]] = {}
        for count in result.counts:
            by_state[count.state.value] = by_state.get(count.state.value, 0) + count.count
            by_queue.setdefault(count.queue, {})[count.state.value] = count.count
        oldest = result.oldest_waiting_run_at
        return {
            "counts": {"by_state": by_state, "by_queue": by_queue},
            "finished_per_minute": [
                {"minute": m.minute.isoformat(), "state": m.state.value, "count": m.count}
                for m in result.finished_per_minute
            ],
            "oldest_waiting_seconds": None if oldest is None else (now - oldest).total_seconds(),
        }

    @router.get("/workers", summary="The worker registry", dependencies=read)
    async def workers() -> list[dict[str, Any]]:
        return [_plain(asdict(w)) for w in await app.workers()]

    return router


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}
