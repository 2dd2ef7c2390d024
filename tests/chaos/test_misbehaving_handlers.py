"""Handlers that misbehave: one that blocks the event loop past its lease, and ones that
return values no database can store. Neither may cost another job, or run a job twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor import JobState
from tests.chaos.apps import LEDGER_TABLE, Poison, Work, build
from tests.chaos.conftest import Report
from tests.chaos.drain import log_dir
from tests.chaos.support import (
    all_final,
    count_in,
    eventually,
    runs_per_job,
    scale,
    start_worker,
    stop,
)
from tests.store.helpers import raw_execute

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
BLOCKED_TASK = "chaos.sleeps_in_the_loop"


async def test_a_handler_blocking_the_loop_past_its_lease_runs_once_and_is_named(
    store_url: str, tmp_path: Path, chaos_report: Report
) -> None:
    raw_execute(store_url, LEDGER_TABLE)
    logs = log_dir(tmp_path)
    ttl = 2.0
    workers = [start_worker(store_url, logs / f"w{i}.log", lease_ttl=ttl) for i in range(2)]
    app = build(store_url)
    try:
        jobs = await app.enqueue_many(
            BLOCKED_TASK, [Work(n=i, seconds=2.5 * ttl) for i in range(scale(1, 3))]
        )
        ids = [job.id for job in jobs]

        async def settled_or_twice() -> bool:
            runs = runs_per_job(store_url)
            if any(runs[i] > 1 for i in ids):
                return True
            return await all_final(app, ids)

        await eventually(settled_or_twice, timeout=120, what="the blocking jobs settled")
        runs = runs_per_job(store_url)
        final = [await app.get_job(i) for i in ids]
    finally:
        codes = [stop(worker) for worker in workers]
        await app.close()
    log_lines = [
        line
        for log in logs.iterdir()
        for line in log.read_text(errors="replace").splitlines()
        if BLOCKED_TASK in line and "block" in line.replace(BLOCKED_TASK, "").lower()
    ]
    chaos_report(
        jobs=len(ids),
        blocked_s=2.5 * ttl,
        lease_ttl_s=ttl,
        ran_twice=sum(1 for i in ids if runs[i] > 1),
        not_completed=sum(1 for j in final if j.state is not JobState.COMPLETED),
        blocked_loop_logged=len(log_lines),
    )
    assert all(runs[i] == 1 for i in ids), dict(runs)
    assert all(j.state is JobState.COMPLETED and j.attempt == 1 for j in final)
    assert log_lines, "no log line names the task that blocked the loop"
    assert codes == [0, 0]


POISON_KINDS = ("nan", "infinity", "surrogate", "nested_nan")


async def test_unstorable_results_fail_their_own_jobs_and_hold_up_no_other(
    store_url: str, tmp_path: Path, chaos_report: Report
) -> None:
    raw_execute(store_url, LEDGER_TABLE)
    app = build(store_url)
    worker = start_worker(store_url, log_dir(tmp_path) / "w.log", "--concurrency", "20")
    try:
        good = await app.enqueue_many("chaos.counted", [Work(n=i) for i in range(50)])
        poison = [await app.enqueue("chaos.poison", Poison(kind=k)) for k in POISON_KINDS]
        good += await app.enqueue_many("chaos.counted", [Work(n=i) for i in range(50, 100)])
        ids = [job.id for job in good + poison]

        async def all_settled() -> bool:
            return await count_in(app, JobState.COMPLETED, JobState.FAILED) == len(ids)

        # A hang guard: it counts the worker process's start too, slow on a busy machine.
        await eventually(all_settled, timeout=60, what="every job final")
        # Whatever was stored must read back, one by one and in a listing.
        poisoned = [await app.get_job(job.id) for job in poison]
        listed = (await app.list_jobs(limit=500)).jobs
    finally:
        code = stop(worker)
        await app.close()
    runs = runs_per_job(store_url)
    chaos_report(
        good_jobs=len(good),
        poison_jobs=len(poison),
        poison_states=",".join(j.state.value for j in poisoned),
        lost=sum(1 for job in good if runs[job.id] == 0),
    )
    assert {j.id for j in listed} == set(ids)
    assert all(runs[job.id] == 1 for job in good)
    for job in poisoned:
        # Stored as it was (where the database can), or failed with a reason, never stuck.
        assert job.state is JobState.COMPLETED or (
            job.state is JobState.FAILED and job.errors and job.errors[-1].message
        ), job
    assert code == 0
