"""JobContext: what a running handler can see and do about its own job."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, LiteralString

import pydantic

from conveyor.batches import Batch
from conveyor.clock import Clock, SystemClock
from conveyor.errors import LeaseLost
from conveyor.item import ledger_of
from conveyor.job import Job, Lease, Page, Progress
from conveyor.ledger import ItemLedger, TransactionItems
from conveyor.store.base import Store, StoreTx

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.task import Task


@dataclass
class JobContext:
    """Handed to a handler as its second argument.

    Writes it makes (progress, checkpoint) are fenced by the job's lease: once the lease
    is lost they raise ``LeaseLost`` so that the handler stops doing work nobody will keep.
    """

    job: Job
    lease: Lease
    store: Store
    clock: Clock = field(default_factory=SystemClock, repr=False)
    _cancelled: bool = field(default=False, repr=False)
    finished_in_transaction: bool = field(default=False, repr=False)
    """True once ``JobTransaction.complete`` committed: the worker must not ack again."""
    _items: ItemLedger | None = field(default=None, repr=False)
    app: Conveyor | None = field(default=None, repr=False)
    """The app whose task this is (for batches); set by the worker."""
    _batches_made: int = field(default=0, repr=False)
    _logger: logging.LoggerAdapter[logging.Logger] | None = field(default=None, repr=False)

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry the job's id, task and attempt. Built on first use:
        most handlers never log, and building one for every job was a worker's hot path."""
        if self._logger is None:
            self._logger = job_logger(self.job)
        return self._logger

    @property
    def items(self) -> ItemLedger:
        """This job's item ledger (see ``conveyor.ledger``); shared by a batch's children."""
        if self._items is None:
            self._items = ItemLedger(
                self.store,
                self.clock,
                ledger=ledger_of(self.job),
                job_id=self.job.id,
                attempt=self.job.attempt,
            )
        return self._items

    @property
    def marked_items(self) -> bool:
        """Whether the handler used its item ledger (so there may be outcomes to flush)."""
        return self._items is not None

    async def flush_items(self) -> None:
        """Write the item outcomes still buffered (no-op for a job that marked none)."""
        if self._items is not None:
            await self._items.flush()

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

    async def enqueue_batch(
        self,
        task: str | Task[Any],
        payloads: Sequence[pydantic.BaseModel | Mapping[str, Any]],
        *,
        callback: str | Task[Any] | None = None,
        callback_payload: pydantic.BaseModel | Mapping[str, Any] | None = None,
        queue: str | None = None,
        priority: int | None = None,
    ) -> Batch:
        """Enqueue a batch of child jobs with this job as parent (see ``conveyor.batch``).

        The n-th batch an attempt creates carries the key ``job:<id>:batch:<n>``, so a
        retried or rescued attempt that creates its batches in the same order gets the
        existing ones back instead of creating them twice.
        """
        key = f"job:{self.job.id}:batch:{self._batches_made}"
        self._batches_made += 1
        return await self._app().enqueue_batch(
            task,
            payloads,
            callback=callback,
            callback_payload=callback_payload,
            idempotency_key=key,
            parent_id=self.job.id,
            queue=queue,
            priority=priority,
        )

    async def batch_jobs(
        self,
        batch_id: int,
        *,
        state: str | Sequence[str] | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> Page:
        """A page of a batch's children with their results (for a callback to read)."""
        return await self._app().batch_jobs(batch_id, state=state, after=after, limit=limit)

    def _app(self) -> Conveyor:
        if self.app is None:
            raise RuntimeError("this context has no app: batches need a worker's context")
        return self.app

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[JobTransaction]:
        """A database transaction on the job store's database, fenced by this job's lease.

        Writes made through it, a checkpoint saved through it, and (with ``complete``) the
        job's completion commit together or not at all: exactly once for database
        effects. The job row stays locked until commit, so neither the rescuer nor a
        cancellation can take the job away mid-transaction. Raises ``LeaseLost`` (and
        rolls back) when the lease was already lost.
        """
        async with self.store.transaction() as tx:
            if not await tx.hold_lease(self.lease):
                self._lost()
            handle = JobTransaction(tx, self)
            yield handle
            await tx.record_items(handle.items.take(), self.clock.now())
            if handle.result_to_commit is not _UNSET and not await tx.complete_job(
                self.lease, handle.result_to_commit, self.clock.now()
            ):
                self._lost()
        if handle.checkpoint_to_commit is not _UNSET:
            self.job = replace(self.job, checkpoint=handle.checkpoint_to_commit)
        if handle.result_to_commit is not _UNSET:
            self.finished_in_transaction = True

    def _lost(self) -> None:
        self._cancelled = True
        raise LeaseLost(self.lease.job_id, self.lease.token)


_UNSET: Any = object()


class JobTransaction:
    """The handler's side of ``ctx.transaction()``."""

    def __init__(self, tx: StoreTx, ctx: JobContext) -> None:
        self._tx = tx
        self._ctx = ctx
        self.result_to_commit: Any = _UNSET
        self.checkpoint_to_commit: Any = _UNSET
        self.items: TransactionItems = ctx.items.transaction_marks()
        """Item outcomes written in this transaction's commit (``tx.items.mark_done(key)``)."""

    @property
    def connection(self) -> Any:
        """The driver connection inside the transaction (psycopg ``AsyncConnection`` on
        PostgreSQL, ``sqlite3.Connection`` on SQLite) for code that wants it directly."""
        return self._tx.connection

    @property
    def dialect(self) -> str:
        return self._tx.dialect

    async def execute(
        self, sql: LiteralString, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run one statement in the transaction (``%(name)s`` on PostgreSQL, ``:name`` on
        SQLite); returns its rows as dicts."""
        return await self._tx.execute(sql, params)

    async def save_checkpoint(self, checkpoint: Any) -> None:
        """Save the job's checkpoint in this transaction: it commits with the work it covers."""
        if not await self._tx.save_checkpoint(self._ctx.lease, checkpoint):
            self._ctx._lost()
        self.checkpoint_to_commit = checkpoint

    def complete(self, result: Any = None) -> None:
        """Complete the job in this transaction's commit (the handler should return next)."""
        self.result_to_commit = result


def job_logger(job: Job) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records carry the job's id, task and attempt."""
    return logging.LoggerAdapter(
        logging.getLogger(f"conveyor.task.{job.task}"),
        {"job_id": job.id, "task": job.task, "attempt": job.attempt},
    )
