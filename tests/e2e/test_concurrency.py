"""concurrency_limit=1 per tenant over two worker processes: runs of one tenant never
overlap, while different tenants do run side by side."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import pytest

from tests.e2e.flow_apps import Sync, build, two_workers
from tests.e2e.processes import eventually, opened
from tests.store.helpers import raw_execute

pytestmark = pytest.mark.slow


async def test_one_running_job_per_tenant_across_two_processes(store_url: str) -> None:
    async with opened(build(store_url)) as app:
        raw_execute(
            store_url,
            "CREATE TABLE e2e_runs (tenant integer, started double precision, "
            "ended double precision, pid integer)",
        )
        # Six tenants can run at once but each process takes at most four: both must work.
        async with two_workers(app, store_url, "--concurrency", "4"):
            await app.enqueue_many(
                "flow.sync", [Sync(tenant=n % 6, seconds=0.2) for n in range(24)]
            )

            async def all_ran() -> bool:
                return len(raw_execute(store_url, "SELECT tenant FROM e2e_runs")) == 24

            await eventually(all_ran, timeout=90)

        runs = raw_execute(store_url, "SELECT tenant, started, ended, pid FROM e2e_runs")
        by_tenant: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for tenant, started, ended, _ in runs:
            by_tenant[tenant].append((started, ended))
        for intervals in by_tenant.values():
            intervals.sort()
            for (_, ended), (started, _) in pairwise(intervals):
                assert ended <= started  # never two running at once for one tenant
        assert len({pid for *_, pid in runs}) == 2  # both processes ran syncs
        everything = sorted((s, e) for _, s, e, _ in runs)
        assert any(e > s for (_, e), (s, _) in pairwise(everything))  # tenants overlapped
