"""The crash-test harness catches a handler that is not safe to retry, and passes one that is."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor import Job
from conveyor.testing import PointKind, crashtest
from tests.crashtest.apps import Credit, build
from tests.e2e.processes import opened
from tests.store.helpers import raw_execute

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
APP = "tests.crashtest.apps:app"


async def test_a_credit_written_outside_the_job_transaction_is_caught(
    store_url: str, tmp_path: Path
) -> None:
    def credited_once(job: Job) -> None:
        lines = (tmp_path / f"customer-{job.payload['customer']}").read_text().split()
        assert lines == [str(job.id)], f"customer credited {len(lines)} times by job {job.id}"

    async with opened(build(store_url)) as app:
        with pytest.raises(AssertionError) as caught:
            await crashtest(
                app,
                "crash.credit_outside",
                lambda run: Credit(customer=run),
                check=credited_once,
                worker_app=APP,
                runs=4,
                env={"CRASH_COUNTERS": str(tmp_path)},
            )
    message = str(caught.value)
    # The kill between the side effect and the ack is the one that breaks it, and the
    # failure names it.
    assert "[ack #0] just before acking job(s)" in message
    assert "customer credited 2 times" in message


async def test_a_credit_committed_with_the_job_survives_every_kill_point(
    store_url: str,
) -> None:
    raw_execute(store_url, "CREATE TABLE crash_credits (job_id bigint, customer bigint)")

    def credited_once(job: Job) -> None:
        rows = raw_execute(
            store_url, f"SELECT count(*) FROM crash_credits WHERE job_id = {int(job.id)}"
        )
        assert rows[0][0] == 1, f"job {job.id} credited {rows[0][0]} times"
        assert job.state.value == "completed"

    async with opened(build(store_url)) as app:
        report = await crashtest(
            app,
            "crash.credit_in_transaction",
            lambda run: Credit(customer=run),
            check=credited_once,
            worker_app=APP,
            runs=3,
            kills_per_run=2,
        )
    kinds = {kill.kind for run in report.runs for kill in run.kills}
    assert {PointKind.TRANSACTION, PointKind.COMMITTED, PointKind.STATEMENT} <= kinds
    assert report.kills >= 4
    assert not report.failures
