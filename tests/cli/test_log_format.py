"""``CONVEYOR_LOG_FORMAT=json``: a real ``conveyor worker`` prints one JSON object per line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import SUBPROCESS_TIMEOUT
from tests.cli.logging_app import Note, build

ONE_JOB_WORKER = [
    *(sys.executable, "-m", "conveyor.cli", "worker", "--supervised", "--no-scheduler"),
    *("--max-jobs-per-child", "1", "--queues", "notes"),
]


async def test_json_lines_carry_the_job_fields(
    store_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    app = build(store_url)
    job = await app.enqueue("log.note", Note(text="hello"))
    await app.close()
    env = {**cli_env, "CONVEYOR_APP": "tests.cli.logging_app:app", "CONVEYOR_LOG_FORMAT": "json"}
    done = subprocess.run(
        ONE_JOB_WORKER,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert records
    for record in records:
        assert {"time", "level", "message", "logger"} <= record.keys()
    (noted,) = [r for r in records if r["logger"] == "tests.logging_app"]
    assert noted["message"] == "noting hello"
    assert noted["level"] == "INFO"
    assert noted["job_id"] == job.id
    assert noted["task"] == "log.note"
    assert noted["attempt"] == 1
    assert noted["queue"] == "notes"
    assert noted["worker_id"]
    outside = [r for r in records if r["logger"] != "tests.logging_app"]
    assert outside and all("job_id" not in r for r in outside)


async def test_the_default_stays_human_readable(
    store_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    app = build(store_url)
    await app.enqueue("log.note", Note(text="plain"))
    await app.close()
    env = {**cli_env, "CONVEYOR_APP": "tests.cli.logging_app:app"}
    env.pop("CONVEYOR_LOG_FORMAT", None)
    done = subprocess.run(
        ONE_JOB_WORKER,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert any("INFO tests.logging_app: noting plain" in line for line in lines), lines
    assert not any(line.startswith("{") for line in lines)
