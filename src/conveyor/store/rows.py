"""Turning rows, as any DB-API driver returns them, into the store's domain dataclasses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from conveyor.bulk import build_many
from conveyor.job import Job, JobError, JobState, Progress, ScheduledFrom
from conveyor.queue import QueueInfo
from conveyor.schedule import CatchUp, ScheduleInfo, ScheduleSpec
from conveyor.stats import QueueDepth, WorkerInfo

TimeDecoder = Callable[[Any], datetime]


_decode = json.JSONDecoder().decode  # json.loads without its per-call keyword handling
_STATES = {state.value: state for state in JobState}


def decode_json(value: Any) -> Any:
    """JSON columns arrive as text from both stores' own queries (the PostgreSQL store reads
    jsonb as text for this); an application's psycopg connection may hand them decoded."""
    if isinstance(value, str):
        return _decode(value)
    if isinstance(value, bytes | bytearray):
        return json.loads(value)
    return value


def decode_json_column(values: Sequence[Any]) -> list[Any]:
    """``decode_json`` of each value. A column of JSON texts, as a claim returns its
    payloads, is parsed as one JSON array: one parser call for a claim's hundred payloads
    instead of a hundred. Each text is a whole JSON value, as
    the database checked when it was stored, so joined with commas they make an array of
    exactly those values."""
    if not all(isinstance(value, str) for value in values):
        return [decode_json(value) for value in values]
    return _decode("[" + ",".join(values) + "]") if values else []


def _errors(value: Any) -> tuple[JobError, ...]:
    if value is None or value == "[]":  # the common case: no attempt has failed yet
        return ()
    return tuple(JobError.from_json(e) for e in decode_json(value) or ())


@dataclass(frozen=True, slots=True)
class ClaimStamp:
    """What a claim wrote into every job it took, known before the rows come back: their
    state is ``running``, and these are the start, lease expiry and worker the claim set."""

    started_at: datetime
    lease_expires_at: datetime
    worker_id: str


def job_from_row(
    row: Mapping[str, Any], decode_time: TimeDecoder, claim: ClaimStamp | None = None
) -> Job:
    """The job a row holds. For rows a claim returned, ``claim`` supplies the columns the
    claim itself set, which the claim statements therefore do not read back."""

    def when(name: str) -> datetime | None:
        value = row[name]
        return None if value is None else decode_time(value)

    if claim is None:
        state = _STATES[row["state"]]
        started_at, finished_at = when("started_at"), when("finished_at")
        lease_expires_at, worker_id = when("lease_expires_at"), row["worker_id"]
    else:
        state, started_at, finished_at = JobState.RUNNING, claim.started_at, None
        lease_expires_at, worker_id = claim.lease_expires_at, claim.worker_id
    token = row["lease_token"]
    return Job(
        id=int(row["id"]),
        task=str(row["task"]),
        queue=str(row["queue"]),
        state=state,
        payload=decode_json(row["payload"]),
        priority=int(row["priority"]),
        attempt=int(row["attempt"]),
        max_attempts=int(row["max_attempts"]),
        run_at=decode_time(row["run_at"]),
        created_at=decode_time(row["created_at"]),
        started_at=started_at,
        finished_at=finished_at,
        progress=_progress(row),
        result=None if row["result"] is None else decode_json(row["result"]),
        errors=_errors(row["errors"]),
        checkpoint=None if row["checkpoint"] is None else decode_json(row["checkpoint"]),
        idempotency_key=row["idempotency_key"],
        rerun_of=row["rerun_of"],
        timeout_seconds=row["timeout_seconds"],
        lease_token=None if token is None else str(token),
        lease_expires_at=lease_expires_at,
        worker_id=worker_id,
        # .get: rows of a database not yet migrated to 0004 lack the column.
        batch_id=row.get("batch_id"),
        concurrency_key=row.get("concurrency_key"),
        concurrency_limit=row.get("concurrency_limit"),
        rate_key=row.get("rate_key"),
        fairness_key=row.get("fairness_key"),
        traceparent=row.get("traceparent"),
        schedule=_scheduled_from(row, decode_time),
    )


def claimed_jobs_from_columns(
    columns: Mapping[str, Sequence[Any]], decode_time: TimeDecoder, claim: ClaimStamp
) -> list[Job]:
    """The jobs a claim returned, from its rows' values column by column, in claim order
    (priority, run_at, id); each equal to ``job_from_row(row, decode_time, claim)``.

    Built column by column (``conveyor.bulk``): a claim returns up to a hundred rows at a
    time on the worker's hot path, and a row at a time through the frozen dataclass's
    ``__init__`` was a fifth of a no-op job's worker CPU. A column that is empty in every
    row (most optional ones, most of the time) is one shared ``None``.
    """
    count = len(columns["id"])
    if not count:
        return []
    run_at = [decode_time(value) for value in columns["run_at"]]
    priority, ids = columns["priority"], columns["id"]
    order = sorted(range(count), key=lambda i: (priority[i], run_at[i], ids[i]))
    if order != list(range(count)):
        columns = {name: [values[i] for i in order] for name, values in columns.items()}
        run_at = [run_at[i] for i in order]
    each: dict[str, Sequence[Any]] = {"run_at": run_at}
    shared: dict[str, Any] = {
        "state": JobState.RUNNING,
        "started_at": claim.started_at,
        "finished_at": None,
        "lease_expires_at": claim.lease_expires_at,
        "worker_id": claim.worker_id,
    }
    for name in _CLAIM_PLAIN_COLUMNS:
        each[name] = columns[name]
    each["payload"] = decode_json_column(columns["payload"])
    each["created_at"] = [decode_time(value) for value in columns["created_at"]]
    each["lease_token"] = [str(value) for value in columns["lease_token"]]
    for name in _CLAIM_OPTIONAL_COLUMNS:
        values = columns.get(name, ())  # see job_from_row: older schemas lack some columns
        if values.count(None) == len(values):
            shared[name] = None
        elif name in _CLAIM_JSON_COLUMNS:
            each[name] = [None if value is None else decode_json(value) for value in values]
        else:
            each[name] = values
    errors = columns["errors"]
    if any(value is not None and value != "[]" for value in errors):
        each["errors"] = [_errors(value) for value in errors]
    else:
        shared["errors"] = ()
    done = columns["progress_done"]
    if done.count(None) != count:
        totals = columns["progress_total"]
        each["progress"] = [
            None if d is None else Progress(int(d), t) for d, t in zip(done, totals, strict=True)
        ]
    else:
        shared["progress"] = None
    names = columns.get("schedule_name", ())
    if names.count(None) != len(names):
        rows = [
            dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
        each["schedule"] = [_scheduled_from(row, decode_time) for row in rows]
    else:
        shared["schedule"] = None
    return build_many(Job, count, each=each, shared=shared)


# Columns a claim returns that go into the Job as they are, and the optional ones, often
# empty in every row (``.get``: see job_from_row); of those, the JSON ones need decoding.
_CLAIM_PLAIN_COLUMNS = ("id", "task", "queue", "priority", "attempt", "max_attempts")
_CLAIM_OPTIONAL_COLUMNS = (
    "result",
    "checkpoint",
    "idempotency_key",
    "rerun_of",
    "timeout_seconds",
    "batch_id",
    "concurrency_key",
    "concurrency_limit",
    "rate_key",
    "fairness_key",
    "traceparent",
)
_CLAIM_JSON_COLUMNS = frozenset({"result", "checkpoint"})


def _progress(row: Mapping[str, Any]) -> Progress | None:
    done = row["progress_done"]
    return None if done is None else Progress(int(done), row["progress_total"])


def _scheduled_from(row: Mapping[str, Any], decode_time: TimeDecoder) -> ScheduledFrom | None:
    # .get: rows from an application connection on an older schema lack the columns.
    name = row.get("schedule_name")
    if name is None:
        return None
    return ScheduledFrom(
        str(name), decode_time(row["schedule_fire_at"]), row.get("schedule_tenant")
    )


def depth_from_row(row: Mapping[str, Any], decode_time: TimeDecoder) -> QueueDepth:
    oldest = row["oldest_due"]
    return QueueDepth(
        queue=str(row["queue"]),
        state=str(row["state"]),
        count=int(row["count"]),
        oldest_due=None if oldest is None else decode_time(oldest),
    )


def worker_from_row(row: Mapping[str, Any], decode_time: TimeDecoder) -> WorkerInfo:
    queues = None if row["queues"] is None else decode_json(row["queues"])
    stopped = row["stopped_at"]
    return WorkerInfo(
        id=str(row["id"]),
        host=str(row["host"]),
        pid=int(row["pid"]),
        queues=None if queues is None else [str(q) for q in queues],
        concurrency=int(row["concurrency"]),
        executors=int(row["executors"]),
        running=int(row["running"]),
        completed=int(row["completed"]),
        state=str(row["state"]),
        started_at=decode_time(row["started_at"]),
        last_heartbeat_at=decode_time(row["last_heartbeat_at"]),
        stopped_at=None if stopped is None else decode_time(stopped),
    )


def schedule_from_row(row: Mapping[str, Any], decode_time: TimeDecoder) -> ScheduleInfo:
    """A schedules row joined with its last fire (``list_schedules``) as a ``ScheduleInfo``."""

    def when(name: str) -> datetime | None:
        value = row.get(name)
        return None if value is None else decode_time(value)

    every = row["every_seconds"]
    state = row.get("last_job_state")
    job_id = row.get("last_job_id")
    spec = ScheduleSpec(
        name=str(row["name"]),
        task=str(row["task"]),
        cron=row["cron"],
        timezone=str(row["timezone"]),
        every=None if every is None else timedelta(seconds=float(every)),
        anchor_at=when("anchor_at"),
        payload=decode_json(row["payload"]),
        queue=row["queue"],
        priority=row["priority"],
        catch_up=CatchUp(row["catch_up"]),
        allow_overlap=bool(row["allow_overlap"]),
        run_on_startup=bool(row["run_on_startup"]),
        per_tenant=bool(row["per_tenant"]),
        source=str(row["source"]),
    )
    return ScheduleInfo(
        spec=spec,
        paused=bool(row["paused"]),
        created_at=decode_time(row["created_at"]),
        updated_at=decode_time(row["updated_at"]),
        last_fire_at=when("last_fire_at"),
        last_job_id=None if job_id is None else int(job_id),
        last_job_state=None if state is None else JobState(state),
        startup_fired_at=when("startup_fired_at"),
    )


def queues_from_rows(
    rows: Sequence[Mapping[str, Any]], decode_time: TimeDecoder, now: datetime
) -> list[QueueInfo]:
    """``list_queues`` rows as ``QueueInfo``, sorted by name (code point order on both stores)."""

    def one(row: Mapping[str, Any]) -> QueueInfo:
        paused_at, oldest = row["paused_at"], row["oldest_waiting_run_at"]
        return QueueInfo(
            name=str(row["name"]),
            paused=bool(row["paused"]),
            paused_at=None if paused_at is None else decode_time(paused_at),
            available=int(row["available"]),
            scheduled=int(row["scheduled"]),
            running=int(row["running"]),
            retrying=int(row["retrying"]),
            failed=int(row["failed"]),
            oldest_waiting_age=None
            if oldest is None
            else max(now - decode_time(oldest), timedelta(0)),
        )

    return sorted(map(one, rows), key=lambda queue: queue.name)
