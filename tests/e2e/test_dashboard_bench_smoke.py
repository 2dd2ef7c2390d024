"""The dashboard benchmark on tiny numbers, so that `python -m benchmarks.dashboard`
cannot rot unnoticed: every page it times answers 200 over a seeded store of each kind,
and its table lands between the markers of docs/benchmarks.md."""

from __future__ import annotations

import pytest
from benchmarks.dashboard.__main__ import DOC, END, START, bench_store, table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_every_page_is_timed_over_a_seeded_store(
    backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        request.getfixturevalue("pg_template")  # skips loudly when PostgreSQL is unreachable
    timings = await bench_store(backend, jobs=500, runs=1)

    assert len(timings) == 11  # a page answering anything but 200 is left out
    assert all(t["p50"] > 0 and t["p95"] >= t["p50"] for t in timings.values())
    assert "| `/queues` |" in table({backend: timings}, 500)
    doc = DOC.read_text()
    assert doc.index(START) < doc.index(END)
