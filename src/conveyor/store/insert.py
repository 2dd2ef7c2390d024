"""The batch insert plan shared by both stores and by transactional enqueue."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, LiteralString

from conveyor.errors import PayloadInvalid
from conveyor.job import Job, JobState
from conveyor.store.base import Inserted, NewJob, SqlStatement

RowParser = Callable[[Mapping[str, Any]], Job]
TimeEncoder = Callable[[datetime], Any]


class BatchInsertPlan:
    """Inserts a batch in one statement; a second one fetches the holders of taken keys.

    Pairing rows back to the request relies on two facts: keyed rows are matched by
    ``(task, idempotency_key)``, and unkeyed rows receive ids in input order because the
    insert reads its input ``ORDER BY`` position.
    """

    def __init__(
        self,
        *,
        jobs: Sequence[NewJob],
        now: datetime,
        insert_sql: LiteralString,
        existing_sql: LiteralString,
        encode_time: TimeEncoder,
        parse_row: RowParser,
    ) -> None:
        self._jobs = list(jobs)
        self._now = now
        self._insert_sql = insert_sql
        self._existing_sql = existing_sql
        self._encode_time = encode_time
        self._parse_row = parse_row

    def insert(self) -> SqlStatement:
        return SqlStatement(
            self._insert_sql,
            {
                "jobs": jobs_json(self._jobs, self._now, self._encode_time),
                "now": self._encode_time(self._now),
            },
        )

    def existing(self, inserted_rows: Sequence[Mapping[str, Any]]) -> SqlStatement | None:
        taken = {(str(row["task"]), row["idempotency_key"]) for row in inserted_rows}
        missing = {
            (job.task, job.idempotency_key)
            for job in self._jobs
            if job.idempotency_key is not None and (job.task, job.idempotency_key) not in taken
        }
        if not missing:
            return None
        keys = [{"task": task, "key": key} for task, key in sorted(missing)]
        return SqlStatement(self._existing_sql, {"keys": json.dumps(keys)})

    def finish(
        self,
        inserted_rows: Sequence[Mapping[str, Any]],
        existing_rows: Sequence[Mapping[str, Any]],
    ) -> list[Inserted]:
        # A created job is built from its request and the id the store gave it: decoding
        # every column it just wrote back out of the rows cost more than the insert itself.
        rows = sorted(inserted_rows, key=lambda row: int(row["id"]))
        new_ids = {
            (str(row["task"]), row["idempotency_key"]): int(row["id"])
            for row in rows
            if row["idempotency_key"] is not None
        }
        unkeyed = iter([int(row["id"]) for row in rows if row["idempotency_key"] is None])
        old_by_key = {
            (j.task, j.idempotency_key): j
            for j in map(self._parse_row, existing_rows)
            if j.idempotency_key
        }
        outcome: list[Inserted] = []
        created: dict[tuple[str, str], Job] = {}
        for job in self._jobs:
            if job.idempotency_key is None:
                outcome.append(Inserted(created_job(job, next(unkeyed), self._now), created=True))
                continue
            key = (job.task, job.idempotency_key)
            if key in created:  # the same key twice in one batch: the first one created it
                outcome.append(Inserted(created[key], created=False))
            elif key in new_ids:
                created[key] = created_job(job, new_ids[key], self._now)
                outcome.append(Inserted(created[key], created=True))
            else:
                outcome.append(Inserted(old_by_key[key], created=False))
        return outcome


def created_job(job: NewJob, job_id: int, now: datetime) -> Job:
    """The job a successful insert of ``job`` stored, as the store would read it back."""
    return Job(
        id=job_id,
        task=job.task,
        queue=job.queue,
        state=JobState.SCHEDULED if job.run_at > now else JobState.AVAILABLE,
        payload=dict(job.payload),
        priority=job.priority,
        attempt=0,
        max_attempts=job.max_attempts,
        run_at=job.run_at.astimezone(UTC),
        created_at=now.astimezone(UTC),
        idempotency_key=job.idempotency_key,
        rerun_of=job.rerun_of,
        timeout_seconds=job.timeout_seconds,
        concurrency_key=job.concurrency_key,
        concurrency_limit=job.concurrency_limit,
        rate_key=job.rate_key,
        fairness_key=job.fairness_key,
    )


def jobs_json(jobs: Sequence[NewJob], now: datetime, encode_time: TimeEncoder) -> str:
    """The jobs as the one JSON array the insert statements read, in input order."""
    records = [
        {
            "ord": index,
            "task": job.task,
            "queue": job.queue,
            "state": (JobState.SCHEDULED if job.run_at > now else JobState.AVAILABLE).value,
            "payload": dict(job.payload),
            "priority": job.priority,
            "max_attempts": job.max_attempts,
            "run_at": encode_time(job.run_at),
            "idempotency_key": job.idempotency_key,
            "timeout_seconds": job.timeout_seconds,
            "rerun_of": job.rerun_of,
            "concurrency_key": job.concurrency_key,
            "concurrency_limit": job.concurrency_limit,
            "rate_key": job.rate_key,
            "rate_per_second": job.rate_per_second,
            "rate_burst": job.rate_burst,
            "fairness_key": job.fairness_key,
        }
        for index, job in enumerate(jobs)
    ]
    text = json.dumps(records, separators=(",", ":"))
    if "\\u0000" in text:  # rare: look for the culprit only then, not per job
        refuse_nul(jobs)
    return text


def refuse_nul(jobs: Sequence[NewJob]) -> None:
    """PostgreSQL cannot store NUL in text or jsonb; both stores refuse it alike, before
    anything is written. Queue names and keys are checked where they are given."""
    for job in jobs:
        if "\\u0000" in json.dumps(dict(job.payload)):
            raise PayloadInvalid(job.task, [_NUL_ERROR])
    raise PayloadInvalid(jobs[0].task, [{**_NUL_ERROR, "loc": ["(a flow key)"]}])


_NUL_ERROR: dict[str, Any] = {
    "loc": [],
    "msg": "strings must not contain NUL characters",
    "type": "nul",
}
