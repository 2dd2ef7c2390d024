"""The Store interface every backend implements, and the dataclasses that cross it.

Hot-path methods are plural and take batches. Every write a worker makes on a running
job (ack, lease extension, progress, checkpoint) is fenced by the job's lease token: a
write that carries a stale token changes nothing and is reported back as ``LeaseLost``.
Arguments are keyword-only; ``now`` always comes from the caller's clock so that tests
can freeze time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, LiteralString, Protocol

from conveyor.batches import Batch, BatchPage, NewBatch
from conveyor.errors import LeaseLost
from conveyor.item import ItemCounts, ItemMark, ItemOutcome, ItemPage
from conveyor.job import Job, JobError, JobState, Lease, Page, Progress
from conveyor.queue import QueueInfo
from conveyor.stats import JobStats, QueueCount, QueueDepth, WorkerInfo
from conveyor.store.incident import IncidentStore
from conveyor.store.schedule import ScheduleStore


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do, so that callers branch on a capability, never on a dialect.

    Attributes:
        listen_notify: wake-ups cross process boundaries (PostgreSQL LISTEN/NOTIFY; SQLite
            datagrams between the processes of one machine).
        skip_locked: concurrent claimers skip each other's rows instead of waiting.
        multi_host: workers on several machines may share the store.
        time_precision: the smallest difference between two stored times.
    """

    listen_notify: bool
    skip_locked: bool
    multi_host: bool
    time_precision: timedelta


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to insert. ``run_at`` in the future makes it ``scheduled``."""

    task: str
    queue: str
    payload: Mapping[str, Any]
    run_at: datetime
    priority: int = 0
    max_attempts: int = 3
    idempotency_key: str | None = None
    timeout_seconds: float | None = None
    rerun_of: int | None = None
    # Flow control (conveyor.flow), computed from the task's options and the payload.
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    rate_key: str | None = None
    rate_per_second: float | None = None
    rate_burst: float | None = None
    fairness_key: str | None = None
    traceparent: str | None = None
    """The W3C trace context of the enqueue span (``conveyor.tracing``), if any."""


@dataclass(frozen=True, slots=True)
class Inserted:
    """The outcome of inserting one ``NewJob``: the job, and whether it is new.

    ``created`` is false when the idempotency key was already held: ``job`` is then the
    job that holds it.
    """

    job: Job
    created: bool


@dataclass(frozen=True, slots=True)
class Completion:
    """Ack for a handler that returned: the job becomes ``completed`` with ``result``."""

    job_id: int
    token: str
    result: Any = None


@dataclass(frozen=True, slots=True)
class Failure:
    """Ack for a handler that raised.

    With ``retry_at`` set and attempts left, the job becomes ``retrying`` until then;
    otherwise it becomes ``failed``. ``error`` is appended to the job's error list either way.
    """

    job_id: int
    token: str
    error: JobError
    retry_at: datetime | None = None


Ack = Completion | Failure


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """Which acks took effect, and which were rejected because the lease was lost."""

    acked: list[int] = field(default_factory=list)
    lost: list[LeaseLost] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Conditions for listing jobs; each given condition must hold (AND), ``None`` = any."""

    states: Sequence[JobState] | None = None
    tasks: Sequence[str] | None = None
    queues: Sequence[str] | None = None
    ids: Sequence[int] | None = None
    idempotency_key: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    finished_after: datetime | None = None
    finished_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class RateBucket:
    """A rate key's token bucket as last written: ``tokens`` as of ``updated_at``."""

    key: str
    tokens: float
    rate_per_second: float
    burst: float
    updated_at: datetime

    def tokens_at(self, now: datetime) -> float:
        """The tokens it holds at ``now``: refilled at the rate, up to the burst."""
        elapsed = max((now - self.updated_at).total_seconds(), 0.0)
        return min(self.burst, self.tokens + elapsed * self.rate_per_second)


@dataclass(frozen=True, slots=True)
class SqlStatement:
    """A statement and its parameters, ready for a DB-API cursor of the store's dialect."""

    sql: LiteralString
    params: Mapping[str, Any]


class InsertPlan(Protocol):
    """The statements that insert a batch of jobs, decoupled from who executes them.

    The store runs a plan on its own connections; transactional enqueue runs the same plan
    on the application's connection, so both paths share one piece of SQL.
    """

    def insert(self) -> SqlStatement:
        """Insert every job whose idempotency key is free; returns the inserted rows."""
        ...

    def existing(self, inserted_rows: Sequence[Mapping[str, Any]]) -> SqlStatement | None:
        """Select the jobs that already held a key, or ``None`` when nothing conflicted."""
        ...

    def tally(self, inserted_rows: Sequence[Mapping[str, Any]]) -> SqlStatement | None:
        """Count the jobs the insert created in the enqueue tally, in the same transaction;
        ``None`` when the insert statement counted them itself or created none."""
        ...

    def finish(
        self,
        inserted_rows: Sequence[Mapping[str, Any]],
        existing_rows: Sequence[Mapping[str, Any]],
    ) -> list[Inserted]:
        """Pair every requested job, in order, with the row that now represents it."""
        ...


class StoreTx(Protocol):
    """A transaction handed to a handler by ``JobContext.transaction()``.

    Its fenced methods touch the job row only while the lease is held; the store commits
    when the ``transaction()`` block exits normally and rolls back otherwise.
    """

    dialect: str
    connection: Any

    async def execute(
        self, sql: LiteralString, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    async def hold_lease(self, lease: Lease) -> bool:
        """Lock the job row for the rest of the transaction; false if the lease is lost."""
        ...

    async def save_checkpoint(self, lease: Lease, checkpoint: Any) -> bool: ...

    async def complete_job(self, lease: Lease, result: Any, now: datetime) -> bool: ...

    async def record_items(self, marks: Sequence[ItemMark], now: datetime) -> None:
        """Record item outcomes in this transaction (see ``Store.record_items``)."""
        ...


class Listener(Protocol):
    """A running subscription to "jobs were enqueued" notifications."""

    async def close(self) -> None: ...


class Store(ScheduleStore, IncidentStore, Protocol):
    """Durable storage for jobs. Implementations: ``PostgresStore``, ``SqliteStore``."""

    capabilities: Capabilities
    dialect: str
    """``"postgresql"`` or ``"sqlite"``: which SQL an application connection must speak
    for transactional enqueue. Behaviour never branches on it; capabilities exist for that."""

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        ...

    async def open(self) -> None:
        """Connect; raises ``StoreUnavailable`` naming the URL when that fails."""
        ...

    async def close(self) -> None: ...

    async def migrate(self) -> int:
        """Apply missing migrations (safe to run concurrently); returns the schema version."""
        ...

    async def schema_version(self) -> int:
        """The applied schema version, 0 for an empty database."""
        ...

    @property
    def expected_version(self) -> int:
        """The schema version this code needs."""
        ...

    def plan_insert(self, jobs: Sequence[NewJob], *, now: datetime) -> InsertPlan: ...

    async def insert_jobs(self, *, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        """Insert many jobs in one round trip (two when idempotency keys conflict)."""
        ...

    async def insert_job_chunks(
        self, *, chunks: Iterable[Sequence[NewJob]], now: datetime
    ) -> list[Inserted]:
        """Insert the jobs of every chunk, in order, as ``insert_jobs`` inserts their
        concatenation: in one transaction, all of them or none. ``chunks`` is read lazily,
        so a store may send one chunk before the next is built; an exception raised by
        ``chunks`` rolls back whatever was sent and propagates."""
        ...

    async def claim_jobs(
        self,
        *,
        queues: Sequence[str] | None,
        limit: int,
        lease_ttl: timedelta,
        worker_id: str,
        now: datetime | None,
    ) -> list[Job]:
        """Claim up to ``limit`` due jobs (``queues=None``: any queue) by priority, run_at, id.

        Each claimed job becomes ``running`` with a fresh lease token, ``attempt + 1``.
        Jobs of paused queues are skipped (in the same statement, not per job).
        ``now=None`` takes the time (what is due, the start, the lease's expiry) from the
        database's clock, as workers do: lease arithmetic never uses a worker's clock.
        """
        ...

    async def ack_jobs(self, *, acks: Sequence[Ack], now: datetime) -> AckOutcome:
        """Record many completions and failures, fenced by lease token."""
        ...

    async def extend_leases(
        self, *, leases: Sequence[Lease], ttl: timedelta, now: datetime | None
    ) -> list[LeaseLost]:
        """Push the expiry of many held leases to ``now + ttl`` (``now=None``: the
        database's clock); returns those no longer held (the job was rescued, cancelled or
        finished), which the worker must stop."""
        ...

    async def release_jobs(self, *, leases: Sequence[Lease], now: datetime) -> list[int]:
        """Hand running jobs back to the queue at once (graceful shutdown).

        The attempt is not counted: the job did not fail.
        """
        ...

    async def rescue_expired(self, *, now: datetime | None, limit: int) -> list[int]:
        """Return running jobs whose lease expired by ``now`` (``None``: the database's
        clock) to the queue (or to ``failed`` when no attempts are left), recording a
        "lease expired" error; returns their ids."""
        ...

    async def save_progress(self, *, lease: Lease, progress: Progress) -> bool:
        """Fenced; false when the lease is no longer held."""
        ...

    async def save_checkpoint(self, *, lease: Lease, checkpoint: Any) -> bool:
        """Fenced; false when the lease is no longer held."""
        ...

    async def get_job(self, *, job_id: int) -> Job:
        """Raises ``JobNotFound``."""
        ...

    async def list_jobs(self, *, filter: JobFilter, after: int | None, limit: int) -> Page: ...

    async def cancel_jobs(self, *, ids: Sequence[int], now: datetime) -> list[Job]:
        """Cancel the given jobs that are not final; returns the cancelled ones."""
        ...

    async def retry_jobs(self, *, ids: Sequence[int], now: datetime) -> list[Job]:
        """Make the given ``failed``/``cancelled`` jobs ``available`` again, granting one
        more attempt when they had none left; returns the ones retried."""
        ...

    async def retry_failed(self, *, filter: JobFilter, now: datetime) -> int:
        """Retry every ``failed`` job matching ``filter``; returns how many."""
        ...

    async def rerun_job(self, *, job_id: int, now: datetime) -> Job:
        """Clone a finished job into a new ``available`` job with ``rerun_of`` set.

        Raises ``JobNotFound``, or ``InvalidTransition`` when the job is not final.
        """
        ...

    async def enqueue_tallies(self) -> dict[tuple[str, str], int]:
        """Jobs ever enqueued, by (task, queue): every job that landed in the jobs table,
        counted by the transaction that inserted it (pruning does not lower it)."""
        ...

    async def compact_enqueue_tally(self) -> int:
        """Fold the enqueue counts that inserts appended into one row per (task, queue)
        (maintenance runs it); how many rows were folded. Totals are unchanged."""
        ...

    async def count_jobs(self) -> list[QueueCount]: ...

    async def pause_queue(self, *, queue: str, now: datetime) -> bool:
        """Stop claims from ``queue`` (jobs keep being accepted); false if already paused."""
        ...

    async def resume_queue(self, *, queue: str, now: datetime) -> bool:
        """Let claims take ``queue``'s jobs again and wake its workers in other processes
        (with ``capabilities.listen_notify``); false if it was not paused."""
        ...

    async def list_queues(self, *, now: datetime) -> list[QueueInfo]:
        """Every queue that holds a job or was ever paused, by name, with its counts."""
        ...

    async def job_stats(self, *, now: datetime, since: datetime) -> JobStats:
        """Counts by queue and state, final states per minute since ``since``, and the
        ``run_at`` of the oldest due job still waiting."""
        ...

    async def notify_queues(self, *, queues: Sequence[str]) -> None:
        """Wake the workers of ``queues`` in other processes now (no-op without
        ``capabilities.listen_notify``)."""
        ...

    async def register_worker(
        self,
        *,
        worker_id: str,
        host: str,
        pid: int,
        queues: Sequence[str] | None,
        concurrency: int,
        now: datetime,
    ) -> None: ...

    async def heartbeat_worker(
        self,
        *,
        worker_id: str,
        executors: int,
        running: int,
        completed: int,
        state: str,
        now: datetime,
        metrics: str | None = None,
    ) -> None:
        """Record the worker's vital signs; ``state="stopped"`` on a clean exit.
        ``metrics`` is its ``Tally`` as JSON (``None`` keeps the last one written)."""
        ...

    async def queue_depths(self, *, now: datetime) -> list[QueueDepth]:
        """Open jobs (available, scheduled, running, retrying) by queue and state, read
        through indexes that leave out finished jobs."""
        ...

    async def worker_tallies(self) -> list[str]:
        """Every registered worker's last metrics JSON, and the totals of pruned ones."""
        ...

    async def list_workers(self, *, limit: int = 100) -> list[WorkerInfo]: ...

    async def mark_dead_workers(self, *, before: datetime, now: datetime) -> list[str]:
        """Mark live-looking workers whose last heartbeat is older than ``before`` dead."""
        ...

    async def prune_workers(self, *, before: datetime) -> int:
        """Forget stopped and dead workers that stopped before ``before``, folding their
        metrics into the totals in the same transaction."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[StoreTx]:
        """A transaction for a handler's own writes (see ``StoreTx``)."""
        ...

    async def listen(self, *, on_notify: Callable[[str], None]) -> Listener:
        """Call ``on_notify(queue)`` whenever another process enqueues runnable jobs.

        A backend without ``capabilities.listen_notify`` returns a listener that never
        fires: workers then rely on in-process wake-ups and polling.
        """
        ...

    async def prune_finished(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` final jobs finished before ``before``; returns how many."""
        ...

    # -- batches (store/batches.py) -----------------------------------------------------

    async def insert_batch(
        self, *, batch: NewBatch, jobs: Sequence[NewJob], now: datetime
    ) -> tuple[Batch, bool]:
        """Create a batch and its children (``jobs``, at least one, without idempotency
        keys) in one round trip; returns it and whether it is new (a taken batch key
        inserts nothing and returns the batch holding it)."""
        ...

    async def get_batch(self, *, batch_id: int) -> Batch:
        """Raises ``BatchNotFound``."""
        ...

    async def list_recent_batches(
        self, *, unfinished_only: bool, after: int | None, limit: int
    ) -> BatchPage:
        """Every batch (with ``unfinished_only``, those with pending children), newest
        first; ``after`` is the previous page's ``next_after``."""
        ...

    async def list_batches(self, *, parent_id: int) -> list[Batch]:
        """The batches the job ``parent_id`` created, oldest first."""
        ...

    async def list_batch_jobs(
        self, *, batch_id: int, states: Sequence[JobState] | None, after: int | None, limit: int
    ) -> Page:
        """A batch's children in creation order; ``next_after`` continues the listing."""
        ...

    async def cancel_batch(self, *, batch_id: int, now: datetime) -> list[int]:
        """Cancel the batch's unfinished children; returns their ids. Raises
        ``BatchNotFound``."""
        ...

    # -- flow control (conveyor.flow) ---------------------------------------------------

    async def rate_bucket(self, *, key: str) -> RateBucket | None:
        """The token bucket of a rate key, or ``None`` before its first token was taken."""
        ...

    async def running_with_key(self, *, key: str) -> list[int]:
        """The ids of the running jobs that hold a concurrency key."""
        ...

    # -- item ledger (store/items.py) ---------------------------------------------------

    async def record_items(self, *, marks: Sequence[ItemMark], now: datetime) -> None:
        """Upsert many item outcomes in one statement. ``done`` is final: recording the
        item again later changes nothing. Not fenced: an outcome is a fact about the item
        (a mail that went out), whoever holds the job's lease now."""
        ...

    async def done_item_keys(self, *, ledger: str, keys: Sequence[str] | None) -> set[str]:
        """The keys of ``ledger`` that are done (of ``keys`` only, when given)."""
        ...

    async def count_items(self, *, ledger: str) -> ItemCounts: ...

    async def list_items(
        self, *, ledger: str, outcome: ItemOutcome | None, after: str | None, limit: int
    ) -> ItemPage:
        """One page of a ledger's items in key order, optionally of one outcome."""
        ...


def bucket_from_row(row: Mapping[str, Any], decode_time: Callable[[Any], datetime]) -> RateBucket:
    return RateBucket(
        key=str(row["key"]),
        tokens=float(row["tokens"]),
        rate_per_second=float(row["rate_per_second"]),
        burst=float(row["burst"]),
        updated_at=decode_time(row["updated_at"]),
    )
