"""The batch insert plan shared by both stores and by transactional enqueue."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, LiteralString

from conveyor.bulk import build_many, collector_paused, fill
from conveyor.errors import PayloadInvalid
from conveyor.job import Job, JobState
from conveyor.store.base import Inserted, NewJob, SqlStatement

RowParser = Callable[[Mapping[str, Any]], Job]
TimeEncoder = Callable[[datetime], Any]


class BatchInsertPlan:
    """Inserts a batch in one statement; a second one fetches the holders of taken keys.
    Where the insert statement cannot count what it inserted (SQLite), ``tally`` is one
    more statement that does, in the same transaction.

    Pairing rows back to the request relies on two facts: keyed rows are matched by
    ``(task, idempotency_key)``, and unkeyed rows receive ids in input order because the
    insert reads its input ``ORDER BY`` position. A batch without keys (the common bulk
    enqueue) takes ``unkeyed_sql``: nothing can conflict, and only its ids come back.
    """

    def __init__(
        self,
        *,
        jobs: Sequence[NewJob],
        now: datetime,
        insert_sql: LiteralString,
        unkeyed_sql: LiteralString,
        existing_sql: LiteralString,
        encode_time: TimeEncoder,
        parse_row: RowParser,
        tally_sql: LiteralString | None = None,
    ) -> None:
        self._jobs = list(jobs)
        self._now = now
        self._is_keyed = any(job.idempotency_key is not None for job in self._jobs)
        self._insert_sql = insert_sql if self._is_keyed else unkeyed_sql
        self._existing_sql = existing_sql
        self._encode_time = encode_time
        self._parse_row = parse_row
        self._tally_sql = tally_sql
        self._prepared: tuple[list[Job], list[Inserted]] | None = None

    @property
    def keyed(self) -> bool:
        """Whether any job has an idempotency key: only then can ``existing`` return a
        statement, and only then does it read the inserted rows."""
        return self._is_keyed

    def prepare(self) -> None:
        """Build what ``finish`` returns for a batch without idempotency keys, all but the
        ids: a store that has sent the batch builds it while the database inserts."""
        if not self._is_keyed:
            with collector_paused():
                self._unkeyed_outcome()

    def _unkeyed_outcome(self) -> tuple[list[Job], list[Inserted]]:
        if self._prepared is None:
            made = created_jobs(self._jobs, None, self._now)
            out = build_many(Inserted, len(made), each={"job": made}, shared={"created": True})
            self._prepared = made, out
        return self._prepared

    def insert(self) -> SqlStatement:
        with collector_paused():
            params = insert_params(self._jobs, self._now, self._encode_time)
        return SqlStatement(self._insert_sql, params)

    def existing(self, inserted_rows: Sequence[Mapping[str, Any]]) -> SqlStatement | None:
        if not self._is_keyed:
            return None
        wanted = {(j.task, j.idempotency_key) for j in self._jobs if j.idempotency_key}
        missing = wanted - {(task, key) for _, task, key in inserted(inserted_rows)}
        if not missing:
            return None
        keys = [{"task": task, "key": key} for task, key in sorted(missing)]
        return SqlStatement(self._existing_sql, {"keys": json.dumps(keys)})

    def tally(self, inserted_rows: Sequence[Mapping[str, Any]]) -> SqlStatement | None:
        """The statement that counts the jobs the insert created in the enqueue tally, or
        ``None`` when the insert statement counted them itself (PostgreSQL) or created none."""
        if self._tally_sql is None:
            return None
        created = self._jobs if not self._is_keyed else self._created(inserted_rows)
        if not created:
            return None
        return SqlStatement(self._tally_sql, {"counts": enqueue_counts(created)})

    def _created(self, inserted_rows: Sequence[Mapping[str, Any]]) -> list[NewJob]:
        """The requested jobs the insert created: every unkeyed one, and the first job of
        each key the insert returned (a key given twice in one batch creates one job)."""
        new_keys = {(task, key) for _, task, key in inserted(inserted_rows) if key is not None}
        created: list[NewJob] = []
        for job in self._jobs:
            key = (job.task, job.idempotency_key)
            if job.idempotency_key is None:
                created.append(job)
            elif key in new_keys:
                new_keys.discard(key)
                created.append(job)
        return created

    def finish(
        self,
        inserted_rows: Sequence[Mapping[str, Any]],
        existing_rows: Sequence[Mapping[str, Any]],
    ) -> list[Inserted]:
        if not self._is_keyed:
            # No keys (the common bulk enqueue): ids pair with the jobs in input order.
            made, out = self._unkeyed_outcome()
            fill(made, "id", inserted_ids(inserted_rows))
            return out
        rows = inserted(inserted_rows)
        new_ids = {(task, key): job_id for job_id, task, key in rows if key is not None}
        unkeyed = iter([job_id for job_id, _, key in rows if key is None])
        old_by_key = {
            (j.task, j.idempotency_key): j
            for j in map(self._parse_row, existing_rows)
            if j.idempotency_key
        }
        creators: list[NewJob] = []
        ids: list[int] = []
        first: dict[tuple[str, str], int] = {}
        picks: list[tuple[int | Job, bool]] = []  # a created job's index, or the holder
        for job in self._jobs:
            if job.idempotency_key is None:
                picks.append((len(creators), True))
                creators.append(job)
                ids.append(next(unkeyed))
                continue
            key = (job.task, job.idempotency_key)
            if key in first:  # the same key twice in one batch: the first one created it
                picks.append((first[key], False))
            elif key in new_ids:
                first[key] = len(creators)
                picks.append((len(creators), True))
                creators.append(job)
                ids.append(new_ids[key])
            else:
                picks.append((old_by_key[key], False))
        made = created_jobs(creators, ids, self._now)
        return [
            Inserted(made[pick] if isinstance(pick, int) else pick, created=created)
            for pick, created in picks
        ]


def inserted(rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str | None, str | None]]:
    """``(id, task, idempotency_key)`` of each row insert statements created, by id.

    PostgreSQL returns them as three arrays in one row per statement, already in id
    order (a batch sent in chunks has one such row per chunk, in order): 10,000 rows cost
    its backend and psycopg's row factory more than the arrays do. SQLite cannot aggregate
    what an INSERT returns, so it returns one row per job, in no set order. An unkeyed
    insert returns ids only: its task and key read as ``None``.
    """
    if rows and "ids" in rows[0]:
        triples: list[tuple[int, str | None, str | None]] = []
        for row in rows:
            ids = row["ids"] or []
            if "tasks" not in row:
                triples.extend(zip(ids, repeat(None), repeat(None)))
                continue
            columns = (ids, row["tasks"] or [], row["idempotency_keys"] or [])
            triples.extend(zip(*columns, strict=True))
        return triples
    triples = [(int(r["id"]), r.get("task"), r.get("idempotency_key")) for r in rows]
    return sorted(triples, key=itemgetter(0))


def enqueue_counts(jobs: Iterable[NewJob]) -> str:
    """How many of ``jobs`` each (task, queue) has, as the JSON array of ``{task, queue,
    count}`` that a tally statement reads."""
    return _counts_json(Counter((job.task, job.queue) for job in jobs))


def enqueue_counts_of(rows: Iterable[Mapping[str, Any]]) -> str:
    """``enqueue_counts`` of inserted rows that carry their ``task`` and ``queue``."""
    return _counts_json(Counter((str(row["task"]), str(row["queue"])) for row in rows))


def _counts_json(counts: Counter[tuple[str, str]]) -> str:
    rows = [{"task": t, "queue": q, "count": n} for (t, q), n in sorted(counts.items())]
    return json.dumps(rows, separators=(",", ":"))


def inserted_ids(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """The ids an unkeyed insert created, in input order (the form of ``inserted``)."""
    if rows and "ids" in rows[0]:
        return [job_id for row in rows for job_id in row["ids"] or []]
    return sorted(int(row["id"]) for row in rows)


def created_jobs(jobs: Sequence[NewJob], ids: Sequence[int] | None, now: datetime) -> list[Job]:
    """The jobs that inserting ``jobs`` stored under ``ids``, as the store would read
    them back: built from the request, since decoding every column just written back
    out of the rows cost more than the insert itself. With ``ids=None`` every id is 0,
    to be filled in (``bulk.fill``) once the ids are known."""
    each: dict[str, Sequence[Any]] = {
        "payload": [dict(job.payload) for job in jobs],
        **{name: list(map(attrgetter(name), jobs)) for name in _COPIED},
    }
    shared: dict[str, Any] = {"attempt": 0, "created_at": now.astimezone(UTC)}
    if ids is None:
        shared["id"] = 0
    else:
        each["id"] = ids
    run_ats = [job.run_at for job in jobs]
    if run_ats and run_ats.count(run_ats[0]) == len(run_ats):  # one enqueue_many
        shared |= {"run_at": run_ats[0].astimezone(UTC), "state": _state(run_ats[0], now)}
    else:
        each |= {
            "run_at": [moment.astimezone(UTC) for moment in run_ats],
            "state": [_state(moment, now) for moment in run_ats],
        }
    return build_many(Job, len(jobs), each=each, shared=shared)


# The fields a created job takes from its NewJob as they are.
_COPIED = (
    "task",
    "queue",
    "priority",
    "max_attempts",
    "idempotency_key",
    "rerun_of",
    "timeout_seconds",
    "concurrency_key",
    "concurrency_limit",
    "rate_key",
    "fairness_key",
    "traceparent",
)


def insert_params(
    jobs: Sequence[NewJob], now: datetime, encode_time: TimeEncoder
) -> dict[str, Any]:
    """The batch as the insert statements read it, in input order.

    A column whose value every job shares (the task, queue, run_at... of one
    ``enqueue_many``) is the one parameter ``shared_<column>``; ``rows`` is a JSON array
    with one object per job holding its payload and only the columns that differ; the
    statements fill a missing column from its shared parameter. A full record per job
    costs PostgreSQL more CPU than this form, and typed array parameters (``unnest``)
    cost the client more: psycopg adapts list elements one by one in Python
    (docs/benchmarks.md).
    """
    payloads = [dict(job.payload) for job in jobs]
    params: dict[str, Any] = {"now": encode_time(now)}
    varying: list[str] = []
    columns: list[list[Any]] = []
    for name, values in _columns(jobs, now, encode_time):
        if values.count(values[0]) == len(values):
            params[f"shared_{name}"] = values[0]
        else:
            params[f"shared_{name}"] = None
            varying.append(name)
            columns.append(values)
    if varying:
        names = ("payload", *varying)
        rows = [dict(zip(names, row, strict=True)) for row in zip(payloads, *columns, strict=True)]
    else:
        rows = [{"payload": payload} for payload in payloads]
    text = json.dumps(rows, separators=(",", ":"))
    # Rare: look for the culprit only then, not per job.
    if "\\u0000" in text or any(isinstance(v, str) and "\x00" in v for v in params.values()):
        refuse_nul(jobs)
    params["rows"] = text
    return params


def _columns(
    jobs: Sequence[NewJob], now: datetime, encode_time: TimeEncoder
) -> list[tuple[str, list[Any]]]:
    run_ats = [job.run_at for job in jobs]
    if run_ats.count(run_ats[0]) == len(run_ats):  # one enqueue_many: encode it once
        times = [encode_time(run_ats[0])] * len(jobs)
        states = [_state(run_ats[0], now).value] * len(jobs)
    else:
        times = [encode_time(moment) for moment in run_ats]
        states = [_state(moment, now).value for moment in run_ats]
    return [
        ("task", [job.task for job in jobs]),
        ("queue", [job.queue for job in jobs]),
        ("state", states),
        ("priority", [job.priority for job in jobs]),
        ("max_attempts", [job.max_attempts for job in jobs]),
        ("run_at", times),
        ("idempotency_key", [job.idempotency_key for job in jobs]),
        ("timeout_seconds", [job.timeout_seconds for job in jobs]),
        ("rerun_of", [job.rerun_of for job in jobs]),
        ("concurrency_key", [job.concurrency_key for job in jobs]),
        ("concurrency_limit", [job.concurrency_limit for job in jobs]),
        ("rate_key", [job.rate_key for job in jobs]),
        ("rate_per_second", [job.rate_per_second for job in jobs]),
        ("rate_burst", [job.rate_burst for job in jobs]),
        ("fairness_key", [job.fairness_key for job in jobs]),
        ("traceparent", [job.traceparent for job in jobs]),
    ]


def _state(run_at: datetime, now: datetime) -> JobState:
    return JobState.SCHEDULED if run_at > now else JobState.AVAILABLE


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
