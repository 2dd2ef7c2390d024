"""Batches as values: the batch to create with its callback, and the stored batch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Callback:
    """The job to enqueue once every child of a batch is final. Its payload is ``payload``
    plus ``batch_id``, ``parent_id``, ``total``, ``completed``, ``failed`` and
    ``cancelled``."""

    task: str
    queue: str
    payload: Mapping[str, Any]
    priority: int = 0
    max_attempts: int = 3
    timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class NewBatch:
    """A batch to create; its children are ``NewJob``s passed beside it.

    ``idempotency_key``: a batch that already holds the key is returned instead, and no
    child is inserted (a retried handler does not create its batch twice).
    """

    parent_id: int | None = None
    idempotency_key: str | None = None
    callback: Callback | None = None

    def params(self, total: int) -> dict[str, Any]:
        cb = self.callback
        return {
            "parent_id": self.parent_id,
            "idempotency_key": self.idempotency_key,
            "total": total,
            "callback_task": None if cb is None else cb.task,
            "callback_queue": None if cb is None else cb.queue,
            "callback_payload": None if cb is None else json.dumps(dict(cb.payload)),
            "callback_priority": None if cb is None else cb.priority,
            "callback_max_attempts": None if cb is None else cb.max_attempts,
            "callback_timeout_seconds": None if cb is None else cb.timeout_seconds,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of child jobs and its counters, which the database keeps in step with the
    children's states (a trigger, in the transaction that changes a child).

    ``pending`` children are not final yet; ``finished_at`` is set iff none is.
    ``callback_job_id`` is the callback job, once enqueued.
    """

    id: int
    parent_id: int | None
    idempotency_key: str | None
    total: int
    pending: int
    completed: int
    failed: int
    cancelled: int
    callback_task: str | None
    callback_job_id: int | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "idempotency_key": self.idempotency_key,
            "total": self.total,
            "pending": self.pending,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "progress": {"done": self.total - self.pending, "total": self.total},
            "callback_task": self.callback_task,
            "callback_job_id": self.callback_job_id,
            "created_at": self.created_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class BatchPage:
    """One page of batches, newest first; ``next_after`` continues it (``None``: last)."""

    batches: list[Batch]
    next_after: int | None
