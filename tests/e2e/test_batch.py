"""A batch of 1,000 children over two worker processes: exactly one callback, right counts."""

from __future__ import annotations

import pytest

from conveyor import JobState
from tests.e2e.flow_apps import Child, build, two_workers
from tests.e2e.processes import eventually, opened
from tests.store.helpers import raw_execute

pytestmark = pytest.mark.slow


async def test_a_batch_over_two_processes_calls_back_exactly_once(store_url: str) -> None:
    async with opened(build(store_url)) as app:
        raw_execute(
            store_url,
            "CREATE TABLE e2e_callbacks (batch_id integer, completed integer, "
            "failed integer, cancelled integer)",
        )
        # SQLite workers of other processes see an enqueue only when they poll, and one
        # process can drain the whole batch within the default 1 s poll: poll often, so
        # that both processes take part, as the test means them to.
        poll = ("--poll-interval", "0.02")
        async with two_workers(app, store_url, "--concurrency", "20", *poll):
            batch = await app.enqueue_batch(
                "flow.child",
                [Child(n=n) for n in range(1000)],
                callback="flow.tally",
                callback_payload={"label": "campaign"},
            )

            async def called_back() -> bool:
                return bool(raw_execute(store_url, "SELECT batch_id FROM e2e_callbacks"))

            await eventually(called_back, timeout=120)

        failing = len(range(0, 1000, 7))
        rows = raw_execute(
            store_url, "SELECT batch_id, completed, failed, cancelled FROM e2e_callbacks"
        )
        assert rows == [(batch.id, 1000 - failing, failing, 0)]
        done = await app.get_batch(batch.id)
        assert (done.pending, done.completed, done.failed) == (0, 1000 - failing, failing)
        callbacks = (await app.list_jobs(task="flow.tally")).jobs
        assert [(j.id, j.state) for j in callbacks] == [(done.callback_job_id, JobState.COMPLETED)]
        children = (await app.batch_jobs(batch.id, limit=1000)).jobs
        assert len(children) == 1000
        assert len({j.worker_id for j in children}) == 2  # both processes took part
