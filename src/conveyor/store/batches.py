"""Stored batches decoded from their rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from conveyor.batches import Batch

TimeDecoder = Callable[[Any], datetime]


def batch_from_row(row: Mapping[str, Any], decode_time: TimeDecoder) -> Batch:
    finished = row["finished_at"]
    callback_job = row["callback_job_id"]
    return Batch(
        id=int(row["id"]),
        parent_id=None if row["parent_id"] is None else int(row["parent_id"]),
        idempotency_key=row["idempotency_key"],
        total=int(row["total"]),
        pending=int(row["pending"]),
        completed=int(row["completed"]),
        failed=int(row["failed"]),
        cancelled=int(row["cancelled"]),
        callback_task=row["callback_task"],
        callback_job_id=None if callback_job is None else int(callback_job),
        created_at=decode_time(row["created_at"]),
        finished_at=None if finished is None else decode_time(finished),
    )
