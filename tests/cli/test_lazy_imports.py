"""What ``conveyor`` imports: the command line loads a command's modules only when it runs,
and a worker never loads the API, metrics, alert delivery or rich (no timing here: the
test asserts which modules a process holds)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import conveyor
from conveyor import JobState
from tests.cli.conftest import SUBPROCESS_TIMEOUT
from tests.cli.modules_app import UNNEEDED, Nothing, build

ONE_JOB_WORKER = [
    *(sys.executable, "-m", "conveyor.cli", "worker", "--supervised", "--no-scheduler"),
    *("--max-jobs-per-child", "1", "--queues", "modules"),
]
# What no command needs before it runs: the app's own modules come with the app.
NOT_AT_IMPORT = UNNEEDED | {"pydantic", "pydantic_settings", "psycopg", "psycopg_pool", "cronsim"}


def test_importing_the_command_line_loads_no_app_api_or_rich() -> None:
    code = (
        "import sys, json, conveyor.cli.main; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "click" in loaded  # the probe sees what was imported
    assert sorted(loaded & NOT_AT_IMPORT) == []


async def test_a_worker_runs_a_job_without_the_api_metrics_alerts_or_rich(
    store_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    app = build(store_url)
    job = await app.enqueue("modules.report", Nothing())
    try:
        done = subprocess.run(
            ONE_JOB_WORKER,
            cwd=tmp_path,
            env={**cli_env, "CONVEYOR_APP": "tests.cli.modules_app:app"},
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
        assert done.returncode == 0, done.stderr
        finished = await app.get_job(job.id)
    finally:
        await app.close()
    assert finished.state is JobState.COMPLETED, finished.errors
    # Collection was off while the app loaded; it must be back on for the jobs.
    assert finished.result == {"unneeded": [], "gc_enabled": True}


def test_every_public_name_is_the_object_its_module_defines() -> None:
    for name in conveyor.__all__:
        module = importlib.import_module(conveyor._ORIGINS[name])
        assert getattr(conveyor, name) is getattr(module, name), name
    assert set(conveyor.__all__) <= set(dir(conveyor))
    assert set(conveyor._ORIGINS) == set(conveyor.__all__)
