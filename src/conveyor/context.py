"""JobContext: what a running handler can see and do about its own job."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from conveyor.errors import LeaseLost
from conveyor.job import Job, Lease, Progress
from conveyor.store.base import Store


@dataclass
class JobContext:
    """Handed to a handler as its second argument.

    Writes it makes (progress, checkpoint) are fenced by the job's lease: once the lease
    is lost they raise ``LeaseLost`` so that the handler stops doing work nobody will keep.
    """

    job: Job
    lease: Lease
    store: Store
    logger: logging.LoggerAdapter[logging.Logger]
    _cancelled: bool = field(default=False, repr=False)

    @property
    def job_id(self) -> int:
        return self.job.id

    @property
    def attempt(self) -> int:
        return self.job.attempt

    @property
    def checkpoint(self) -> Any:
        """The last checkpoint saved by any attempt of this job (``None`` at first)."""
        return self.job.checkpoint

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled or its lease lost; sync handlers poll it."""
        return self._cancelled

    def mark_cancelled(self) -> None:
        self._cancelled = True

    async def progress(self, done: int, total: int | None = None) -> None:
        if not await self.store.save_progress(lease=self.lease, progress=Progress(done, total)):
            self._lost()

    async def save_checkpoint(self, checkpoint: Any) -> None:
        """Persist ``checkpoint``; a later attempt of the job reads it back."""
        if not await self.store.save_checkpoint(lease=self.lease, checkpoint=checkpoint):
            self._lost()
        self.job = replace(self.job, checkpoint=checkpoint)

    def _lost(self) -> None:
        self._cancelled = True
        raise LeaseLost(self.lease.job_id, self.lease.token)


def job_logger(job: Job) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records carry the job's id, task and attempt."""
    return logging.LoggerAdapter(
        logging.getLogger(f"conveyor.task.{job.task}"),
        {"job_id": job.id, "task": job.task, "attempt": job.attempt},
    )
