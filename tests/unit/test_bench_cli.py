"""Only a full benchmark run may replace the published results."""

from __future__ import annotations

from benchmarks.__main__ import is_full_run
from benchmarks.runner import WORKLOADS


def test_every_workload_and_system_at_full_size_is_a_full_run() -> None:
    assert is_full_run(list(WORKLOADS), None, 1.0, 3)


def test_a_subset_a_scaled_run_or_fewer_runs_is_partial() -> None:
    everything = list(WORKLOADS)
    assert not is_full_run(["W1"], None, 1.0, 3)
    assert not is_full_run(everything, ["conveyor-postgres", "pgqueuer"], 1.0, 3)
    assert not is_full_run(everything, None, 0.1, 1)
    assert not is_full_run(everything, None, 1.0, 1)
