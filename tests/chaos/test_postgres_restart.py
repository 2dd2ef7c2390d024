"""PostgreSQL restarted mid-drain (a private server, crashed with ``pg_ctl -m immediate``):
no job is lost, work resumes once it is back, and readiness says so while it is down."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from conveyor import Conveyor, JobState
from conveyor.api import create_api
from conveyor.store.factory import open_store
from tests import pg
from tests.chaos.conftest import Report
from tests.chaos.drain import Drain, log_dir
from tests.chaos.private_pg import PrivatePostgres
from tests.chaos.support import LONG, count_in, eventually, scale, start_worker, stop

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900 if LONG else 180)]


async def migrated_database(server: PrivatePostgres) -> str:
    url = server.create_database(pg.unique_name("chaos"))
    store = await open_store(url, migrate=True)
    await store.close()
    return url


async def test_a_postgres_crash_mid_drain_loses_no_job(
    private_pg: PrivatePostgres, tmp_path: Path, chaos_report: Report
) -> None:
    url = await migrated_database(private_pg)
    drain = Drain(url, jobs=scale(1_500, 20_000))
    outage_seconds = scale(2, 10)
    await drain.enqueue(seconds=0.005)
    logs = log_dir(tmp_path)
    workers = [
        start_worker(url, logs / f"w{i}.log", "--concurrency", "20", lease_ttl=5.0)
        for i in range(2)
    ]
    app = Conveyor(url)
    try:

        async def a_third_done() -> bool:
            return await drain.completed() >= drain.jobs // 3

        await eventually(a_third_done, timeout=120, what="a third of the jobs completed")
        held = await count_in(app, JobState.RUNNING)
        done_before = await drain.completed()
        await app.close()
        private_pg.stop("immediate")
        await asyncio.sleep(outage_seconds)  # the outage itself, not a wait for a condition
        private_pg.start()
        back = time.monotonic()

        async def resumed() -> bool:
            return await drain.completed() > done_before

        await eventually(resumed, timeout=120, what="a completion after the restart")
        resumed_after = time.monotonic() - back

        async def drained() -> bool:
            return await drain.completed() == drain.jobs

        await eventually(drained, timeout=scale(120, 600), what="every job completed")
    finally:
        codes = [stop(worker) for worker in workers]
        await app.close()
    figures = await drain.figures()
    drain.held_at_faults = held
    chaos_report(
        outage_s=outage_seconds,
        held_at_crash=held,
        resumed_after_s=round(resumed_after, 2),
        **{**figures, "held_at_faults": held},
    )
    assert codes == [0, 0]
    assert figures["lost"] == 0
    assert figures["ran_twice"] <= held


async def test_readiness_answers_503_at_once_while_postgres_is_down(
    private_pg: PrivatePostgres, chaos_report: Report
) -> None:
    url = await migrated_database(private_pg)
    app = Conveyor(url, api_token=None)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(app)), base_url="http://test"
    )
    try:
        assert (await client.get("/health/ready")).status_code == 200
        private_pg.stop("immediate")
        try:
            answers = []
            # Twice: once on the pooled connection that just broke, once needing a new one.
            # The hang guard sits well under the pool's 30 s timeout: readiness must not
            # wait on the pool.
            for _ in range(2):
                started = time.monotonic()
                answers.append(await asyncio.wait_for(client.get("/health/ready"), timeout=5))
                chaos_report(
                    status=answers[-1].status_code,
                    answered_s=round(time.monotonic() - started, 2),
                )
        finally:
            private_pg.start()
        for down in answers:
            assert down.status_code == 503, down.text
            assert "postgresql://" not in down.text and str(private_pg.port) not in down.text

        async def ready_again() -> bool:
            return (await client.get("/health/ready")).status_code == 200

        await eventually(ready_again, timeout=60, what="ready after the restart")
    finally:
        await client.aclose()
        await app.close()
