"""The item ledger across a SIGKILL: the rescued attempt skips done items, so each item's
effect happens exactly once."""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from conveyor import JobState
from tests.e2e.flow_apps import Items, build, start_worker
from tests.e2e.processes import eventually, opened, stop
from tests.store.helpers import raw_execute

pytestmark = pytest.mark.slow


async def test_a_rescued_run_skips_done_items_and_writes_each_item_once(store_url: str) -> None:
    async with opened(build(store_url)) as app:
        raw_execute(store_url, "CREATE TABLE e2e_items (item integer NOT NULL, attempt integer)")
        job = await app.enqueue("flow.write_items", Items(count=500, chunk=10, pause=0.03))
        doomed = start_worker(store_url, lease_ttl=1.0)
        try:

            async def half_done() -> bool:
                counts, _ = await app.job_items(job.id)
                return counts.done >= 250

            await eventually(half_done)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
        finally:
            stop(doomed)
        counts, _ = await app.job_items(job.id)
        assert 250 <= counts.done < 500  # killed half-way

        survivor = start_worker(store_url, lease_ttl=1.0)
        try:

            async def completed() -> bool:
                return (await app.get_job(job.id)).state is JobState.COMPLETED

            await eventually(completed, timeout=60)
        finally:
            stop(survivor)

        done = await app.get_job(job.id)
        rows = raw_execute(store_url, "SELECT item, attempt FROM e2e_items")
        per_item = Counter(item for item, _ in rows)
        assert sorted(per_item) == list(range(500))
        assert set(per_item.values()) == {1}  # every effect exactly once
        assert done.attempt == 2
        assert done.result == 500 - counts.done  # the second attempt skipped the done ones
        assert {a for _, a in rows} == {1, 2}
        final, _ = await app.job_items(job.id)
        assert (final.done, final.failed, final.skipped) == (500, 0, 0)
