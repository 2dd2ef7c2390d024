"""The Store methods on jobs that are one statement each, written once for both dialects:
reading, administration, progress and checkpoints, rescue, pruning and flow state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conveyor.errors import InvalidTransition, JobNotFound
from conveyor.job import Job, JobState, Lease, Page, Progress
from conveyor.stats import JobStats, MinuteCount, QueueCount
from conveyor.store.base import JobFilter, RateBucket, bucket_from_row
from conveyor.store.runner import Connector, QueryRunner


def filter_params(f: JobFilter, db: Connector) -> dict[str, Any]:
    """A ``JobFilter`` as the ``list_jobs`` and ``retry_failed`` statements take it."""

    def when(moment: datetime | None) -> Any:
        return None if moment is None else db.time(moment)

    def strings(values: Sequence[Any] | None) -> Any:
        return None if values is None else db.array([str(v) for v in values])

    return {
        "states": strings(f.states),
        "tasks": strings(f.tasks),
        "queues": strings(f.queues),
        "ids": None if f.ids is None else db.array(list(f.ids)),
        "idempotency_key": f.idempotency_key,
        "created_after": when(f.created_after),
        "created_before": when(f.created_before),
        "finished_after": when(f.finished_after),
        "finished_before": when(f.finished_before),
    }


class JobMethods(QueryRunner):
    """``get_job``, ``list_jobs``, ``cancel_jobs``, ``retry_jobs``, ``retry_failed``,
    ``rerun_job``, ``enqueue_tallies``, ``count_jobs``, ``job_stats``, ``save_progress``,
    ``save_checkpoint``, ``rescue_expired``, ``prune_finished``, ``rate_bucket`` and
    ``running_with_key``."""

    async def get_job(self, *, job_id: int) -> Job:
        rows = await self._db.read("get_job", {"id": job_id})
        if not rows:
            raise JobNotFound(job_id)
        return self._job(rows[0])

    async def list_jobs(self, *, filter: JobFilter, after: int | None, limit: int) -> Page:
        params = {**filter_params(filter, self._db), "after": after, "limit": limit + 1}
        rows = await self._db.read("list_jobs", params, plan_each_time=True)
        jobs = [self._job(r) for r in rows[:limit]]
        return Page(jobs, jobs[-1].id if len(rows) > limit and jobs else None)

    async def cancel_jobs(self, *, ids: Sequence[int], now: datetime) -> list[Job]:
        params = {"ids": self._db.array(list(ids)), "now": self._db.time(now)}
        rows = await self._db.write("cancel_jobs", params)
        return sorted(map(self._job, rows), key=lambda j: j.id)

    async def retry_jobs(self, *, ids: Sequence[int], now: datetime) -> list[Job]:
        params = {"ids": self._db.array(list(ids)), "now": self._db.time(now)}
        rows = await self._db.write("retry_jobs", params)
        return sorted(map(self._job, rows), key=lambda j: j.id)

    async def retry_failed(self, *, filter: JobFilter, now: datetime) -> int:
        params = {**filter_params(filter, self._db), "now": self._db.time(now)}
        params.pop("states")
        return await self._db.execute("retry_failed", params)

    async def rerun_job(self, *, job_id: int, now: datetime) -> Job:
        rows = await self._db.write_jobs("rerun_job", {"id": job_id, "now": self._db.time(now)})
        if not rows:
            original = await self.get_job(job_id=job_id)  # raises JobNotFound
            raise InvalidTransition(job_id, original.state.value, "re-run")
        return self._job(rows[0])

    async def enqueue_tallies(self) -> dict[tuple[str, str], int]:
        rows = await self._db.read("enqueue_tallies", {})
        return {(str(r["task"]), str(r["queue"])): int(r["count"]) for r in rows}

    async def count_jobs(self) -> list[QueueCount]:
        rows = await self._db.read("count_jobs", {})
        return [QueueCount(r["queue"], JobState(r["state"]), int(r["count"])) for r in rows]

    async def job_stats(self, *, now: datetime, since: datetime) -> JobStats:
        counts = await self.count_jobs()
        minutes = await self._db.read("finished_per_minute", {"since": self._db.time(since)})
        oldest = (await self._db.read("oldest_waiting", {"now": self._db.time(now)}))[0]["run_at"]
        return JobStats(
            counts=counts,
            finished_per_minute=[
                MinuteCount(self._db.when(r["minute"]), JobState(r["state"]), int(r["count"]))
                for r in minutes
            ],
            oldest_waiting_run_at=None if oldest is None else self._db.when(oldest),
        )

    async def save_progress(self, *, lease: Lease, progress: Progress) -> bool:
        params = {
            "id": lease.job_id,
            "token": lease.token,
            "done": progress.done,
            "total": progress.total,
        }
        return bool(await self._db.write("save_progress", params))

    async def save_checkpoint(self, *, lease: Lease, checkpoint: Any) -> bool:
        params = {"id": lease.job_id, "token": lease.token, "checkpoint": self._db.json(checkpoint)}
        return bool(await self._db.write("save_checkpoint", params))

    async def rescue_expired(self, *, now: datetime | None, limit: int) -> list[int]:
        at = self._db.lease_time(now)
        params = {
            "now": None if at is None else self._db.time(at),
            "now_text": None if at is None else at.isoformat(),
            "limit": limit,
        }
        return sorted(int(r["id"]) for r in await self._db.write("rescue_expired", params))

    async def prune_finished(self, *, before: datetime, limit: int) -> int:
        params = {"before": self._db.time(before), "limit": limit}
        return await self._db.execute("prune_finished", params)

    async def rate_bucket(self, *, key: str) -> RateBucket | None:
        rows = await self._db.read("get_rate_bucket", {"key": key})
        return bucket_from_row(rows[0], self._db.when) if rows else None

    async def running_with_key(self, *, key: str) -> list[int]:
        return [int(r["id"]) for r in await self._db.read("running_with_key", {"key": key})]
