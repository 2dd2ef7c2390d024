"""``conveyor worker --metrics-port`` serves one process: it refuses a supervisor."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conveyor.cli.main import cli


@pytest.mark.parametrize(
    "extra", [["--processes", "2"], ["--max-jobs-per-child", "10"], ["--max-memory-per-child", "9"]]
)
def test_metrics_port_with_several_processes_is_a_usage_error(extra: list[str]) -> None:
    result = CliRunner().invoke(cli, ["worker", "--metrics-port", "9100", *extra])

    assert result.exit_code == 2, result.output
    assert "--metrics-port serves one process" in result.output
