"""The benchmark harness on tiny numbers, so that `make bench` cannot rot unnoticed.

It measures nothing worth reading: it checks that every workload runs end to end against
real worker processes, that the results file has the shape the report expects, and that
the report lands between the markers of the docs and the README.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from benchmarks.report import END, START, full_table, render
from benchmarks.runner import run
from benchmarks.workloads import Sizes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

TINY = Sizes(
    drain_jobs=40,
    latency_jobs=10,
    latency_per_second=200.0,
    io_jobs=20,
    bulk_jobs=50,
    history_jobs=200,
    memory_jobs=40,
    memory_warmup_jobs=10,
    warmup_jobs=5,
    processes=1,
    timeout_seconds=60.0,
)


async def _run(tmp_path: Path, workloads: list[str], systems: list[str]) -> dict[str, object]:
    out = tmp_path / "latest.json"
    document = await run(
        workload_names=workloads,
        system_names=systems,
        sizes=TINY,
        runs=1,
        out=out,
        command="pytest smoke",
        log=lambda line: None,
    )
    assert document["errors"] == []
    assert json.loads(out.read_text()) == json.loads(json.dumps(document, default=list))
    return document


async def test_every_workload_runs_on_conveyor_sqlite(tmp_path: Path) -> None:
    every = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"]
    document = await _run(tmp_path, every, ["conveyor-sqlite"])
    results = document["results"]
    assert isinstance(results, dict)
    expected = {"W1", "W2 p50", "W2 p95", "W2 p99", "W3", "W4", "W5/1", "W6", "W7 growth"}
    expected |= {"W7 rss", "W8"}
    assert set(results) == expected
    for metric in expected:
        cell = results[metric]["conveyor-sqlite"]
        assert cell["min"] <= cell["median"] <= cell["max"]
        if metric != "W7 growth":  # memory may shrink
            assert cell["median"] > 0


async def test_conveyor_and_pgqueuer_on_postgres(pg_template: str, tmp_path: Path) -> None:
    document = await _run(tmp_path, ["W1", "W4", "W6"], ["conveyor-postgres", "pgqueuer"])
    results = document["results"]
    assert isinstance(results, dict)
    for metric in ("W4", "W6"):
        assert set(results[metric]) == {"conveyor-postgres", "pgqueuer"}
    # W1 also carries this machine's raw ceiling of each store (benchmarks/limits).
    limits = {"limit-postgres", "limit-sqlite"}
    assert set(results["W1"]) == {"conveyor-postgres", "pgqueuer", *limits}
    for name in limits:
        assert results["W1"][name]["median"] > 0
    w1_row = next(line for line in full_table(document).splitlines() if "W1 drain" in line)
    assert w1_row.rstrip(" |").endswith("(postgres)")


async def test_report_is_written_between_the_markers(tmp_path: Path) -> None:
    document = await _run(tmp_path, ["W4"], ["conveyor-sqlite"])
    docs, readme = tmp_path / "benchmarks.md", tmp_path / "README.md"
    shutil.copy(ROOT / "docs" / "benchmarks.md", docs)
    shutil.copy(ROOT / "README.md", readme)
    render(tmp_path / "latest.json", docs, readme)
    for path in (docs, readme):
        text = path.read_text()
        table = text.split(START, 1)[1].split(END, 1)[0]
        assert "W4 bulk enqueue" in table
        assert str(document["generated_at"]) in table
